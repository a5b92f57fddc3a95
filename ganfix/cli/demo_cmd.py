"""`ganfix demo`: the artifact workflow end to end on the embedded toy world, offline."""
from __future__ import annotations

import time
from pathlib import Path
from typing import Optional

import typer

from .. import defaults
from .common import JsonOpt, NoCacheOpt, console_for, err_console, handle_errors, print_json
from .common import cli_progress
from .repair_cmd import results_table


def closing_lines(result, out: Path, elapsed: float) -> list:
    from ..scoring import num

    report, samples = result.report, result.report["settings"]["samples"]
    d, ci = result.delta_vs_original
    ci_text = f" (95% CI {num(ci[0], '+.3f')} … {num(ci[1], '+.3f')})" if ci else ""
    return [results_table(result, f"Table 1 on toyscenes · {report['settings']['layer']} · "
                                  f"{len(report['settings']['units'])} labelled artifact units · {samples} samples"),
            f"patched − original FD {num(d, '+.3f')}{ci_text} (Fréchet distance in the toyscenes feature space, not Inception FID)",
            result.verdict(),
            f"outputs in {out}/ (report.json, report.md, before_after.png, sheets/index.html, export/) · {elapsed:.0f} s"]


@handle_errors
def demo(
    out: Path = typer.Option(Path("ganfix-demo"), "--out", help="Folder for sheets, exports, report.json/md, before_after.png."),
    samples: int = typer.Option(defaults.SCORE_SAMPLES, "--samples", "-n", help="Samples per FID/KID score."),
    rank_samples: int = typer.Option(defaults.RANK_SAMPLES, "--rank-samples", help="Samples in the ranking pass."),
    seed: int = typer.Option(defaults.DEMO_SEED, "--seed", help="Seed of the scored latents (the real set uses seed + 1). "
                             "The default differs from the seed the shipped set was chosen on."),
    random_draws: int = typer.Option(defaults.DEMO_RANDOM_DRAWS, "--random-draws"),
    bootstrap: int = typer.Option(defaults.DEMO_BOOTSTRAP, "--bootstrap"),
    annotations: Optional[Path] = typer.Option(None, "--annotations", help="Use this set instead of the shipped one."),
    no_sheets: bool = typer.Option(False, "--no-sheets", help="Skip the contact sheets."),
    no_cache: bool = NoCacheOpt,
    json_output: bool = JsonOpt,
) -> None:
    """Run rank → sheets → shipped annotation set → repair → score on the toy generator and print Table 1."""
    from ..demo import run_demo

    t0 = time.perf_counter()

    def step(msg: str) -> None:
        err_console.print(f"[dim]{time.perf_counter() - t0:6.1f}s[/] [bold]›[/] {msg}")

    result = run_demo(out, samples, rank_samples, seed, random_draws, bootstrap, annotations, not no_sheets,
                      step=step, progress=cli_progress, use_cache=not no_cache)
    if json_output:
        return print_json(result.to_json())
    console = console_for(False)
    for line in closing_lines(result, out, time.perf_counter() - t0):
        console.print(line)
    console.print(f"next: open {out / 'sheets' / 'index.html'}, or label units yourself with "
                  f"`ganfix annotate toyscenes --layer {result.patch.layer}`; use "
                  f"{out / 'export' / 'patched_generator.pt2'} with plain torch.export.load(path).module()", soft_wrap=True)


def register(app: typer.Typer) -> None:
    app.command("demo")(demo)
