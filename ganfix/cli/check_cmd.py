"""`ganfix check`: the CI quality gate. Exit 0 all gates pass, 1 a gate failed, 2 usage/config error."""
from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Optional

import typer

from .common import JsonOpt, NoCacheOpt, console_for, err_console, handle_errors, preflight, print_json


def say_found_config(given, cfg) -> None:
    """A config found by searching here and above: say which file it is."""
    if given is None and cfg.source is not None:
        where = "" if cfg.source.parent == Path.cwd().resolve() else " (found in a parent folder)"
        err_console.print(f"using config {cfg.source}{where}", highlight=False, soft_wrap=True)


def github_outputs(result) -> None:
    """On GitHub Actions: the job summary, and `::error::` lines on stderr (stdout stays clean for --json)."""
    from ..checking.outputs import append_step_summary

    if os.environ.get("GITHUB_ACTIONS") != "true":
        return
    summary = os.environ.get("GITHUB_STEP_SUMMARY")
    if summary:
        append_step_summary(summary, result.markdown())
    for line in result.github_errors():
        print(line, file=sys.stderr, flush=True)


@handle_errors
def check(
    config: Optional[Path] = typer.Option(None, "--config", "-c", help="Config file (default: ganfix.toml, or \\[tool.ganfix] in pyproject.toml, here or above)."),
    junit: Optional[Path] = typer.Option(None, "--junit", help="Write a JUnit XML report here (one testcase per gate)."),
    write_baseline: Optional[Path] = typer.Option(None, "--write-baseline", help="Write this run's report as a baseline for the `baseline` gate (that gate is skipped in this run)."),
    samples: Optional[int] = typer.Option(None, "--samples", "-n", help="Override `samples` from the config."),
    seed: Optional[int] = typer.Option(None, "--seed", help="Override `seed` from the config."),
    device: Optional[str] = typer.Option(None, "--device", help="Override `device` from the config (cpu or cuda[:i])."),
    no_cache: bool = NoCacheOpt,
    json_output: bool = JsonOpt,
) -> None:
    """Score the configured generator and evaluate the quality gates from ganfix.toml."""
    from ..checking.outputs import gate_table
    from ..workflow.check import check as run_check, load_check_config

    preflight(files=((junit, "--junit"), (write_baseline, "--write-baseline")))
    cfg = load_check_config(config, samples=samples, seed=seed, device=device)
    say_found_config(config, cfg)
    with err_console.status(f"scoring {cfg.generator} ({cfg.features} features, N={cfg.samples})…"):
        result = run_check(cfg, write_baseline=write_baseline, use_cache=not no_cache)
    if write_baseline is not None:
        err_console.print(f"baseline written to {write_baseline}")
    if junit is not None:
        result.write_junit(junit)
    github_outputs(result)
    print_json(result.to_json()) if json_output else console_for(False).print(gate_table(result.to_json()))
    err_console.print(f"{'passed' if result.passed else 'FAILED'} in {result.elapsed_s:.1f}s", highlight=False)
    if not result.passed:
        raise typer.Exit(1)


def register(app: typer.Typer) -> None:
    app.command("check")(check)
