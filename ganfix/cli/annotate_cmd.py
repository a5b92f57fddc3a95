"""`ganfix annotate GEN --layer L`: contact sheets + a local labelling page that saves an annotation set.

`--no-serve` writes the sheets only; `--mark/--unmark` edit the set without sheets or a browser.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Optional

import typer

from ..errors import UsageError
from ..stats.tally import check_sample_args
from .common import (GenArg, GenOptions, JsonOpt, console_for, err_console, option_group, parse_ints, preflight,
                     print_json, serve_page)
from .. import defaults
from .scan_opts import PassOptions, ScanOptions, ranking_command


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
    """One bar per stage of the sheets (tally, generate, draw) on a terminal, plain periodic lines per stage when
    piped (CI logs); used as `with sheets_progress(c) as update: update(stage, n, total)`."""
    from ..progress import StagedProgress

    return StagedProgress(console)


def scripted_marks(aset, path, set_name, to_mark, to_unmark, text, console, json_output) -> None:
    """--mark/--unmark: record labels without sheets or a browser."""
    from ..annotations import update_file

    def apply(s):
        for u in to_mark:
            s.mark(u, marked=True, text=text)
        for u in to_unmark:
            s.mark(u, marked=False)

    # Read-merge-write under the set's lock: an open labelling page's saves are kept, and it keeps ours.
    aset, _ = update_file(path, aset, apply)
    if json_output:
        print_json({"file": str(path), "layer": aset.layer, "set": set_name, "units": list(aset.units)})
    else:
        console.print(f"{path}: {len(aset.units)} unit(s) in set {set_name!r}: {', '.join(map(str, aset.units)) or 'none'}")


def sheet_ranking(g, layer, run, scan_opts):
    """A ranking to order the sheets by when `by` is not computed from the statistics pass (ablation, iou, ace);
    None lets the sheets rank by the statistics they tally anyway."""
    from ..ranking import StatsRanker, get_ranker
    from ..workflow.rank import rank

    if isinstance(get_ranker(run.by)[0], StatsRanker):
        return None
    return rank(g, layer, run.by, with_stats=False, **run.rank_kwargs(), **scan_opts.for_ranking(run.by))


def report_sheets(manifest, out_dir, console, json_output) -> None:
    index = out_dir / "index.html"
    if json_output:
        print_json({"sheets": str(out_dir), "index": str(index), "units": len(manifest["units"]),
                    "groups": [str(out_dir / gr["file"]) for gr in manifest["groups"]]})
    else:
        console.print(f"wrote {len(manifest['units'])} unit sheets and {len(manifest['groups'])} grouped sheets; open {index}")


def serve(aset, path, manifest, out_dir, port, open_browser, console, json_output) -> None:
    """The labelling page on 127.0.0.1 until Ctrl-C; every change is saved to `path`."""
    from ..pages import LabelSession, labelling_page

    if not Path(path).exists():
        aset.save(path)  # the page edits a file that exists from the start

    def announce(url: str) -> None:
        if json_output:
            return print_json({"url": url, "annotations": str(path), "sheets": str(out_dir)})
        console.print(f"labelling page: [bold]{url}[/]", soft_wrap=True, highlight=False)
        console.print(f"labels are saved to {path} on every change; Ctrl-C to stop", highlight=False, soft_wrap=True)

    serve_page(labelling_page(LabelSession(aset, Path(path), manifest, out_dir)), port, open_browser, announce,
               lambda: err_console.print(f"stopped; {len(aset.units)} unit(s) marked in {path}"))


@dataclass(frozen=True)
class SheetOptions:
    """How the contact sheets are drawn."""
    quantile: float = defaults.SHEET_QUANTILE
    top: Optional[int] = None
    group_size: int = defaults.SHEET_GROUP_SIZE


sheet_options = option_group("sheet", SheetOptions, [
    ("quantile", typer.Option(defaults.SHEET_QUANTILE, "--quantile", help="Per-unit activation quantile that outlines where a unit fires."), float),
    ("top", typer.Option(None, "--top", help="Only the top N units in ranking order (default: all)."), Optional[int]),
    ("group_size", typer.Option(defaults.SHEET_GROUP_SIZE, "--group-size", help="Units per grouped sheet."), int)])


@dataclass(frozen=True)
class PageOptions:
    """Where the sheets go and how the labelling page is served."""
    out: Optional[Path] = None
    port: int = 0
    no_serve: bool = False
    open_browser: bool = False


page_options = option_group("page", PageOptions, [
    ("out", typer.Option(None, "--out", "-o", help="Folder for the sheets (default sheets/<model>/<layer>)."), Optional[Path]),
    ("port", typer.Option(0, "--port", help="Local port of the labelling page (0: any free port)."), int),
    ("no_serve", typer.Option(False, "--no-serve", help="Write the static sheets and index.html only."), bool),
    ("open_browser", typer.Option(False, "--open", help="Also open the page in the default browser."), bool)])


@ranking_command
@sheet_options
@page_options
def annotate(
    gen: str = GenArg,
    run: PassOptions = None,
    sheet: SheetOptions = None,
    page: PageOptions = None,
    annotations: Optional[Path] = typer.Option(None, "--annotations", "-a", help="Annotation set file (default annotations/<model>/<layer>-<set>.json)."),
    set_name: str = typer.Option("artifacts", "--set", help="Name of the annotation set."),
    mark: Optional[str] = typer.Option(None, "--mark", help="Mark these units (e.g. 12,45,77) without a browser, then exit."),
    unmark: Optional[str] = typer.Option(None, "--unmark", help="Unmark these units without a browser, then exit."),
    text: Optional[str] = typer.Option(None, "--text", help="With --mark: the free-text label for those units."),
    force: bool = typer.Option(False, "--force", help="Open a set made for another model fingerprint anyway."),
    scan_opts: ScanOptions = None,
    gen_opts: GenOptions = None,
    json_output: bool = JsonOpt,
) -> None:
    """Contact sheets of a layer's units and a local page to label them (saved as an annotation set)."""
    from ..annotations import default_annotation_path
    from ..sheets import build_sheets

    check_args(run, page.port, text, mark)
    preflight(files=((annotations, "--annotations"),))
    console, g, layer = console_for(json_output), gen_opts.load(gen), run.layer
    to_mark, to_unmark = marks(g, layer, mark, unmark)
    path = annotations or default_annotation_path(g, layer, set_name)
    aset = open_set(g, layer, set_name, Path(path), force, {"ranking": run.by, "samples": run.samples, "seed": run.seed})
    if to_mark or to_unmark:
        return scripted_marks(aset, path, set_name, to_mark, to_unmark, text, console, json_output)
    out_dir = page.out or Path("sheets") / default_annotation_path(g, layer, set_name).parent.name / layer
    ranking = sheet_ranking(g, layer, run, scan_opts)
    with sheets_progress(err_console) as update:
        manifest = build_sheets(g, layer, out_dir, samples=run.samples, seed=run.seed, by=run.by, k=run.k,
                                batch_size=run.batch_size, ranking=ranking, use_cache=not run.no_cache,
                                progress=update, **asdict(sheet))
    if page.no_serve:
        return report_sheets(manifest, out_dir, console, json_output)
    serve(aset, path, manifest, out_dir, page.port, page.open_browser, console, json_output)


def register(app: typer.Typer) -> None:
    app.command("annotate")(annotate)


def check_args(run, port, text, mark) -> None:
    from ..ranking import get_ranker

    check_sample_args(run.samples, run.batch_size, run.k)
    get_ranker(run.by)
    if not 0 <= port <= 65535:
        raise UsageError(f"--port must be in 0…65535, got {port}")
    if text is not None and mark is None:
        raise UsageError("--text labels the units given with --mark; add --mark UNITS")


def marks(g, layer, mark, unmark) -> tuple[list[int], list[int]]:
    g.layer(layer)
    to_mark, to_unmark = parse_units(mark, "--mark", g, layer), parse_units(unmark, "--unmark", g, layer)
    both = set(to_mark) & set(to_unmark)
    if both:
        raise UsageError(f"units both in --mark and --unmark: {', '.join(map(str, sorted(both)))}")
    return to_mark, to_unmark
