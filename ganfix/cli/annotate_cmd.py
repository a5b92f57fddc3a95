"""`ganfix annotate GEN --layer L`: contact sheets + a local labelling page that saves an annotation set.

`--no-serve` writes the sheets only; `--mark/--unmark` edit the set without sheets or a browser.
"""
from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

from ..errors import UsageError
from ..stats.tally import check_sample_args
from .common import (GenArg, GenOptions, JsonOpt, SeedOpt, console_for, err_console, generator_options, handle_errors,
                     parse_ints, print_json)
from .scan_opts import ABLATION, BY_HELP, ScanOptions, ranking_names, run_scan, scan_options, scan_real_source


def open_set(g, layer: str, set_name: str, path: Path, force: bool, source: dict):
    """The annotation set at `path` (checked against this model and layer), or a new empty one."""
    from ..annotations import AnnotationSet

    if path.exists():
        aset = AnnotationSet.load(path)
        aset.check_model(g, force=force)
        aset.check_layer(layer)
        return aset
    return AnnotationSet.new(g, layer, set_name, source=source)


def parse_units(text: Optional[str], name: str, g, layer: str) -> list[int]:
    if text is None:
        return []
    units = list(parse_ints(text, name) or ())
    if not units:
        raise UsageError(f"{name} needs at least one unit, e.g. {name} 12,45,77")
    return g.check_units(layer, units)


def sheets_progress(console):
    """Bars on a terminal, plain periodic lines per stage when piped (CI logs)."""
    from ..progress import StagedProgress

    bar = StagedProgress(console)
    return bar, bar


def register(app: typer.Typer) -> None:
    @app.command("annotate")
    @handle_errors
    @generator_options
    @scan_options
    def annotate(
        gen: str = GenArg,
        layer: str = typer.Option(..., "--layer", "-l", help="Layer whose units to label (see `ganfix layers GEN`)."),
        samples: int = typer.Option(2000, "--samples", "-n", help="Samples in the ranking pass (top-k come from these)."),
        seed: int = SeedOpt,
        by: str = typer.Option("max", "--by", help=f"Ranking order of the units: {', '.join(ranking_names())}. {BY_HELP}"),
        k: int = typer.Option(10, "--k", help="Top samples shown per unit."),
        quantile: float = typer.Option(0.99, "--quantile", help="Per-unit activation quantile that outlines where a unit fires."),
        top: Optional[int] = typer.Option(None, "--top", help="Only the top N units in ranking order (default: all)."),
        group_size: int = typer.Option(10, "--group-size", help="Units per grouped sheet."),
        annotations: Optional[Path] = typer.Option(None, "--annotations", "-a", help="Annotation set file (default annotations/<model>/<layer>-<set>.json)."),
        set_name: str = typer.Option("artifacts", "--set", help="Name of the annotation set."),
        out: Optional[Path] = typer.Option(None, "--out", "-o", help="Folder for the sheets (default sheets/<model>/<layer>)."),
        port: int = typer.Option(0, "--port", help="Local port of the labelling page (0: any free port)."),
        no_serve: bool = typer.Option(False, "--no-serve", help="Write the static sheets and index.html only."),
        mark: Optional[str] = typer.Option(None, "--mark", help="Mark these units (e.g. 12,45,77) without a browser, then exit."),
        unmark: Optional[str] = typer.Option(None, "--unmark", help="Unmark these units without a browser, then exit."),
        text: Optional[str] = typer.Option(None, "--text", help="With --mark: the free-text label for those units."),
        force: bool = typer.Option(False, "--force", help="Open a set made for another model fingerprint anyway."),
        open_browser: bool = typer.Option(False, "--open", help="Also open the page in the default browser."),
        batch_size: int = typer.Option(64, "--batch-size", "-b", help="Batch size (results do not depend on it)."),
        no_cache: bool = typer.Option(False, "--no-cache", help="Recompute statistics and sheets."),
        scan_opts: ScanOptions = None,
        gen_opts: GenOptions = None,
        json_output: bool = JsonOpt,
    ) -> None:
        """Contact sheets of a layer's units and a local page to label them (saved as an annotation set)."""
        from ..preflight import check_at_least, check_cache_writable, check_output_dir, check_output_file  # noqa: F401
        check_output_dir(out)
        check_output_file(annotations, "--annotations")
        check_cache_writable(not no_cache)
        from ..annotations import default_annotation_path

        check_sample_args(samples, batch_size, k)
        if by not in ranking_names():
            raise UsageError(f"unknown ranking {by!r}; choose one of: {', '.join(ranking_names())}")
        if not 0 <= port <= 65535:
            raise UsageError(f"--port must be in 0…65535, got {port}")
        if text is not None and mark is None:
            raise UsageError("--text labels the units given with --mark; add --mark UNITS")
        console = console_for(json_output)
        g = gen_opts.load(gen)
        g.layer(layer)
        to_mark, to_unmark = parse_units(mark, "--mark", g, layer), parse_units(unmark, "--unmark", g, layer)
        if set(to_mark) & set(to_unmark):
            raise UsageError(f"units both in --mark and --unmark: {', '.join(map(str, sorted(set(to_mark) & set(to_unmark))))}")
        path = annotations or default_annotation_path(g, layer, set_name)
        source = {"ranking": by, "samples": samples, "seed": seed}
        aset = open_set(g, layer, set_name, Path(path), force, source)

        if to_mark or to_unmark:  # scripted labelling: no sheets, no server
            from ..annotations import update_file

            def apply(s):
                for u in to_mark:
                    s.mark(u, marked=True, text=text)
                for u in to_unmark:
                    s.mark(u, marked=False)

            # Read-merge-write under the set's lock: an open labelling page's saves are kept, and it keeps ours.
            aset, _ = update_file(path, aset, apply)
            if json_output:
                print_json({"file": str(path), "layer": layer, "set": set_name, "units": list(aset.units)})
            else:
                console.print(f"{path}: {len(aset.units)} unit(s) in set {set_name!r}: {', '.join(map(str, aset.units)) or 'none'}")
            return

        from ..pages import LabelSession, PageServer, labelling_page
        from ..sheets import build_sheets

        out_dir = out or Path("sheets") / default_annotation_path(g, layer, set_name).parent.name / layer
        ranking = None
        if by == ABLATION:
            scan = run_scan(g, layer, None, seed, scan_opts, scan_real_source(g, scan_opts), batch_size, not no_cache)
            ranking = scan.ranking()
        bar, update = sheets_progress(err_console)
        with bar:
            manifest = build_sheets(g, layer, out_dir, samples=samples, seed=seed, by=by, quantile=quantile, k=k,
                                    group_size=group_size, top=top, batch_size=batch_size, ranking=ranking,
                                    use_cache=not no_cache, progress=update)
        index = out_dir / "index.html"
        if no_serve:
            if json_output:
                print_json({"sheets": str(out_dir), "index": str(index), "units": len(manifest["units"]),
                            "groups": [str(out_dir / gr["file"]) for gr in manifest["groups"]]})
            else:
                console.print(f"wrote {len(manifest['units'])} unit sheets and {len(manifest['groups'])} grouped sheets; open {index}")
            return
        if not Path(path).exists():
            aset.save(path)  # the page edits a file that exists from the start
        session = LabelSession(aset, Path(path), manifest, out_dir)
        with PageServer(labelling_page(session), port=port) as server:
            if json_output:
                print_json({"url": server.url, "annotations": str(path), "sheets": str(out_dir)})
            else:
                console.print(f"labelling page: [bold]{server.url}[/]", soft_wrap=True, highlight=False)
                console.print(f"labels are saved to {path} on every change; Ctrl-C to stop", highlight=False, soft_wrap=True)
            if open_browser:
                import webbrowser
                webbrowser.open(server.url)
            try:
                server.wait()
            except KeyboardInterrupt:
                err_console.print(f"stopped; {len(aset.units)} unit(s) marked in {path}")
