"""IQR conventions: the reference one (positive correlation only, label by IQR) against the unconstrained one."""
from __future__ import annotations

import torch

from ganfix.dissection import Criteria, IoUStat, LayerDissection, dissect, quantile_fractions
from ganfix.dissection.result import admissible_levels
from ganfix.dissection.run import layer_thresholds
from synthetic_fixtures import gen, seg  # noqa: F401  (pytest fixtures)


def _counts(acts: torch.Tensor, seg: torch.Tensor, levels: int = 20, classes: int = 2) -> IoUStat:
    """IoU counts at layer resolution = segmentation resolution (the upsampling is then the identity)."""
    flat = acts.transpose(0, 1).reshape(acts.shape[1], -1)
    q = 1 - quantile_fractions(levels)
    thr = torch.quantile(flat, q.float(), dim=1).t().contiguous()
    thr = torch.cummax(thr, dim=1).values.contiguous()
    stat = IoUStat(thr, classes)
    stat.add(acts, seg)
    return stat


def _chosen_is_positive(d: LayerDissection) -> torch.Tensor:
    """[d, C] bool: the chosen level's n11·N > |A|·|S| (True where no level was chosen)."""
    c = d.counts
    lvl = d.level_uc.unsqueeze(1)  # [d, 1, C]
    n11 = c.inter.gather(1, lvl).squeeze(1).double()
    a = c.unit_on.unsqueeze(2).expand_as(c.inter).gather(1, lvl).squeeze(1).double()
    s = c.class_px.double().view(1, -1)
    return (n11 * c.pixels > a * s) | ~d.admissible_uc


def test_anti_correlated_unit_wins_only_without_the_constraint():
    g = torch.Generator().manual_seed(0)
    seg = (torch.rand(40, 16, 16, generator=g) < 0.3).long()  # class 1 on ~30 % of pixels
    noise = 0.05 * torch.rand(40, 16, 16, generator=g)
    anti = (1 - seg.float()) + noise            # fires exactly where class 1 is absent: IQR(anti, class 1) = 1
    pos = seg.float() * 0.5 + 0.1 * torch.rand(40, 16, 16, generator=g)  # weakly positive for class 1
    acts = torch.stack([anti, pos], 1)
    stat = _counts(acts, seg)
    free = LayerDissection("l", ["a", "b"], Criteria(convention="unconstrained", min_class_frac=0), stat, quantile_fractions(20))
    ref = LayerDissection("l", ["a", "b"], Criteria(convention="reference", min_class_frac=0), stat, quantile_fractions(20))
    # Unconstrained: unit 0's IQR-optimal level for class 1 is the anti-correlated one (IQR near 1 up to the level grid, IoU ≈ 0).
    assert free.iqr_uc[0, 1] > 0.8 and free.iou_uc[0, 1] < 0.05
    assert not bool(_chosen_is_positive(free)[0, 1])
    # Reference: that level is not allowed; unit 0 is labelled with class 0 (which it matches), unit 1 with class 1.
    assert bool(_chosen_is_positive(ref).all())
    rows = {r["unit"]: r for r in ref.units()}
    assert rows[0]["label"] == "a" and rows[0]["iou"] > 0.9 and rows[1]["label"] == "b"


def test_reference_never_selects_an_anti_correlated_level_on_random_counts():
    for seed in range(6):
        g = torch.Generator().manual_seed(seed)
        seg = torch.randint(0, 3, (12, 8, 8), generator=g)
        base = torch.randn(12, 6, 8, 8, generator=g)
        sign = torch.tensor([1.0, -1.0, 1.0, -1.0, 0.5, -2.0]).view(1, 6, 1, 1)
        acts = base + sign * (seg == 1).float().unsqueeze(1) * (1 + seed % 3)
        stat = _counts(acts, seg, levels=15, classes=3)
        d = LayerDissection("l", ["a", "b", "c"], Criteria(min_class_frac=0), stat, quantile_fractions(15))
        assert bool(_chosen_is_positive(d).all())
        allowed = admissible_levels(stat, d.criteria)
        assert not bool((allowed & (stat.thresholds <= 0).unsqueeze(2)).any())  # threshold > 0 only
        agree = stat.agreement()
        assert bool((agree[allowed] > 0.8).all())
        # The unconstrained convention does pick anti-correlated levels here (the units with negative sign).
        free = LayerDissection("l", ["a", "b", "c"], Criteria(convention="unconstrained", min_class_frac=0), stat,
                               quantile_fractions(15))
        if seed == 0:
            assert not bool(_chosen_is_positive(free).all())


def test_reference_thresholds_are_quantiles_of_the_upsampled_maps(gen):
    import torch.nn.functional as F

    thr_up, fr = layer_thresholds(gen, "layer1", 40, seed=2, batch_size=16, levels=10, use_cache=False, upsampled=True)
    thr_lr, _ = layer_thresholds(gen, "layer1", 40, seed=2, batch_size=16, levels=10, use_cache=False)
    with torch.no_grad():
        from ganfix.hooks import Trace

        with Trace(gen.module, ["layer1"]) as tr:
            acts = tr.run(gen.latents(range(40), 2))["layer1"]
    up = F.interpolate(acts, size=(32, 32), mode="bilinear", align_corners=False)
    direct = torch.quantile(up.transpose(0, 1).reshape(up.shape[1], -1), (1 - fr).float(), dim=1).t()
    # 40 × 32 × 32 = 40960 positions > the sketch's capacity: a sampled quantile, DKW-bounded; here close.
    assert torch.allclose(thr_up, torch.cummax(direct, 1).values, atol=0.03)
    assert not torch.allclose(thr_up, thr_lr, atol=1e-3)  # the two sources differ


def test_dissect_records_the_convention_and_refuses_unknown_ones(gen, seg):
    import pytest

    from ganfix.errors import UsageError

    res = dissect(gen, ["layer1"], seg, samples=40, seed=0, batch_size=20, use_cache=False)["layer1"]
    assert res.to_json()["criteria"]["convention"] == "reference"
    with pytest.raises(UsageError, match="convention"):
        dissect(gen, ["layer1"], seg, samples=40, seed=0, batch_size=20, use_cache=False,
                criteria=Criteria(convention="positive"))
