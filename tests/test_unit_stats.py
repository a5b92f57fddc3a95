"""Streaming unit statistics: batch-size independence, shard merge, quantile error bound, caching."""
from __future__ import annotations

import numpy as np
import pytest
import torch

from ganfix.generator import load_generator
from ganfix.ranking import rank_units
from ganfix.stats import PositionSample, UnitStats
from ganfix.stats.tally import tally_unit_stats


@pytest.fixture()
def gen(small_progan_path):
    return load_generator(str(small_progan_path))


def test_topk_ids_do_not_depend_on_batch_size(gen):
    a = tally_unit_stats(gen, "layer4", 300, seed=1, batch_size=7, use_cache=False)
    b = tally_unit_stats(gen, "layer4", 300, seed=1, batch_size=64, use_cache=False)
    assert torch.equal(a.topk.ids, b.topk.ids)
    assert torch.allclose(a.topk.values, b.topk.values, atol=1e-5)
    assert torch.equal(a.moments.active, b.moments.active)
    assert rank_units(a).order == rank_units(b).order


def test_shard_merge_equals_one_pass(gen):
    whole = tally_unit_stats(gen, "layer3", 240, seed=2, batch_size=32, capacity=2000, use_cache=False)
    parts = [tally_unit_stats(gen, "layer3", n, seed=2, batch_size=16, capacity=2000, start=s, use_cache=False)
             for s, n in [(0, 100), (100, 40), (140, 100)]]
    merged = parts[0]
    for p in parts[1:]:
        merged.merge(p)
    assert torch.equal(merged.topk.ids, whole.topk.ids)
    assert merged.moments.count == whole.moments.count
    assert torch.equal(merged.moments.active, whole.moments.active)
    assert torch.allclose(merged.moments.sum, whole.moments.sum, rtol=1e-9)
    # The hash-threshold sample is exactly the same set of positions, so quantiles agree exactly.
    assert merged.sample.level == whole.sample.level > 0
    assert torch.equal(merged.quantile([0.1, 0.5, 0.99]), whole.quantile([0.1, 0.5, 0.99]))
    restored = UnitStats.from_state_dict(merged.state_dict())
    assert torch.equal(restored.quantile(0.9), merged.quantile(0.9))


def test_quantile_error_within_documented_bound():
    torch.manual_seed(0)
    n_samples, positions, units = 400, 64, 6
    acts = torch.randn(n_samples, units, positions) * torch.arange(1, units + 1).view(1, -1, 1) + torch.rand(units).view(1, -1, 1)
    acts[:, 0] = torch.relu(acts[:, 0])  # a unit with a point mass at zero
    sketch = PositionSample(units, capacity=3000, seed=5)
    for lo in range(0, n_samples, 50):
        sketch.add(acts[lo:lo + 50], list(range(lo, lo + 50)))
    assert not sketch.exact
    eps = sketch.rank_error_bound(delta=1e-3)
    qs = np.array([0.01, 0.1, 0.25, 0.5, 0.75, 0.9, 0.99])
    est = sketch.quantile(qs.tolist()).numpy()
    flat = acts.permute(1, 0, 2).reshape(units, -1).numpy()
    for u in range(units):
        # rank error: the fraction of true values below the estimate must be within eps of q
        ranks = np.array([(flat[u] <= e).mean() for e in est[u]])
        lower = np.array([(flat[u] < e).mean() for e in est[u]])
        assert np.all(ranks >= qs - eps) and np.all(lower <= qs + eps), (u, ranks, qs, eps)


def test_exact_below_capacity():
    x = torch.randn(10, 3, 20)
    sketch = PositionSample(3, capacity=10_000)
    sketch.add(x, list(range(10)))
    ref = np.quantile(x.permute(1, 0, 2).reshape(3, -1).numpy(), [0.2, 0.7], axis=1).T
    assert sketch.exact and np.allclose(sketch.quantile([0.2, 0.7]).numpy(), ref, atol=1e-6)


def test_cache_is_keyed_and_reused(gen, monkeypatch):
    first = tally_unit_stats(gen, "layer2", 50, seed=0)
    calls = []
    monkeypatch.setattr(UnitStats, "add", lambda self, *a: calls.append(1))
    again = tally_unit_stats(gen, "layer2", 50, seed=0)
    assert not calls and torch.equal(again.topk.ids, first.topk.ids)
    tally_unit_stats(gen, "layer2", 50, seed=1)  # another seed is another key: recomputed
    assert calls


def _reference_quantile(ps, q):
    """The previous read-out (hash order, then a stable full sort): the new one must match it exactly."""
    by_hash = torch.argsort(ps.hashes)
    ordered = torch.sort(ps.values[:, by_hash], dim=1, stable=True).values
    qs = torch.as_tensor(q, dtype=torch.float64).reshape(-1).clamp(0, 1)
    pos = qs * (ordered.shape[1] - 1)
    lo, hi = pos.floor().long(), pos.ceil().long()
    frac = (pos - lo).float()
    out = ordered[:, lo] * (1 - frac) + ordered[:, hi] * frac
    return out[:, 0] if torch.as_tensor(q).dim() == 0 else out


def test_quantile_readout_identical_to_full_sort():
    from ganfix.stats.position_sample import PositionSample

    g = torch.Generator().manual_seed(3)
    for capacity in (1 << 9, 1 << 14):  # over capacity (sampled) and exact
        ps = PositionSample(7, capacity, seed=1)
        for i in range(0, 96, 32):
            acts = torch.randn(32, 7, 16, generator=g)
            acts[:, 0] = acts[:, 0].clamp_min(0)  # ties at zero (a ReLU unit)
            ps.add(acts, list(range(i, i + 32)))
        for q in (0.0, 0.001, 0.01, 0.5, 0.9, 0.99, 0.999, 1.0, [0.01, 0.99], [0.1, 0.5, 0.99, 0.999]):
            ps._sorted_key = None  # each query starts from no memoised read-out
            assert torch.equal(ps.quantile(q), _reference_quantile(ps, q)), q
        first = ps.quantile(0.99)
        assert torch.equal(ps.quantile([0.5, 0.99])[:, 1], first)  # memoised read-out agrees
