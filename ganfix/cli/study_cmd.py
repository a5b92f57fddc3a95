"""`ganfix study`: a two-alternative preference study page (original vs patched, original vs random),
and `--report DIR` for its preferences with 95 % intervals."""
from __future__ import annotations

from pathlib import Path
from typing import List, Optional

import typer
from rich.table import Table

from ..errors import UsageError
from .common import (GenOptions, JsonOpt, SeedOpt, console_for, err_console, generator_options, handle_errors, print_json,
                     serve_page)


def register(app: typer.Typer) -> None:
    @app.command("study")
    @handle_errors
    @generator_options
    def study(
        gen: Optional[str] = typer.Argument(None, metavar="[GEN]", help="Generator spec (not needed with --report)."),
        annotations: Optional[Path] = typer.Option(None, "--annotations", "-a", help="Annotation set whose marked units the patch ablates."),
        repair: Optional[Path] = typer.Option(None, "--repair", help="A `ganfix repair --out` folder: its patch.json (and its first random draw)."),
        out: Path = typer.Option(Path("study"), "--out", "-o", help="Study folder: study.json, images/, answers*.jsonl."),
        samples: int = typer.Option(100, "--samples", "-n", help="Latents M; each gives two pairs (vs patched, vs random)."),
        seed: int = SeedOpt,
        rater: str = typer.Option("default", "--rater", help="Rater name; each rater has an answer file and own random order."),
        port: int = typer.Option(0, "--port", help="Local port of the page (0: any free port)."),
        no_serve: bool = typer.Option(False, "--no-serve", help="Render the study only."),
        report: Optional[Path] = typer.Option(None, "--report", help="Compute the preferences of the study in this folder and exit."),
        answers: Optional[List[Path]] = typer.Option(None, "--answers", help="Import answers (same JSON-lines format, e.g. from a crowd platform) into the study (--report DIR or --out DIR)."),
        force: bool = typer.Option(False, "--force", help="Use an annotation set or patch made for another model fingerprint."),
        open_browser: bool = typer.Option(False, "--open", help="Also open the page in the default browser."),
        batch_size: int = typer.Option(32, "--batch-size", "-b", help="Batch size for rendering."),
        gen_opts: GenOptions = None,
        json_output: bool = JsonOpt,
    ) -> None:
        """Two-alternative preference study: which image looks more realistic, original or repaired (and random)?"""
        from ..study import load_study

        console = console_for(json_output)
        if not 0 <= port <= 65535:
            raise UsageError(f"--port must be in 0…65535, got {port}")
        if report is not None or answers:
            folder = report if report is not None else out
            imported = _import(load_study(folder), answers or [], console)
            if report is None:
                if json_output:
                    print_json({"imported": imported})
                return
            return _report(load_study(folder), json_output, console, imported)
        if gen is None:
            raise UsageError("give a generator (GEN) and --annotations FILE or --repair DIR, or --report DIR")
        _serve(gen, gen_opts, annotations, repair, out, samples, seed, rater, port, no_serve, force, open_browser,
               batch_size, json_output, console)


def _import(study, files, console) -> dict:
    from ..study import import_answers

    total: dict[str, int] = {}
    for f in files:
        for r, n in import_answers(study, f).items():
            total[r] = total.get(r, 0) + n
            console.print(f"imported {n} answer(s) of rater {r!r} from {f}", highlight=False)
    return total


def _report(study, json_output, console, imported) -> None:
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


def _serve(gen, gen_opts, annotations, repair, out, samples, seed, rater, port, no_serve, force, open_browser,
           batch_size, json_output, console) -> None:
    from ..pages.study import StudySession, study_page
    from ..progress import progress
    from ..study import build_study, study_patches
    from ..study.answers import check_rater

    check_rater(rater)
    g = gen_opts.load(gen)
    patch, random_patch = study_patches(g, annotations, repair, force)
    with progress("render study", samples, err_console) as step:
        st = build_study(g, patch, out, samples, seed, random_patch, batch_size, force, on_batch=step)
    if no_serve:
        if json_output:
            print_json({"study": str(out), "pairs": len(st.trials)})
        else:
            console.print(f"wrote {len(st.trials)} pairs to {out}", highlight=False)
        return
    session = StudySession(st, rater)

    def announce(url: str) -> None:
        if json_output:
            return print_json({"url": url, "study": str(out), "answers": str(session.log.path), "rater": rater})
        console.print(f"study page: [bold]{url}[/]", soft_wrap=True, highlight=False)
        console.print(f"answers of rater {rater!r} are saved to {session.log.path}; Ctrl-C to stop", highlight=False, soft_wrap=True)

    serve_page(study_page(session), port, open_browser, announce,
               lambda: err_console.print(f"stopped; {session.state()['done']} of {len(st.trials)} pairs answered"))
