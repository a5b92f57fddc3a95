"""Per-unit candidate thresholds: activation quantiles at levels 1 − f, f = logspace(-3, 0, L).

Two sources, one per IQR convention (see result.Criteria and docs/dissection.md):
- `reference` (the default, as GAN Dissection's code): quantiles of the *upsampled* maps, the same
  values the IoU pass thresholds (ganfix.dissection.run.upsampled_quantile_sample);
- `unconstrained`: quantiles of the layer-resolution maps from the streaming unit statistics
  (`tally_unit_stats(...).quantile`).
Either way they are the same whatever the batch size; the IoU pass then only counts pixels above
each of them.
"""
from __future__ import annotations

import torch



def quantile_fractions(levels: int = 100) -> torch.Tensor:
    """Fractions f of positions above the threshold, ascending in threshold (f from 1 down to 1e-3)."""
    if levels < 2:
        raise ValueError("need at least 2 threshold levels")
    return torch.logspace(-3, 0, levels, dtype=torch.float64).flip(0)


def unit_thresholds(stats, levels: int = 100) -> tuple[torch.Tensor, torch.Tensor]:
    """([d, L] float32 thresholds, non-decreasing along L; [L] fractions f).

    `stats`: anything with `.quantile(list of q) -> [d, len(q)]` (UnitStats, PositionSample)."""
    fracs = quantile_fractions(levels)
    thr = stats.quantile((1.0 - fracs).tolist()).float()
    # Interpolated quantiles are monotone in q; cummax guards against float rounding so searchsorted is valid.
    thr = torch.cummax(thr, dim=1).values.contiguous()
    return thr, fracs
