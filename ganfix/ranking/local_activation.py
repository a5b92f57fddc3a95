"""`local-activation`: after Jeong, Ji, Kang and Choi (AAAI 2022, "An Unsupervised Way to Understand
Artifact Generating Internal Units in Generative Neural Networks"), who observed that units causing
artifacts fire in a small, concentrated spot, and scored units and generations by that *local
activation* without real data or an external network.

Our reading: per sample and unit, the share of the map's above-median activation mass that lies in a
small window around its peak (3×3 cells up to 8×8 maps, larger on larger maps; ranking/pool.py),
weighted by how strongly the unit fires there relative to its own strong firing. A unit scores the
mean of that over its top samples (where it fires most) in which it is *on* (peak at least half its
strong firing, as in rare.py), so a rarely firing unit is judged on the samples where it fires.
Needs no real data and no extractor.
"""
from __future__ import annotations

import torch

from .pool import PoolPass


def local_activation_scores(pool: PoolPass, top: int) -> torch.Tensor:
    from .rare import activation_frequency

    out = []
    peak = pool.peak.float()
    _, threshold = activation_frequency(pool)
    for u in range(peak.shape[1]):
        rows = pool.top_rows(u, top)
        on = rows[peak[rows, u] >= threshold[u]]
        rows = on if len(on) else rows[:1]
        strong = peak[rows, u].mean()
        rel = (peak[rows, u] / strong).clamp(0, 1) if strong > 0 else torch.zeros(len(rows))
        out.append(float((pool.local[rows, u] * rel).mean()))
    return torch.tensor(out)
