"""Rank the units of a layer: one registry of named rankers (max, mean, sparsity, ablation, iou:<class>,
ace:<class>, and any registered with `register_ranker`), all run through `ganfix.rank(gen, layer, by=…)`."""
from .core import Ranking, rank_units, strategies
from .registry import (RankContext, Ranker, StatsRanker, get_ranker, ranker_names, rankers, register_ranker,
                       register_strategy)

__all__ = ["Ranking", "rank_units", "strategies", "RankContext", "Ranker", "StatsRanker", "get_ranker",
           "ranker_names", "rankers", "register_ranker", "register_strategy"]
