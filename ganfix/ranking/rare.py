"""`rare`: rarely activated units, after Choi, Chang and Choi (IJCAI 2022, "Can We Find Neurons that Cause
Unrealistic Images in Deep Generative Networks?"), who found that the units that fire in few
generations are the ones tied to failed objects and artifacts.

Our reading, on ganfix's streaming per-sample statistics (the pool pass's per-sample spatial max): a
unit is *on* in a sample when its peak reaches half of its own strong firing (the mean of its top 1 %
of peaks); its activation frequency f_u is the share of samples where it is on, and the score is
−log f_u (rarer = higher). Units that never fire (top-1 % peak ≤ 0) score lowest: a dead unit
draws nothing.
"""
from __future__ import annotations

import math

import torch

from .pool import PoolPass

ON_FRACTION = 0.5


def activation_frequency(pool: PoolPass, on_fraction: float = ON_FRACTION) -> tuple[torch.Tensor, torch.Tensor]:
    """(frequency [d], on-threshold [d]) from the pool's per-sample peaks."""
    peak = pool.peak.float()
    n_top = max(1, peak.shape[0] // 100)
    strong = peak.topk(n_top, dim=0).values.mean(0)
    threshold = on_fraction * strong
    freq = (peak >= threshold.unsqueeze(0)).float().mean(0)
    return freq, threshold


def rare_scores(pool: PoolPass) -> torch.Tensor:
    freq, threshold = activation_frequency(pool)
    scores = -torch.log(freq.clamp_min(1.0 / (pool.samples + 1))) + 0.0  # + 0.0: −log 1 is −0.0, shown as -0.000
    dead = threshold <= 0
    return torch.where(dead, torch.full_like(scores, -math.inf), scores)
