"""The product's metrics provider: FID/KID and repair reports from the score and repair workflows."""
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
            self._real = real_source_for(gen, self.cfg.real, option="real = ")
        return self._real

    def score(self, gen) -> dict:
        from ..workflow.score import score

        c = self.cfg
        return score(gen, real=self.real(gen), features=c.features, samples=c.samples, seed=c.seed,
                     inception_weights=c.inception_weights, use_cache=self.use_cache, progress=False).metrics

    def repair(self, gen, patch) -> dict:
        from ..workflow.repair import repair

        c = self.cfg
        return repair(gen, patch, real=self.real(gen), features=c.features, samples=c.samples, seed=c.seed,
                      random_draws=c.random_draws, bootstrap=c.bootstrap, inception_weights=c.inception_weights,
                      use_cache=self.use_cache, progress=False).report
