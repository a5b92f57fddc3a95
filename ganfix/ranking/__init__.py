"""Rank the units of a layer: statistics rankers (max, mean, sparsity) and the ablation scan."""
from .core import Ranking, rank_units, register_strategy, strategies

__all__ = ["Ranking", "rank_units", "register_strategy", "strategies"]
