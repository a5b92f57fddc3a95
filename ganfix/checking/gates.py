"""The gates of `ganfix check`, one function each, plus `run_check` that evaluates a config.

Gates read numbers from a MetricsProvider (ganfix.checking.metrics.ScoringMetrics in the product) so
the gate logic can be tested with known numbers and the scoring tested end to end separately.
A gate that fails is a GateResult with passed=False (exit 1); a config that cannot be evaluated
(missing file, baseline made with other settings) raises UsageError (exit 2).
"""
from __future__ import annotations

import json
import math
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Protocol

from ..errors import UsageError
from .config import CheckConfig

SCHEMA = "ganfix.check/1"


@dataclass
class GateResult:
    name: str
    passed: bool
    summary: str  # one line a person reads in the table, the job summary and the ::error:: line
    metrics: dict[str, Any] = field(default_factory=dict)  # numbers behind the verdict (JUnit properties)

    def to_json(self) -> dict:
        return asdict(self)


class MetricsProvider(Protocol):
    def score(self, gen) -> dict: ...  # {"fid", "kid_mean", "kid_std", ...}

    def repair(self, gen, patch) -> dict: ...  # score_repair's report (original/patched/random/delta)


# -- gates ----------------------------------------------------------------------------------------

def gate_annotations(gen, path: Path):
    """The annotation set must be bound to this model's fingerprint. Returns (GateResult, set or None)."""
    from ..annotations import AnnotationSet

    aset = AnnotationSet.load(path)  # malformed file → UsageError (exit 2): a config problem, not a verdict
    metrics = {"model_fingerprint": gen.fingerprint, "set_fingerprint": aset.fingerprint, "set_model": aset.model_name,
               "layer": aset.layer, "units": len(aset.units)}
    if aset.fingerprint != gen.fingerprint:
        return GateResult("annotations", False, f"{path.name} is for fingerprint {aset.fingerprint} ({aset.model_name}), "
                          f"the model has {gen.fingerprint}: re-label its units for this checkpoint", metrics), None
    return GateResult("annotations", True, f"{path.name} matches fingerprint {gen.fingerprint} "
                      f"({len(aset.units)} units on {aset.layer})", metrics), aset


LABEL_KEYS = ("metric", "real_label")  # what the score is called: "FID" (Inception) or "FD (<x> features)", vs what


def metric_label(metrics: dict) -> str:
    """'FID' in Inception's space, else 'FD (<extractor> features)'; with the real set when known."""
    label = metrics.get("metric", "FID")
    return f"{label} vs {metrics['real_label']}" if metrics.get("real_label") else label


def gate_max_fid(metrics: dict, limit: float) -> GateResult:
    fid = float(metrics["fid"])
    ok = fid <= limit
    return GateResult("max_fid", ok, f"{metric_label(metrics)} {fid:.3f} {'≤' if ok else '>'} {limit:g}",
                      {"fid": fid, "max_fid": limit})


def gate_max_kid(metrics: dict, limit: float) -> GateResult:
    # Judged on the KID estimate (mean over subsets); kid_std is reported so a reader sees the noise.
    kid, std = float(metrics["kid_mean"]), float(metrics.get("kid_std", float("nan")))
    ok = kid <= limit
    return GateResult("max_kid", ok, f"KID {kid:.5f} ± {std:.5f} {'≤' if ok else '>'} {limit:g}",
                      {"kid_mean": kid, "kid_std": std, "max_kid": limit})


def gate_baseline(metrics: dict, baseline: dict, tolerance: float, path: Path) -> GateResult:
    """FID may not exceed the baseline's FID by more than `tolerance` (relative)."""
    base = float(baseline["fid"])
    fid = float(metrics["fid"])
    allowed = base * (1.0 + tolerance)
    rel = (fid - base) / base if base > 0 else math.inf if fid > base else 0.0
    ok = fid <= allowed
    verb = "within" if ok else "regressed beyond"
    return GateResult("baseline", ok, f"{metric_label(metrics)} {fid:.3f} vs baseline {base:.3f} ({rel:+.1%}), {verb} tolerance {tolerance:.0%}",
                      {"fid": fid, "baseline_fid": base, "relative_change": rel, "tolerance": tolerance,
                       "max_allowed_fid": allowed, "baseline_file": str(path)})


def relative_vs_random(report: dict) -> tuple[float, float, float]:
    """(estimate, lo, hi) of (FID_patched − mean FID_random) / mean FID_random, from score_repair's report.

    The interval is score_repair's 95% CI of the difference (ci95_vs_random), divided by the mean
    random-ablation FID; that mean is treated as the fixed scale of the margin."""
    rnd = float(report["random"]["fid_mean"])
    delta = report["delta"]
    diff = float(delta["fid_patched_minus_random_mean"])
    lo, hi = (float(v) for v in delta["ci95_vs_random"])
    if not rnd > 0:
        raise UsageError(f"random-ablation FID is {rnd}; cannot express the patch margin relative to it")
    return diff / rnd, lo / rnd, hi / rnd


def gate_patch_beats_random(report: dict, margin: float) -> GateResult:
    """Pass when the whole 95% CI of the relative FID change vs random ablation lies at or below −margin.

    I.e. the patch lowers FID by at least `margin` (fraction of the random-ablation FID) even at the
    pessimistic end of the interval; a single lucky number is not enough."""
    rel, lo, hi = relative_vs_random(report)
    ok = hi <= -margin
    patched, rnd = float(report["patched"]["fid"]), float(report["random"]["fid_mean"])
    return GateResult(
        "patch_beats_random", ok,
        f"patched {report.get('settings', {}).get('metric', 'FID')} {patched:.3f} vs random {rnd:.3f}: {rel:+.1%} (95% CI {lo:+.1%} … {hi:+.1%}), "
        f"needs upper bound ≤ {-margin:+.1%}",
        {"patched_fid": patched, "random_fid_mean": rnd, "random_fid_std": float(report["random"].get("fid_std", float("nan"))),
         "original_fid": float(report["original"]["fid"]), "relative": rel, "relative_ci95_lo": lo,
         "relative_ci95_hi": hi, "margin": margin, "random_draws": len(report["random"].get("draws", []))})


# -- baseline files -------------------------------------------------------------------------------

def read_baseline(path: Path, cfg: CheckConfig) -> dict:
    """FID/KID of a baseline report: a `ganfix check` report (--json or --write-baseline), or a scoring
    report (score_generator's dict, or score_repair's report, whose "original" is used)."""
    if not path.is_file():
        raise UsageError(f"baseline file not found: {path} (create it with `ganfix check --write-baseline {path}`)")
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise UsageError(f"baseline {path} is not a JSON report: {exc}") from None
    metrics = None
    if isinstance(data, dict):
        for cand in (data.get("metrics"), data.get("original"), data):
            if isinstance(cand, dict) and isinstance(cand.get("fid"), (int, float)):
                metrics = cand
                break
    if metrics is None:
        raise UsageError(f"baseline {path} holds no FID (expected a `ganfix check --write-baseline` report)")
    # Numbers made with other features / N / seed / real data are not comparable: refuse, don't guess.
    settings = data.get("settings") if isinstance(data.get("settings"), dict) else {}
    ours = cfg.settings()
    for key in ("features", "samples", "seed", "real"):
        if key in settings and settings[key] != ours[key]:
            raise UsageError(f"baseline {path} was made with {key}={settings[key]!r} but this check uses "
                             f"{key}={ours[key]!r}; regenerate it with write_baseline={path}")
    return metrics


# -- orchestration --------------------------------------------------------------------------------

def make_patch(gen, aset):
    """The ablation patch of an annotation set: zero its units everywhere on its layer (UsageError when
    the set marks no units)."""
    from ..patch import Patch

    return Patch.from_annotations(aset, gen)


def run_check(cfg: CheckConfig, gen, provider: MetricsProvider, *, skip_baseline: bool = False) -> dict:
    """Evaluate every configured gate; returns the report (JSON-ready). Scoring runs at most once:
    when the patch gate is on, score_repair's "original" numbers serve the FID/KID/baseline gates."""
    g = cfg.gates
    enabled = g.enabled()
    baseline = None
    if "baseline" in enabled and not skip_baseline:
        baseline = read_baseline(g.baseline, cfg)  # before scoring: a bad baseline fails fast

    results: dict[str, GateResult] = {}
    aset = None
    if "annotations" in enabled:
        results["annotations"], aset = gate_annotations(gen, g.annotations)

    repair = None
    metrics = None
    if "patch_beats_random" in enabled:
        if aset is None:
            results["patch_beats_random"] = GateResult(
                "patch_beats_random", False, "not evaluated: the annotation set does not fit this model", {"margin": g.patch_beats_random})
        else:
            repair = provider.repair(gen, make_patch(gen, aset))
            metrics = {k: repair["original"][k] for k in ("fid", "kid_mean", "kid_std") if k in repair["original"]}
            metrics.update({k: repair["settings"][k] for k in LABEL_KEYS if k in repair.get("settings", {})})
            results["patch_beats_random"] = gate_patch_beats_random(repair, g.patch_beats_random)
    needs_metrics = any(n in enabled for n in ("max_fid", "max_kid")) or baseline is not None
    if metrics is None and (needs_metrics or skip_baseline):
        metrics = {k: v for k, v in provider.score(gen).items() if k in ("fid", "kid_mean", "kid_std", *LABEL_KEYS)}

    if "max_fid" in enabled:
        results["max_fid"] = gate_max_fid(metrics, g.max_fid)
    if "max_kid" in enabled:
        results["max_kid"] = gate_max_kid(metrics, g.max_kid)
    if baseline is not None:
        results["baseline"] = gate_baseline(metrics, baseline, g.tolerance, g.baseline)

    gates = [results[n] for n in enabled if n in results]
    return {
        "schema": SCHEMA,
        "passed": all(r.passed for r in gates),
        "generator": {"name": gen.name, "fingerprint": gen.fingerprint},
        "settings": cfg.settings(),
        "config": str(cfg.source) if cfg.source else None,
        "metrics": metrics,
        "repair": repair,
        "gates": [r.to_json() for r in gates],
    }
