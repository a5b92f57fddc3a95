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
from .common import (GenArg, GenOptions, JsonOpt, OpenOpt, PortOpt, console_for, err_console, option_group, parse_ints,
                     preflight, print_json, serve_page, warn_if_near_constant)
from .. import defaults
from .scan_opts import PassOptions, ScanOptions, ranking_command


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


def report_marks(aset, path, set_name, console, json_output) -> None:
    if json_output:
        print_json({"file": str(path), "layer": aset.layer, "set": set_name, "units": list(aset.units)})
    else:
        console.print(f"{path}: {len(aset.units)} unit(s) in set {set_name!r}: {', '.join(map(str, aset.units)) or 'none'}")


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

    serve_page(labelling_page(LabelSession(aset, Path(path), manifest, out_dir)), "labelling page", port, open_browser,
               console, json_output, {"annotations": str(path), "sheets": str(out_dir)},
               [f"labels are saved to {path} on every change; Ctrl-C to stop"],
               lambda: f"stopped; {len(aset.units)} unit(s) marked in {path}")


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
    ("port", PortOpt, int),
    ("no_serve", typer.Option(False, "--no-serve", help="Write the static sheets and index.html only."), bool),
    ("open_browser", OpenOpt, bool)])


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
    mark: Optional[str] = typer.Option(None, "--mark", help="Mark these units (e.g. 12,45,77) in the annotation set, then exit: no sheets, no page (run without --mark for those)."),
    unmark: Optional[str] = typer.Option(None, "--unmark", help="Unmark these units in the annotation set, then exit (no sheets, no page)."),
    text: Optional[str] = typer.Option(None, "--text", help="With --mark: the free-text label for those units."),
    force: bool = typer.Option(False, "--force", help="Open a set made for another model fingerprint anyway."),
    scan_opts: ScanOptions = None,
    gen_opts: GenOptions = None,
    json_output: bool = JsonOpt,
) -> None:
    """Contact sheets of a layer's units and a local page to label them (saved as an annotation set)."""
    from ..sheets import build_sheets
    from ..workflow.annotate import default_sheets_dir, mark_units, open_set, sheet_ranking

    check_args(run, page.port, text, mark)
    preflight(files=((annotations, "--annotations"),))
    console, g, layer = console_for(json_output), gen_opts.load(gen), run.layer
    g.layer(layer)
    to_mark, to_unmark = parse_units(mark, "--mark", g, layer), parse_units(unmark, "--unmark", g, layer)
    source = {"ranking": run.by, "samples": run.samples, "seed": run.seed}
    if to_mark or to_unmark:
        if page.out is not None or page.no_serve:
            err_console.print("note: --mark/--unmark only record labels; no sheets are written (run without them for "
                              "the sheets)", highlight=False, soft_wrap=True)
        return report_marks(*mark_units(g, layer, to_mark, to_unmark, text, set_name, annotations, force, source),
                            set_name, console, json_output)
    aset, path = open_set(g, layer, set_name, annotations, force, source)
    out_dir = page.out or default_sheets_dir(g, layer, set_name)
    ranking = sheet_ranking(g, layer, run.by, **run.rank_kwargs(), **scan_opts.for_ranking(run.by))
    with sheets_progress(err_console) as update:
        manifest = build_sheets(g, layer, out_dir, samples=run.samples, seed=run.seed, by=run.by, k=run.k,
                                batch_size=run.batch_size, ranking=ranking, use_cache=not run.no_cache,
                                progress=update, **asdict(sheet))
    warn_if_near_constant(g)
    if page.no_serve:
        return report_sheets(manifest, out_dir, console, json_output)
    serve(aset, path, manifest, out_dir, page.port, page.open_browser, console, json_output)


def register(app: typer.Typer) -> None:
    app.command("annotate")(annotate)


def check_args(run, port, text, mark) -> None:
    from ..pages import check_port
    from ..ranking import get_ranker

    check_sample_args(run.samples, run.batch_size, run.k)
    get_ranker(run.by)
    check_port(port)
    if text is not None and mark is None:
        raise UsageError("--text labels the units given with --mark; add --mark UNITS")
