"""`unit-fid`: the automatic variant of GAN Dissection (Bau et al., ICLR 2019, "GAN Dissection: Visualizing
and Understanding Generative Adversarial Networks", §4 / appendix on artifact units).

The paper computed, for each unit, the FID of the images where that unit is most active (the top 10k
of 200k samples) against the real set: units whose top images are far from the real distribution are
artifact candidates. Here: the Fréchet distance (in the chosen extractor's feature space; Inception
FID with `--features inception`) between the real set and the `top` pool samples with the largest
spatial max of the unit. The pool's features are extracted once (ranking/pool.py) and every unit is
scored on a row subset, so the cost is one generation pass plus one FD per unit.
"""
from __future__ import annotations

import torch

from ..scoring import fid, real_stats
from .core import Ranking
from .pool import PoolPass


def default_top(samples: int) -> int:
    """10 % of the pool (the paper: 5 %, 10k of 200k); at least 2 rows."""
    return max(2, samples // 10)


def unit_fid_scores(pool: PoolPass, real_feats: torch.Tensor, top: int | None = None) -> torch.Tensor:
    if pool.features is None:
        raise ValueError("unit-fid needs a pool pass with features")
    n = top or default_top(pool.samples)
    rstats = real_stats(real_feats)
    return torch.tensor([fid(pool.features[pool.top_rows(u, n)], rstats) for u in range(pool.peak.shape[1])])


def rank_by_scores(layer: str, by: str, scores: torch.Tensor) -> Ranking:
    scores = scores.float()
    safe = torch.where(torch.isfinite(scores), scores, torch.full_like(scores, float("-inf")))
    return Ranking(layer, by, scores, torch.argsort(-safe, stable=True).tolist())
