"""The product's metrics provider: FID/KID and repair reports from ganfix.scoring (torch-fidelity)."""
from __future__ import annotations

from .config import CheckConfig


class ScoringMetrics:
    """Scores a generator with the settings of a CheckConfig; the real-data source is built once."""

    def __init__(self, cfg: CheckConfig, use_cache: bool = True):
        self.cfg = cfg
        self.use_cache = use_cache
        self._real = None

    def real(self, gen):
        from ..real_sets import real_source_for

        if self._real is None:
            # Real images are resized to the generator's output size (and checked to fit it), so both sides
            # of the Fréchet distance go through the feature extractor at the same resolution.
            self._real = real_source_for(gen, self.cfg.real, option="real =")
        return self._real

    def score(self, gen) -> dict:
        from ..scoring import score_generator

        return score_generator(gen, self.real(gen), features=self.cfg.features, samples=self.cfg.samples,
                               seed=self.cfg.seed, inception_weights=self.cfg.inception_weights, use_cache=self.use_cache)

    def repair(self, gen, patch) -> dict:
        from ..scoring import score_repair

        return score_repair(gen, patch, self.real(gen), features=self.cfg.features, samples=self.cfg.samples,
                            seed=self.cfg.seed, random_draws=self.cfg.random_draws,
                            bootstrap=self.cfg.bootstrap,
                            inception_weights=self.cfg.inception_weights, use_cache=self.use_cache)
