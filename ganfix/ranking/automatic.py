"""The automatic artifact rankers behind one call: `rank_automatic(gen, layer, by=...)`.

| by               | source                                              | needs real data + extractor |
|------------------|-----------------------------------------------------|-----------------------------|
| unit-fid         | Bau et al. 2019 (GAN Dissection), unit_fid.py        | yes                         |
| realism          | Kynkäänniemi et al. 2019, realism.py                 | yes                         |
| rare             | Choi et al. 2022, rare.py                            | no                          |
| local-activation | Jeong et al. 2022, local_activation.py               | no                          |
| artifact         | ganfix's combination of the four, combined.py        | yes (without: rare + local) |

All read one pool pass (pool.py): the generator runs once over samples 0…N−1 of `seed`.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable

import torch

from ..errors import UsageError
from ..extractors import real_features, resolve_extractor
from ..generator import Generator
from ..real_data import RealSource
from .combined import combine
from .core import Ranking
from .local_activation import local_activation_scores
from .pool import PoolPass, pool_pass
from .rare import rare_scores
from .realism import realism_scores, realism_unit_scores
from .unit_fid import default_top, rank_by_scores, unit_fid_scores

NEEDS_REAL = {"unit-fid": True, "realism": True, "rare": False, "local-activation": False, "artifact": True}
DESCRIPTIONS = {
    "unit-fid": "FD of each unit's top pool samples vs the real set (Bau et al. 2019)",
    "realism": "how much less realistic (Kynkäänniemi et al. 2019) a unit's top samples are",
    "rare": "rarely activated units (Choi et al. 2022)",
    "local-activation": "activation concentrated in one spot (Jeong et al. 2022), no real data",
    "artifact": "ganfix's weighted combination of the four",
}
AUTOMATIC = tuple(NEEDS_REAL)


@dataclass
class AutoRanking:
    ranking: Ranking
    methods: dict[str, torch.Tensor]          # method → [d] scores (higher = more artifact-like)
    pool: PoolPass
    realism: torch.Tensor | None = None       # [N] per-sample realism (when real data was used)
    settings: dict = field(default_factory=dict)

    def unit_rows(self) -> list[dict]:
        """One dict per unit, best first: rank, unit, score and every method's score."""
        return [{"rank": i + 1, "unit": u, "score": float(self.ranking.scores[u]),
                 "methods": {m: float(s[u]) for m, s in self.methods.items()}} for i, u in enumerate(self.ranking.order)]

    def to_dict(self) -> dict:
        return {**self.ranking.to_dict(), "settings": self.settings, "units": self.unit_rows()}


def check_by(by: str) -> None:
    if by not in AUTOMATIC:
        raise UsageError(f"unknown automatic ranking {by!r}; choose one of: {', '.join(AUTOMATIC)}")


@torch.no_grad()
def rank_automatic(gen: Generator, layer: str, by: str = "artifact", real: RealSource | None = None,
                   features: str = "inception", samples: int = 2000, seed: int = 0, top: int | None = None,
                   inception_weights: str | None = None, batch_size: int = 64, use_cache: bool = True,
                   weights: dict[str, float] | None = None, on_batch: Callable[[int], None] | None = None) -> AutoRanking:
    """Rank `layer`'s units by an automatic artifact ranker on one pool of `samples` seeded samples.

    `real` (and an extractor) is needed for unit-fid and realism; `artifact` uses them when given and
    falls back to rare + local-activation otherwise. `top`: the samples per unit (default 10 % of the pool)."""
    check_by(by)
    info = gen.layer(layer)
    if samples < 10:
        raise UsageError(f"automatic rankers need at least 10 samples in the pool, got {samples}")
    n_top = top or default_top(samples)
    if not 2 <= n_top <= samples:
        raise UsageError(f"top_samples must be between 2 and samples={samples}, got {n_top}")
    use_real = real is not None and NEEDS_REAL[by]
    if NEEDS_REAL[by] and by != "artifact" and real is None:
        raise UsageError(f"by={by} compares samples with real images: give real=FOLDER (or real=world for toyscenes)")
    extractor = resolve_extractor(features, inception_weights) if use_real else None
    pool = pool_pass(gen, layer, samples, seed, extractor, batch_size, use_cache, on_batch)
    real_feats = real_features(real, samples, extractor, batch_size, use_cache) if use_real else None
    wanted = [m for m in NEEDS_REAL if m != "artifact"] if by == "artifact" else [by]
    methods, realism = method_scores(pool, real_feats, wanted, n_top)
    scores = combine(methods, weights) if by == "artifact" else methods[by]
    settings = {"by": by, "layer": layer, "units": info.units, "samples": samples, "seed": seed, "top_samples": n_top,
                "features": extractor.name if extractor else None,
                "real": real.identity(samples) if use_real else None, "methods": list(methods)}
    return AutoRanking(rank_by_scores(layer, by, scores), methods, pool, realism, settings)


def method_scores(pool: PoolPass, real_feats: torch.Tensor | None, wanted: list[str], top: int,
                  timings: dict[str, float] | None = None) -> tuple[dict[str, torch.Tensor], torch.Tensor | None]:
    """Unit scores of each wanted method on one pool (methods needing real data are skipped without it);
    also the per-sample realism when computed. `timings` (if given) receives seconds per method."""
    import time

    methods: dict[str, torch.Tensor] = {}
    realism = None
    for m in wanted:
        if NEEDS_REAL[m] and real_feats is None:
            continue
        t0 = time.perf_counter()
        if m == "unit-fid":
            methods[m] = unit_fid_scores(pool, real_feats, top)
        elif m == "realism":
            realism = realism_scores(pool.features, real_feats)
            methods[m] = realism_unit_scores(pool, realism, top)
        elif m == "rare":
            methods[m] = rare_scores(pool)
        elif m == "local-activation":
            methods[m] = local_activation_scores(pool, top)
        if timings is not None:
            timings[m] = time.perf_counter() - t0
    return methods, realism
