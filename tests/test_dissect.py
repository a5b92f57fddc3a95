"""Dissection on a generator with known answers: IoU/IQR, thresholds, exact mergeable counts, bad inputs."""
from __future__ import annotations

import itertools
import json

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from torch import nn

from ganfix.dissection import IoUStat, dissect, dissect_counts, layer_thresholds, require_spatial
from ganfix.errors import UsageError
from ganfix.generator import Generator
from ganfix.segmenters import checked_segment, class_index
from synthetic_fixtures import gen, seg  # noqa: F401  (pytest fixtures)


def test_constructed_unit_is_found_with_iou_near_one(gen, seg):
    res = dissect(gen, ["layer1"], seg, samples=80, seed=0, batch_size=32, use_cache=False)["layer1"]
    rows = {r["unit"]: r for r in res.units()}
    door = rows[gen.module.door_unit]
    # IoU is ≈ 1 up to the threshold grid (100 quantile levels ~7% apart in f near the door fraction).
    assert door["label"] == "door" and door["iou"] > 0.95 and door["interpretable"]
    # The door mask is [bilinear-up(F) > 0.5]: the IQR-optimal threshold must land near 0.5.
    assert 0.45 < door["threshold"] < 0.55
    assert rows[gen.module.tree_unit]["label"] == "tree" and rows[gen.module.tree_unit]["interpretable"]
    noise = [u for u in rows if u not in (gen.module.door_unit, gen.module.tree_unit)]
    assert not any(rows[u]["interpretable"] for u in noise)
    assert res.class_ranking(class_index(seg, "door"))[0] == gen.module.door_unit
    assert res.to_json()["interpretable_by_class"] == {"door": 1, "tree": 1}


def _direct_counts(acts, seg, thr, n_cls):
    """Reference: explicit binary masks per unit, level and class (numpy, loops)."""
    up = F.interpolate(acts, size=seg.shape[-2:], mode="bilinear", align_corners=False).numpy()
    s = seg.numpy()
    d, L = thr.shape
    iou = np.zeros((d, L, n_cls))
    iqr = np.zeros((d, L, n_cls))
    for u, l, c in itertools.product(range(d), range(L), range(n_cls)):
        a = (up[:, u] > thr[u, l].item()).ravel()
        b = (s == c).ravel()
        n = a.size
        p = np.array([[np.sum(a & b), np.sum(a & ~b)], [np.sum(~a & b), np.sum(~a & ~b)]]) / n
        pa, pb = p.sum(1), p.sum(0)
        ent = lambda q: -sum(x * np.log(x) for x in np.ravel(q) if x > 0)  # noqa: E731
        h = ent(p)
        mi = ent(pa) + ent(pb) - h
        iqr[u, l, c] = mi / h if h > 0 else 0.0
        union = np.sum(a | b)
        iou[u, l, c] = np.sum(a & b) / union if union else 0.0
    return iou, iqr


def test_iou_and_iqr_match_direct_small_array_computation():
    g = torch.Generator().manual_seed(3)
    acts = torch.rand(3, 2, 4, 4, generator=g)
    seg = torch.randint(0, 3, (3, 8, 8), generator=g)
    seg[0, :4, :4] = 1  # some structure so the IQR is not ~0 everywhere
    thr = torch.sort(torch.rand(2, 6, generator=g), dim=1).values
    stat = IoUStat(thr, 3)
    stat.add(acts, seg)
    iou, iqr = _direct_counts(acts, seg, thr, 3)
    assert np.allclose(stat.iou().numpy(), iou, atol=1e-12)
    assert np.allclose(stat.iqr().numpy(), iqr, atol=1e-9)
    assert stat.iqr().max() > 0.01


def test_counts_do_not_depend_on_batch_size_or_sharding(gen, seg):
    thr, _ = layer_thresholds(gen, "layer1", 60, seed=4, batch_size=16, levels=20, use_cache=False)
    whole = {b: dissect_counts(gen, seg, {"layer1": thr}, 60, seed=4, batch_size=b, use_cache=False)["layer1"]
             for b in (1, 7, 60)}
    for b in (7, 60):
        assert torch.equal(whole[1].inter, whole[b].inter) and torch.equal(whole[1].unit_on, whole[b].unit_on)
        assert torch.equal(whole[1].class_px, whole[b].class_px) and whole[1].pixels == whole[b].pixels
    parts = [dissect_counts(gen, seg, {"layer1": thr}, n, seed=4, batch_size=8, start=s, use_cache=False)["layer1"]
             for s, n in [(0, 25), (25, 5), (30, 30)]]
    merged = IoUStat.from_state_dict(parts[0].state_dict())
    for p in parts[1:]:
        merged.merge(p)
    assert torch.equal(merged.inter, whole[7].inter) and torch.equal(merged.unit_on, whole[7].unit_on)
    assert merged.samples == 60 and torch.equal(merged.iqr(), whole[7].iqr())


def test_cached_counts_are_reused(gen, seg):
    thr, _ = layer_thresholds(gen, "layer2", 20, seed=1, batch_size=10, levels=10)
    a = dissect_counts(gen, seg, {"layer2": thr}, 20, seed=1, batch_size=10)["layer2"]
    calls = []
    orig_add = IoUStat.add
    IoUStat.add = lambda self, *x: calls.append(1)
    try:
        b = dissect_counts(gen, seg, {"layer2": thr}, 20, seed=1, batch_size=5)["layer2"]
    finally:
        IoUStat.add = orig_add
    assert not calls and torch.equal(a.inter, b.inter)


class _BadSeg:
    def __init__(self, mode):
        self.mode = mode
        self.class_names = ["sky", "door"]

    def segment(self, images):
        n, _, h, w = images.shape
        if self.mode == "shape":
            return torch.zeros(n, h * w, dtype=torch.long)[:, None]  # [N, 1, H·W]
        if self.mode == "classes":
            return torch.randn(n, 5, h, w)  # scores for 5 classes, but 2 names
        return torch.full((n, h, w), 7)  # index out of range


@pytest.mark.parametrize("mode,needle", [("shape", "shape"), ("classes", "5 class scores"), ("index", "class index 7")])
def test_bad_segmenter_output_is_a_usage_error(mode, needle):
    with pytest.raises(UsageError, match=needle):
        checked_segment(_BadSeg(mode), torch.zeros(2, 3, 8, 8))


def test_unknown_class_lists_names(seg):
    with pytest.raises(UsageError, match="sky, door, tree"):
        class_index(seg, "window")


class _VectorGen(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(16, 32)
        self.conv = nn.Conv2d(2, 3, 1)

    def forward(self, z):
        return self.conv(self.fc(z).view(-1, 2, 4, 4))


def test_layer_without_spatial_maps_is_refused():
    g = Generator(_VectorGen(), (16,))
    with pytest.raises(UsageError, match="no spatial maps"):
        require_spatial(g, "fc")


@pytest.mark.parametrize("bins", [2048, 7])  # 7 bins: almost every value shares a bin with a threshold
def test_level_counts_are_exact(bins):
    from ganfix.dissection.level_counts import LevelCounter

    g = torch.Generator().manual_seed(0)
    C = 5
    thr = torch.sort(torch.randn(6, 50, generator=g) * torch.rand(6, 1, generator=g) * 3, 1).values
    thr[0, :25] = 0.0            # ties (a ReLU unit's low quantiles)
    thr[1] = thr[1, 0]           # a constant unit
    thr[2, 10:13] = thr[2, 10] + torch.tensor([0.0, 1e-7, 2e-7])  # thresholds closer than one bin
    vals = torch.randn(6, 5000, generator=g) * 2
    vals[0, :100] = 0.0
    vals[2, :50] = thr[2, :50]   # values exactly at thresholds
    vals[3, :5], vals[3, 5:10] = 1e30, -1e30  # far outside the threshold range
    seg = torch.randint(0, C, (5000,), generator=g)
    # direct: [v > t_l] for every unit, level, value, then per class
    direct = torch.stack([((vals[:, None, :] > thr[:, :, None]) & (seg == c)).sum(2) for c in range(C)], 2)
    lc = LevelCounter(thr, C, bins=bins)
    assert torch.equal(lc.above(vals.clone(), seg.float(), 0, 6), direct)
    assert torch.equal(lc.above(vals[2:5].clone(), seg.float(), 2, 5), direct[2:5])


def test_matmul_upsampling_matches_interpolate():
    import torch.nn.functional as F

    from ganfix.dissection.upsample import upsample_units

    for h, H in [(4, 64), (8, 64), (16, 64), (5, 13), (8, 8)]:
        a = torch.randn(3, 4, h, h)
        ref = F.interpolate(a, size=(H, H), mode="bilinear", align_corners=False).transpose(0, 1)
        assert torch.allclose(upsample_units(a, (H, H)), ref, atol=1e-5)
