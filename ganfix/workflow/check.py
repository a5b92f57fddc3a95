"""`ganfix.check(config)`: score the configured generator and evaluate the quality gates → CheckResult."""
from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path
from typing import Optional, Union

from ..errors import UsageError


@dataclass
class CheckResult:
    """The gate report (schema ganfix.check/1: passed, generator, settings, metrics, repair, gates)."""
    report: dict
    elapsed_s: float

    @property
    def passed(self) -> bool:
        return bool(self.report["passed"])

    @property
    def gates(self) -> list[dict]:
        return self.report["gates"]

    def to_json(self) -> dict:
        return self.report

    def write_junit(self, path: Union[str, Path]) -> Path:
        from ..checking.outputs import write_junit

        return write_junit(path, self.report, self.elapsed_s)

    def markdown(self) -> str:
        """The GitHub job-summary table."""
        from ..checking.outputs import step_summary_markdown

        return step_summary_markdown(self.report)

    def github_errors(self) -> list[str]:
        """`::error::` workflow-command lines, one per failed gate."""
        from ..checking.outputs import github_error_lines

        return github_error_lines(self.report)


def load_check_config(config=None, *, samples: Optional[int] = None, seed: Optional[int] = None,
                      device: Optional[str] = None):
    """A CheckConfig: as given, or read from a file (None: ganfix.toml / pyproject.toml here or above), with overrides."""
    from ..checking.config import CheckConfig, load_config

    cfg = config if isinstance(config, CheckConfig) else load_config(config)
    if samples is not None:
        if samples < 2:
            raise UsageError(f"samples must be at least 2, got {samples}")
        cfg.samples = samples
    if seed is not None:
        if seed < 0:
            raise UsageError(f"seed must be ≥ 0, got {seed}")
        cfg.seed = seed
    if device is not None:
        cfg.device = device
    return cfg


def check(config=None, *, samples: Optional[int] = None, seed: Optional[int] = None, device: Optional[str] = None,
          write_baseline: Union[str, Path, None] = None, use_cache: bool = True) -> CheckResult:
    """Evaluate the gates of `config` (a CheckConfig, a config file, or None to find ganfix.toml). With
    `write_baseline`, the report is also written there as a baseline (and the baseline gate is skipped)."""
    from ..atomic import atomic_write_json
    from ..checking.gates import run_check
    from ..checking.metrics import ScoringMetrics
    from ..generator import load_generator

    started = time.perf_counter()
    cfg = load_check_config(config, samples=samples, seed=seed, device=device)
    if not cfg.gates.enabled() and write_baseline is None:
        # A gate with nothing to check would pass silently in CI; that is never what was meant.
        raise UsageError(f"{cfg.source}: no gates configured; add a [gates] table with any of "
                         "max_fid, max_kid, annotations, patch_beats_random, baseline")
    gen = load_generator(cfg.generator, weights=cfg.weights, z_shape=cfg.z_shape, output_range=cfg.output_range,
                         device=cfg.device, trust_pickle=cfg.trust_pickle, image_shape=cfg.image_shape,
                         weights_key=cfg.weights_key, strip_prefix=cfg.strip_prefix)
    report = run_check(cfg, gen, ScoringMetrics(cfg, use_cache), skip_baseline=write_baseline is not None)
    if write_baseline is not None:
        atomic_write_json(write_baseline, report)
    return CheckResult(report, time.perf_counter() - started)
