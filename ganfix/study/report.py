"""Preference for the modified image over the original, with 95 % intervals and a binomial test.

For each comparison (patched vs original, random-ablated vs original): n answered pairs (skips
left out), k in which the modified image was chosen as more realistic, the share k/n, Wilson's
95 % score interval and the exact two-sided binomial test against 50 % (the "minlike" rule:
sum of the probabilities of outcomes no more likely than k). Per rater and pooled; pooling treats
every answer as independent (raters are not modelled as clusters).
"""
from __future__ import annotations

import math
from pathlib import Path

from ..atomic import atomic_write_json, atomic_write_text
from .answers import answer_files, latest, read_answers
from .build import KINDS, Study

Z95 = 1.959963984540054
PAPER = {"patched": 0.790, "random": 0.508}  # Bau et al. 2019, Table 1 (human preference over the original)


def wilson_interval(k: int, n: int, z: float = Z95) -> tuple[float, float]:
    if n == 0:
        return (0.0, 1.0)
    p = k / n
    denom = 1 + z * z / n
    centre = (p + z * z / (2 * n)) / denom
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / denom
    return (0.0 if k == 0 else max(0.0, centre - half), 1.0 if k == n else min(1.0, centre + half))


def _pmf(i: int, n: int, p: float) -> float:
    if p in (0.0, 1.0):
        return float(i == (n if p == 1.0 else 0))
    return math.exp(math.lgamma(n + 1) - math.lgamma(i + 1) - math.lgamma(n - i + 1) + i * math.log(p) + (n - i) * math.log1p(-p))


def binomial_two_sided(k: int, n: int, p: float = 0.5) -> float:
    """Exact two-sided p-value of k successes in n trials under success probability p."""
    if n == 0:
        return 1.0
    d = _pmf(k, n, p)
    total = sum(q for q in (_pmf(i, n, p) for i in range(n + 1)) if q <= d * (1 + 1e-7))
    return min(1.0, total)


def preference(answers: list[dict], kind: str) -> dict:
    rows = [a for a in answers if a["kind"] == kind]
    skipped = sum(a["choice"] == "skip" for a in rows)
    n = len(rows) - skipped
    k = sum(a["preferred"] == kind for a in rows)
    lo, hi = wilson_interval(k, n)
    return {"n": n, "preferred": k, "share": k / n if n else None, "ci95": [lo, hi] if n else None,
            "p_two_sided": binomial_two_sided(k, n), "skipped": skipped}


def study_report(study: Study) -> dict:
    """Preferences from every answer file in the study folder (latest answer per rater and trial)."""
    answers = [a for f in answer_files(study.dir) for a in read_answers(study, f)]
    final = list(latest(answers).values())
    raters = sorted({a["rater"] for a in final})
    m = study.manifest
    return {
        "settings": {"model": m["model"], "layer": m["layer"], "patched_units": m["patched"]["units"],
                     "random_units": m["random"]["units"], "samples": m["samples"], "seed": m["seed"],
                     "pairs": len(study.trials), "interval": "Wilson score 95 %",
                     "test": "exact two-sided binomial vs 50 %"},
        "raters": {r: {kind: preference([a for a in final if a["rater"] == r], kind) for kind in KINDS} for r in raters},
        "pooled": {kind: preference(final, kind) for kind in KINDS},
        "paper": PAPER,
    }


def _fmt(s: dict) -> str:
    if not s["n"]:
        return "– (no answers)"
    lo, hi = s["ci95"]
    return f"{s['share']:.1%} ({s['preferred']}/{s['n']}; 95 % CI {lo:.1%}–{hi:.1%}; p = {s['p_two_sided']:.3g})"


def report_rows(report: dict) -> list[tuple[str, str, str]]:
    rows = [(r, _fmt(v["patched"]), _fmt(v["random"])) for r, v in report["raters"].items()]
    rows.append(("pooled", _fmt(report["pooled"]["patched"]), _fmt(report["pooled"]["random"])))
    rows.append(("paper (Bau et al. 2019, Table 1)", f"{PAPER['patched']:.1%}", f"{PAPER['random']:.1%}"))
    return rows


def report_markdown(report: dict) -> str:
    s = report["settings"]
    lines = [f"# Preference study: {s['model']['name']} · {s['layer']}", "",
             f"{s['samples']} latents (seed {s['seed']}), two pairs each: original vs patched "
             f"(units {', '.join(map(str, s['patched_units']))}) and original vs random-ablated "
             f"(units {', '.join(map(str, s['random_units']))}). Share of answered pairs in which the modified "
             f"image was chosen as more realistic; {s['interval']} interval, {s['test']}.", "",
             "| rater | patched preferred over original | random-ablated preferred over original |", "|---|---|---|"]
    lines += [f"| {a} | {b} | {c} |" for a, b, c in report_rows(report)]
    return "\n".join(lines) + "\n"


def write_report(study: Study, report: dict, out: Path | None = None) -> tuple[Path, Path]:
    out = Path(out or study.dir)
    return (atomic_write_json(out / "report.json", report), atomic_write_text(out / "report.md", report_markdown(report)))
