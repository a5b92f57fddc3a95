"""`ganfix check`: the CI quality gate. Exit 0 all gates pass, 1 a gate failed, 2 usage/config error."""
from __future__ import annotations

import os
import sys
import time
from pathlib import Path
from typing import Optional

import typer

from ..errors import UsageError
from .common import JsonOpt, console_for, err_console, handle_errors, print_json


def register(app: typer.Typer) -> None:
    @app.command("check")
    @handle_errors
    def check(
        config: Optional[Path] = typer.Option(None, "--config", "-c", help="Config file (default: ganfix.toml, or \\[tool.ganfix] in pyproject.toml, here or above)."),
        junit: Optional[Path] = typer.Option(None, "--junit", help="Write a JUnit XML report here (one testcase per gate)."),
        write_baseline: Optional[Path] = typer.Option(None, "--write-baseline", help="Write this run's report as a baseline for the `baseline` gate (that gate is skipped in this run)."),
        samples: Optional[int] = typer.Option(None, "--samples", "-n", help="Override `samples` from the config."),
        seed: Optional[int] = typer.Option(None, "--seed", help="Override `seed` from the config."),
        device: Optional[str] = typer.Option(None, "--device", help="Override `device` from the config (cpu or cuda[:i])."),
        no_cache: bool = typer.Option(False, "--no-cache", help="Recompute everything instead of reading cached features/statistics (results are the same; caches are checksummed)."),
        json_output: bool = JsonOpt,
    ) -> None:
        """Score the configured generator and evaluate the quality gates from ganfix.toml."""
        from ..preflight import check_at_least, check_cache_writable, check_output_dir, check_output_file  # noqa: F401
        check_output_file(junit, "--junit")
        check_output_file(write_baseline, "--write-baseline")
        check_cache_writable(not no_cache)
        from ..check.config import load_config
        from ..check.gates import run_check
        from ..check.metrics import ScoringMetrics
        from ..check.outputs import append_step_summary, gate_table, github_error_lines, step_summary_markdown, write_junit
        from ..atomic import atomic_write_json
        from ..generator import load_generator

        started = time.perf_counter()
        cfg = load_config(config)
        if config is None and cfg.source is not None:  # found by searching here and above: say which file
            where = "" if cfg.source.parent == Path.cwd().resolve() else " (found in a parent folder)"
            err_console.print(f"using config {cfg.source}{where}", highlight=False, soft_wrap=True)
        if samples is not None:
            if samples < 2:
                raise UsageError(f"--samples must be at least 2, got {samples}")
            cfg.samples = samples
        if seed is not None:
            if seed < 0:
                raise UsageError(f"--seed must be ≥ 0, got {seed}")
            cfg.seed = seed
        if device is not None:
            cfg.device = device
        if not cfg.gates.enabled() and write_baseline is None:
            # A gate with nothing to check would pass silently in CI; that is never what was meant.
            raise UsageError(f"{cfg.source}: no gates configured; add a [gates] table with any of "
                             "max_fid, max_kid, annotations, patch_beats_random, baseline")

        gen = load_generator(cfg.generator, weights=cfg.weights, z_shape=cfg.z_shape, output_range=cfg.output_range,
                             device=cfg.device, trust_pickle=cfg.trust_pickle)
        with err_console.status(f"scoring {gen.name} ({cfg.features} features, N={cfg.samples})…"):
            report = run_check(cfg, gen, ScoringMetrics(cfg, use_cache=not no_cache), skip_baseline=write_baseline is not None)
        elapsed = time.perf_counter() - started

        if write_baseline is not None:
            atomic_write_json(write_baseline, report)
            err_console.print(f"baseline written to {write_baseline}")
        if junit is not None:
            write_junit(junit, report, elapsed)
        if os.environ.get("GITHUB_ACTIONS") == "true":
            summary = os.environ.get("GITHUB_STEP_SUMMARY")
            if summary:
                append_step_summary(summary, step_summary_markdown(report))
            # Workflow commands are read from stderr too; stdout stays clean for --json.
            for line in github_error_lines(report):
                print(line, file=sys.stderr, flush=True)

        if json_output:
            print_json(report)
        else:
            console_for(False).print(gate_table(report))
        err_console.print(f"{'passed' if report['passed'] else 'FAILED'} in {elapsed:.1f}s", highlight=False)
        if not report["passed"]:
            raise typer.Exit(1)
