"""`realism`: the per-sample realism score of Kynkäänniemi et al. (NeurIPS 2019, "Improved Precision and
Recall Metric for Assessing Generative Models", §5), turned into a unit ranking.

Realism of a generated sample with features g, against real features r_1…r_M:
    R(g) = max_i  radius_k(r_i) / ‖g − r_i‖,
where radius_k(r_i) is the distance from r_i to its k-th nearest real neighbour (k = 3, as in the
paper), and only the half of the real samples with the smallest radii take part (the paper prunes the
largest hyperspheres so that outliers in the real set do not make everything look real). R ≥ 1 means
the sample lies inside some real sample's k-NN ball. Ranking: a unit scores
    mean R over the pool − mean R over the unit's top samples,
i.e. how much less realistic the samples where it fires most are than a typical sample.
"""
from __future__ import annotations

import torch

from .pool import PoolPass

K_NEIGHBOURS = 3


def _cdist(a: torch.Tensor, b: torch.Tensor, chunk: int = 1024) -> torch.Tensor:
    return torch.cat([torch.cdist(a[i:i + chunk].double(), b.double()) for i in range(0, len(a), chunk)])


def real_radii(real_feats: torch.Tensor, k: int = K_NEIGHBOURS) -> torch.Tensor:
    d = _cdist(real_feats, real_feats)
    return d.kthvalue(k + 1, dim=1).values  # +1: the zero distance to itself


def realism_scores(gen_feats: torch.Tensor, real_feats: torch.Tensor, k: int = K_NEIGHBOURS) -> torch.Tensor:
    """R(g) for every row of gen_feats; [N] float64."""
    radii = real_radii(real_feats, k)
    keep = radii <= radii.median()
    radii, real = radii[keep], real_feats[keep]
    d = _cdist(gen_feats, real).clamp_min(1e-12)
    return (radii.unsqueeze(0) / d).amax(1)


def realism_unit_scores(pool: PoolPass, realism: torch.Tensor, top: int) -> torch.Tensor:
    base = realism.mean()
    return torch.tensor([float(base - realism[pool.top_rows(u, top)].mean()) for u in range(pool.peak.shape[1])])
