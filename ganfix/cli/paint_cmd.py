"""`ganfix paint GEN --layer L`: paint objects in or out with a class's causal units (a local page);
`--replay edits.json --out DIR` re-renders a saved edit list without a browser."""
from __future__ import annotations

from pathlib import Path
from typing import List, Optional

import typer

from ..errors import UsageError
from .common import (GenOptions, JsonOpt, SeedOpt, console_for, err_console, generator_options, handle_errors, print_json,
                     serve_page)


def register(app: typer.Typer) -> None:
    @app.command("paint")
    @handle_errors
    @generator_options
    def paint(
        gen: Optional[str] = typer.Argument(None, metavar="[GEN]", help="Generator spec (with --replay: default the edit list's model)."),
        layer: Optional[str] = typer.Option(None, "--layer", "-l", help="Layer whose feature grid is painted (e.g. layer4)."),
        segmenter: Optional[str] = typer.Option(None, "--segmenter", help="Built-in segmenter name or path/to/file.py:factory; required except for built-in generators, which name their own (toyscenes for the toy generator)."),
        classes: Optional[str] = typer.Option(None, "--classes", help="Palette classes, e.g. tree,door,window (default: every class with units at the layer)."),
        units: Optional[List[str]] = typer.Option(None, "--units", help="Explicit units for a class, e.g. tree:48,9,38 (repeatable); skips the search for it."),
        n: int = typer.Option(8, "--n", help="Causal units per class."),
        select: str = typer.Option("iou", "--select", help="Unit search: iou (dissection rank) or ace (single-unit ACE among the top IoU units; slower)."),
        insert_value: str = typer.Option("q0.99", "--insert-value", help="Insertion value per unit: q<quantile> of its activations, or mean (where the class is present)."),
        samples: int = typer.Option(200, "--samples", "-n", help="Samples for the unit search and insertion values (cached)."),
        seed: int = SeedOpt,
        sample: int = typer.Option(0, "--sample", help="Latent id shown first (the page can change it)."),
        out: Path = typer.Option(Path("paint"), "--out", "-o", help="Saves go here (with --replay: the output folder)."),
        replay_file: Optional[Path] = typer.Option(None, "--replay", help="Re-render this edit list into --out and exit."),
        port: int = typer.Option(0, "--port", help="Local port of the page (0: any free port)."),
        force: bool = typer.Option(False, "--force", help="Replay an edit list made for another model fingerprint."),
        open_browser: bool = typer.Option(False, "--open", help="Also open the page in the default browser."),
        batch_size: int = typer.Option(32, "--batch-size", "-b"),
        no_cache: bool = typer.Option(False, "--no-cache", help="Recompute the palette."),
        gen_opts: GenOptions = None,
        json_output: bool = JsonOpt,
    ) -> None:
        """Paint objects in or out: insert (add) or ablate (remove) a class's causal units where you paint."""
        from ..paint import Painting, find_palette, parse_unit_spec, replay
        from ..segmenters import load_segmenter, require_segmenter
        from ..stats.tally import check_sample_args

        console = console_for(json_output)
        if not 0 <= port <= 65535:
            raise UsageError(f"--port must be in 0…65535, got {port}")
        if replay_file is not None:
            seg = load_segmenter(segmenter) if segmenter is not None else None  # None: a built-in's own (or no counts)
            g = gen_opts.load(gen) if gen is not None else None
            result = replay(replay_file, out, g, seg, force, load=gen_opts.load)
            if json_output:
                print_json(result)
            else:
                change = result["counts"].get("change", {})
                console.print(f"replayed {replay_file} → {result['image']} ({result['seconds']:.2f} s); segmenter pixel change: "
                              + ", ".join(f"{k} {v:+d}" for k, v in change.items() if v), highlight=False)
            return
        if gen is None or layer is None:
            raise UsageError("give a generator and --layer (e.g. ganfix paint toyscenes --layer layer4), or --replay edits.json")
        check_sample_args(samples, batch_size)
        fixed = dict(parse_unit_spec(u) for u in units or [])
        wanted = [c.strip() for c in classes.split(",") if c.strip()] if classes else None
        g = gen_opts.load(gen)
        seg = load_segmenter(require_segmenter(g, segmenter))
        from ..progress import progress

        with progress("palette: causal units", len(wanted or seg.class_names), err_console) as step:
            pal = find_palette(g, seg, layer, wanted, n, samples, seed, batch_size, fixed, select, insert_value,
                               use_cache=not no_cache, on_step=step)
        painting = Painting(g, layer, pal, seg, seed, 0)
        painting.new_sample(sample)
        _serve(painting, out, port, open_browser, json_output, console)


def _serve(painting, out, port, open_browser, json_output, console) -> None:
    from ..pages.paint import PaintSession, paint_page

    session = PaintSession(painting, out)
    palette = {e.name: e.units for e in painting.palette.entries}

    def announce(url: str) -> None:
        if json_output:
            return print_json({"url": url, "out": str(out), "palette": palette})
        console.print(f"paint page: [bold]{url}[/]", soft_wrap=True, highlight=False)
        console.print("palette: " + "; ".join(f"{k} {', '.join(map(str, v))}" for k, v in palette.items()),
                      highlight=False, soft_wrap=True)
        console.print(f"saves go to {out}; Ctrl-C to stop", highlight=False)

    serve_page(paint_page(session), port, open_browser, announce, lambda: err_console.print("stopped"))
