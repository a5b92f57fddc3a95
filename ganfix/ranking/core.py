"""A Ranking of a layer's units, and `rank_units` for the rankers computed from UnitStats alone.

The statistics rankers (higher score ranks first):
- max:      mean of the unit's top-k per-sample maxima (how strongly it can fire);
- mean:     mean activation over all samples and positions;
- sparsity: top-k mean ÷ (|0.99 quantile| + std + 1e-6): units that fire strongly in rare places
            (artifact candidates) score high, units that are on everywhere score ~1.
They are registered with the other rankers (ablation, iou:<class>, ace:<class>) in ganfix.ranking.builtin.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Optional

import torch

from ..errors import UsageError
from ..stats import UnitStats


def topk_mean(stats: UnitStats) -> torch.Tensor:
    vals = stats.topk.values
    finite = torch.isfinite(vals)
    return torch.where(finite, vals, torch.zeros_like(vals)).sum(1) / finite.sum(1).clamp_min(1)


def sparsity(stats: UnitStats) -> torch.Tensor:
    return topk_mean(stats) / (stats.quantile(0.99).abs() + stats.std + 1e-6)


@dataclass
class Ranking:
    layer: str
    by: str
    scores: torch.Tensor  # [d], one per unit
    order: list[int] = field(default_factory=list)  # unit ids, best first
    details: dict[str, Any] = field(default_factory=dict, repr=False)  # what the ranker found on the way (e.g. "scan")
    stats: Optional[UnitStats] = field(default=None, repr=False)      # the layer's statistics pass, when one ran

    def top(self, n: int) -> list[int]:
        return self.order[:n]

    def rank_of(self, unit: int) -> int:
        return self.order.index(unit)

    def to_dict(self) -> dict:
        return {"layer": self.layer, "by": self.by, "order": self.order,
                "scores": [float(self.scores[u]) for u in range(len(self.scores))]}


def strategies() -> dict[str, str]:
    """The rankers computed from UnitStats alone (name → description)."""
    from .registry import StatsRanker, rankers

    return {n: r.description for n, r in rankers().items() if isinstance(r, StatsRanker)}


def rank_units(stats: UnitStats, by: str = "max", layer: str | None = None) -> Ranking:
    """Rank from a statistics pass already made (`ganfix.rank(gen, layer, by=…)` runs any ranker)."""
    from .registry import StatsRanker, get_ranker

    ranker, _ = get_ranker(by)
    if not isinstance(ranker, StatsRanker):
        raise UsageError(f"ranking {by!r} is not computed from unit statistics; use ganfix.rank(gen, layer, by={by!r})")
    scores = ranker.scores(stats)
    # Stable sort: equal scores keep unit order, so rankings are deterministic.
    order = torch.argsort(-scores, stable=True).tolist()
    return Ranking(layer or stats.meta.get("layer", "?"), by, scores, order, stats=stats)
