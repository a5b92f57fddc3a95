"""`ganfix study`: a two-alternative preference study page (original vs patched, original vs random),
and `--report DIR` for its preferences with 95 % intervals."""
from __future__ import annotations

from pathlib import Path
from typing import List, Optional

import typer
from rich.table import Table

from ..errors import UsageError
from .common import (GenOptions, JsonOpt, OpenOpt, PortOpt, SeedOpt, cli_progress, console_for, generator_options,
                     handle_errors, optional_gen_arg, print_json, serve_page)


@handle_errors
@generator_options
def study(
    gen: Optional[str] = optional_gen_arg("not needed with --report"),
    annotations: Optional[Path] = typer.Option(None, "--annotations", "-a", help="Annotation set whose marked units the patch ablates."),
    repair: Optional[Path] = typer.Option(None, "--repair", help="A `ganfix repair --out` folder: its patch.json (and its first random draw)."),
    out: Path = typer.Option(Path("study"), "--out", "-o", help="Study folder: study.json, images/, answers*.jsonl."),
    samples: int = typer.Option(100, "--samples", "-n", help="Latents M; each gives two pairs (vs patched, vs random)."),
    seed: int = SeedOpt,
    rater: str = typer.Option("default", "--rater", help="Rater name; each rater has an answer file and own random order."),
    port: int = PortOpt,
    no_serve: bool = typer.Option(False, "--no-serve", help="Render the study only."),
    report: Optional[Path] = typer.Option(None, "--report", help="Compute the preferences of the study in this folder and exit."),
    answers: Optional[List[Path]] = typer.Option(None, "--answers", help="Import answers (same JSON-lines format, e.g. from a crowd platform) into the study (--report DIR or --out DIR)."),
    force: bool = typer.Option(False, "--force", help="Use an annotation set or patch made for another model fingerprint."),
    open_browser: bool = OpenOpt,
    batch_size: int = typer.Option(32, "--batch-size", "-b", help="Batch size for rendering."),
    gen_opts: GenOptions = None,
    json_output: bool = JsonOpt,
) -> None:
    """Two-alternative preference study: which image looks more realistic, original or repaired (and random)?"""
    from ..pages import check_port
    from ..study import import_answer_files, load_study, make_study
    from ..study.answers import check_rater

    console = console_for(json_output)
    check_port(port)
    if report is not None or answers:
        imported = import_answer_files(load_study(report or out), answers or [])
        for f, r, k in imported:
            console.print(f"imported {k} answer(s) of rater {r!r} from {f}", highlight=False)
        totals = {r: sum(k for _, q, k in imported if q == r) for _, r, _ in imported}
        if report is not None:
            return render_report(load_study(report), json_output, console, totals)
        return print_json({"imported": totals}) if json_output else None
    if gen is None:
        raise UsageError("give a generator (GEN) and --annotations FILE or --repair DIR, or --report DIR")
    check_rater(rater)
    st = make_study(gen_opts.load(gen), out, annotations, repair, samples, seed, batch_size, force, progress=cli_progress)
    if not no_serve:
        return serve(st, rater, port, open_browser, json_output, console)
    if json_output:
        return print_json({"study": str(out), "pairs": len(st.trials)})
    console.print(f"wrote {len(st.trials)} pairs to {out}", highlight=False)


def render_report(study, json_output, console, imported) -> None:
    from ..study.report import report_rows, study_report, write_report

    rep = study_report(study)
    paths = write_report(study, rep)
    if json_output:
        print_json({**rep, "files": [str(p) for p in paths], **({"imported": imported} if imported else {})})
        return
    s = rep["settings"]
    tab = Table(title=f"preference over the original · {s['model']['name']} · {s['layer']} · {s['pairs']} pairs")
    for col in ("rater", "patched preferred", "random-ablated preferred"):
        tab.add_column(col)
    for row in report_rows(rep):
        tab.add_row(*row)
    console.print(tab)
    console.print(f"{s['interval']} intervals, {s['test']}; wrote {paths[0]} and {paths[1]}", highlight=False)


def serve(st, rater, port, open_browser, json_output, console) -> None:
    from ..pages.study import StudySession, study_page

    session = StudySession(st, rater)
    serve_page(study_page(session), "study page", port, open_browser, console, json_output,
               {"study": str(st.dir), "answers": str(session.log.path), "rater": rater},
               [f"answers of rater {rater!r} are saved to {session.log.path}; Ctrl-C to stop"],
               lambda: f"stopped; {session.state()['done']} of {len(st.trials)} pairs answered")


def register(app: typer.Typer) -> None:
    app.command("study")(study)
