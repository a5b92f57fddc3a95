"""Rank the units of a layer by a score computed from UnitStats.

Strategies (higher score ranks first):
- max:      mean of the unit's top-k per-sample maxima (how strongly it can fire);
- mean:     mean activation over all samples and positions;
- sparsity: top-k mean ÷ (|0.99 quantile| + std + 1e-6): units that fire strongly in rare places
            (artifact candidates) score high, units that are on everywhere score ~1.
More strategies plug in with `register_strategy(name, fn)` (e.g. IoU with a class, artifact score).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable

import torch

from ..errors import UsageError
from ..stats import UnitStats

Strategy = Callable[[UnitStats], torch.Tensor]
_STRATEGIES: dict[str, tuple[Strategy, str]] = {}


def register_strategy(name: str, fn: Strategy, description: str = "") -> None:
    _STRATEGIES[name] = (fn, description)


def strategies() -> dict[str, str]:
    return {k: v[1] for k, v in _STRATEGIES.items()}


def _topk_mean(stats: UnitStats) -> torch.Tensor:
    vals = stats.topk.values
    finite = torch.isfinite(vals)
    return torch.where(finite, vals, torch.zeros_like(vals)).sum(1) / finite.sum(1).clamp_min(1)


register_strategy("max", _topk_mean, "mean of the top-k per-sample maxima")
register_strategy("mean", lambda s: s.mean, "mean activation")
register_strategy("sparsity", lambda s: _topk_mean(s) / (s.quantile(0.99).abs() + s.std + 1e-6),
                  "strong but rare firing: top-k mean ÷ (|q99| + std)")


@dataclass
class Ranking:
    layer: str
    by: str
    scores: torch.Tensor  # [d], one per unit
    order: list[int] = field(default_factory=list)  # unit ids, best first

    def top(self, n: int) -> list[int]:
        return self.order[:n]

    def rank_of(self, unit: int) -> int:
        return self.order.index(unit)

    def to_dict(self) -> dict:
        return {"layer": self.layer, "by": self.by, "order": self.order,
                "scores": [float(self.scores[u]) for u in range(len(self.scores))]}


def rank_units(stats: UnitStats, by: str = "max", layer: str | None = None) -> Ranking:
    if by not in _STRATEGIES:
        raise UsageError(f"unknown ranking {by!r}; choose one of: {', '.join(_STRATEGIES)}")
    scores = _STRATEGIES[by][0](stats).float()
    # Stable sort: equal scores keep unit order, so rankings are deterministic.
    order = torch.argsort(-scores, stable=True).tolist()
    return Ranking(layer or stats.meta.get("layer", "?"), by, scores, order)
