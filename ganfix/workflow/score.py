"""`ganfix.score(gen, patch=None, real=…, features=…)`: FID/KID of a generator (optionally patched) → Score."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Optional

from .. import defaults
from ..generator import Generator
from ..inputs import check_features, open_real
from ..ranking.registry import progress_factory
from .repair import as_patch


@dataclass
class Score:
    """score_generator's numbers (fid, kid_mean, kid_std, samples, features, feature_layer) and what was scored."""
    metrics: dict
    generator: dict
    patch: object = field(default=None, repr=False)

    @property
    def fid(self) -> float:
        return self.metrics["fid"]

    def to_json(self) -> dict:
        p = self.patch
        return {"generator": self.generator, "patched_units": p.units if p else None, "layer": p.layer if p else None,
                **self.metrics}


def score(gen: Generator, patch=None, *, real: Optional[str] = None, features: Optional[str] = None,
          samples: int = defaults.SCORE_SAMPLES, seed: int = defaults.SEED, real_seed: int = defaults.REAL_SEED,
          inception_weights: Optional[str] = None, kid_subset_size: Optional[int] = defaults.KID_SUBSET_SIZE,
          batch_size: int = defaults.BATCH_SIZE, force: bool = False, offline: Optional[bool] = None,
          use_cache: bool = True, progress=None) -> Score:
    """FID/KID of samples 0…N−1 (with `patch` applied: a Patch or an AnnotationSet) against N real images."""
    from ..inputs import at_least
    from ..scoring import check_kid_subset, score_generator

    at_least("samples", samples, 1)
    at_least("batch_size", batch_size, 1)
    check_kid_subset(samples, kid_subset_size)
    patch = as_patch(gen, patch, force) if patch is not None else None
    real_src = open_real(gen, real, real_seed, samples)
    features = check_features(gen, features, inception_weights, offline)
    with progress_factory(progress)("scoring", samples) as step:
        metrics = score_generator(gen, real_src, features, samples, seed, patch, inception_weights, kid_subset_size,
                                  batch_size, use_cache, on_batch=step, offline=offline)
    return Score(metrics, gen.describe(), patch)
