"""`ganfix paint GEN --layer L`: paint objects in or out with a class's causal units (a local page);
`--replay edits.json --out DIR` re-renders a saved edit list without a browser."""
from __future__ import annotations

from pathlib import Path
from typing import List, Optional

import typer

from ..errors import UsageError
from .common import (GenOptions, JsonOpt, OpenOpt, PortOpt, SeedOpt, cli_progress, console_for, generator_options,
                     handle_errors, optional_gen_arg, print_json, serve_page)


@handle_errors
@generator_options
def paint(
    gen: Optional[str] = optional_gen_arg("with --replay: default the edit list's model"),
    segmenter: Optional[str] = typer.Option(None, "--segmenter", help="Built-in segmenter name or path/to/file.py:factory; required except for built-in generators, which name their own (toyscenes for the toy generator)."),
    layer: Optional[str] = typer.Option(None, "--layer", "-l", help="Layer whose feature grid is painted (e.g. layer4)."),
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
    port: int = PortOpt,
    force: bool = typer.Option(False, "--force", help="Replay an edit list made for another model fingerprint."),
    open_browser: bool = OpenOpt,
    batch_size: int = typer.Option(32, "--batch-size", "-b"),
    no_cache: bool = typer.Option(False, "--no-cache", help="Recompute the palette."),
    gen_opts: GenOptions = None,
    json_output: bool = JsonOpt,
) -> None:
    """Paint objects in or out: insert (add) or ablate (remove) a class's causal units where you paint."""
    from ..pages import check_port
    from ..paint import replay, start_painting

    console = console_for(json_output)
    check_port(port)
    if replay_file is not None:
        result = replay(replay_file, out, gen_opts.load(gen) if gen is not None else None, segmenter, force,
                        load=gen_opts.load)
        return print_json(result) if json_output else render_replay(console, replay_file, result)
    if gen is None or layer is None:
        raise UsageError("give a generator and --layer (e.g. ganfix paint toyscenes --layer layer4), or --replay edits.json")
    painting = start_painting(gen_opts.load(gen), layer, segmenter, classes=classes, units=units, n=n, select=select,
                              insert_value=insert_value, samples=samples, seed=seed, sample=sample,
                              batch_size=batch_size, use_cache=not no_cache, progress=cli_progress)
    serve(painting, out, port, open_browser, json_output, console)


def render_replay(console, replay_file: Path, result: dict) -> None:
    change = result["counts"].get("change", {})
    console.print(f"replayed {replay_file} → {result['image']} ({result['seconds']:.2f} s); segmenter pixel change: "
                  + ", ".join(f"{k} {v:+d}" for k, v in change.items() if v), highlight=False)


def serve(painting, out, port, open_browser, json_output, console) -> None:
    from ..pages.paint import PaintSession, paint_page

    palette = {e.name: e.units for e in painting.palette.entries}
    serve_page(paint_page(PaintSession(painting, out)), "paint page", port, open_browser, console, json_output,
               {"out": str(out), "palette": palette},
               ["palette: " + "; ".join(f"{k} {', '.join(map(str, v))}" for k, v in palette.items()),
                f"saves go to {out}; Ctrl-C to stop"], lambda: "stopped")


def register(app: typer.Typer) -> None:
    app.command("paint")(paint)
