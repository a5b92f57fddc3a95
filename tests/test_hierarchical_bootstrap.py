"""patched − random intervals: the hierarchical bootstrap (samples and random draws resampled) against
the paired one (draws fixed), on constructed per-sample features; and the permutation-style count."""
from __future__ import annotations

import numpy as np
import pytest
import torch

from ganfix.scoring import random_beats_patch, real_stats, repair_bootstrap


def _features(draw_shifts: list[float], n: int = 300, dim: int = 6, seed: int = 0) -> tuple[dict, dict]:
    g = torch.Generator().manual_seed(seed)
    real = torch.randn(4000, dim, generator=g, dtype=torch.float64)
    base = torch.randn(n, dim, generator=g, dtype=torch.float64)  # the shared latents: one row per sample
    feats = {"original": base + 0.30, "patched": base + 0.20}
    for d, s in enumerate(draw_shifts):
        feats[f"random{d}"] = base + s
    return feats, real_stats(real)


def _width(ci) -> float:
    return ci[1] - ci[0]


def test_identical_draws_reduce_to_the_paired_interval():
    feats, rstats = _features([0.5] * 6)
    b = repair_bootstrap(feats, rstats, draws=6, bootstrap=80, seed=3)
    assert b["ci95_vs_random"] == b["ci95_vs_random_paired"]
    assert b["ci95_vs_random"][1] < 0  # patched (shift 0.2) is closer to real than every draw (0.5)


def test_interval_widens_when_draws_disagree():
    # The same mean random shift (0.5), once from agreeing draws and once from draws far apart.
    agree, rstats = _features([0.5] * 6)
    disagree, _ = _features([0.05, 0.95, 0.1, 0.9, 0.2, 0.8])
    a = repair_bootstrap(agree, rstats, draws=6, bootstrap=150, seed=1)
    d = repair_bootstrap(disagree, rstats, draws=6, bootstrap=150, seed=1)
    # Draws fixed, the paired interval barely sees the disagreement: it stays narrow.
    assert _width(d["ci95_vs_random"]) > 3 * _width(d["ci95_vs_random_paired"])
    assert _width(d["ci95_vs_random"]) > 3 * _width(a["ci95_vs_random"])
    # Per-draw intervals: draws that beat the patch are visible one by one.
    assert d["per_draw_ci95"][0][0] > 0 and d["per_draw_ci95"][1][1] < 0


def test_no_bootstrap_means_no_intervals():
    feats, rstats = _features([0.5, 0.6])
    b = repair_bootstrap(feats, rstats, draws=2, bootstrap=0, seed=0)
    assert b["ci95"] is None and b["ci95_vs_random"] is None and b["per_draw_ci95"] == [None, None]


@pytest.mark.parametrize("fids,patched,count", [([2.0] * 10, 1.0, 0), ([0.5] * 3 + [2.0] * 7, 1.0, 3), ([0.5] * 4, 1.0, 4)])
def test_random_beats_patch_counts_and_exact_interval(fids, patched, count):
    r = random_beats_patch(fids, patched)
    assert r["count"] == count and r["draws"] == len(fids) and r["fraction"] == count / len(fids)
    lo, hi = r["ci95"]
    assert 0.0 <= lo <= r["fraction"] <= hi <= 1.0
    assert r["p_value"] == pytest.approx((count + 1) / (len(fids) + 1))
    if count == 0:  # 0 of 10: exact upper bound 1 − 0.025^(1/10) ≈ 0.308
        assert lo == 0.0 and hi == pytest.approx(1 - 0.025 ** 0.1, abs=1e-6)
    if count == len(fids):
        assert hi == 1.0 and lo == pytest.approx(0.025 ** (1 / len(fids)), abs=1e-6)
