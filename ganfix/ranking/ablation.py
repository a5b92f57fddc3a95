"""Single-unit ablation scan: how FID/KID change when each unit of a layer is ablated alone.

A shortlist for labelling artifacts (the ranking strategy `ablation`): a unit whose removal lowers
FID is a candidate artifact unit; one whose removal raises it carries content the images need.
It is a shortlist, not a verdict: confirm each candidate on its contact sheet before labelling it,
and score the final set on *other* latents (another --seed) than the scan used, since choosing
units by their FID on one set of latents and scoring them on the same latents flatters the result.

All variants use the same latents and one real feature set; generated features are cached per
(model, unit, ids, seed, extractor), so a second scan costs only the FID arithmetic.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Callable, Sequence

import torch

from .. import defaults
from ..extractors import real_features, resolve_extractor
from ..generator import Generator
from ..patch import Patch
from .core import Ranking
from ..real_data import RealSource
from ..scoring import check_kid_subset, fid, generated_features, kid, real_stats


@dataclass
class AblationScan:
    layer: str
    features: str
    samples: int
    seed: int
    num_units: int
    base_fid: float
    base_kid: float
    units: list[int]
    delta_fid: list[float]  # FID(unit ablated) − FID(original), one per entry of `units`
    delta_kid: list[float]

    def ranking(self) -> Ranking:
        """Units whose ablation lowers FID most rank first; units not scanned rank last."""
        scores = torch.full((self.num_units,), float("-inf"))
        scores[torch.tensor(self.units)] = -torch.tensor(self.delta_fid, dtype=torch.float32)
        return Ranking(self.layer, "ablation", scores, torch.argsort(-scores, stable=True).tolist())

    def helpful(self) -> list[int]:
        """Scanned units whose lone ablation lowered FID, largest drop first."""
        return [u for u, d in sorted(zip(self.units, self.delta_fid), key=lambda ud: ud[1]) if d < 0]

    def delta(self, unit: int) -> tuple[float, float] | None:
        if unit not in self.units:
            return None
        i = self.units.index(unit)
        return self.delta_fid[i], self.delta_kid[i]

    def to_dict(self) -> dict:
        return asdict(self)


@dataclass
class GreedySet:
    """Units kept by forward selection in scan order, and FID after each accepted step."""
    units: list[int]
    fids: list[float]          # FID with units[:i+1] ablated
    base_fid: float
    tried: int                 # candidates evaluated

    def to_dict(self) -> dict:
        return asdict(self)


class _Variants:
    """One real feature set and the generated features of any patch variant, all on samples 0…N−1."""

    def __init__(self, gen, real, features, samples, seed, inception_weights, batch_size, use_cache):
        from ..real_sets import offline_features_for

        self.extractor = resolve_extractor(features or defaults.features_for(gen), inception_weights, None,
                                           offline_features_for(gen))
        self._fe = self.extractor.build()
        self.real_feats = real_features(real, samples, self.extractor, batch_size, use_cache)
        self.rstats = real_stats(self.real_feats)
        self.gen, self.ids, self.seed, self.batch_size, self.use_cache = gen, list(range(samples)), seed, batch_size, use_cache

    def features(self, patch: Patch | None) -> torch.Tensor:
        return generated_features(self.gen, self.ids, self.seed, self.extractor, self._fe, patch, self.batch_size, None,
                                  self.use_cache)

    def fid(self, patch: Patch | None) -> float:
        return fid(self.features(patch), self.rstats)


@torch.no_grad()
def greedy_set(gen: Generator, scan: AblationScan, real: RealSource, features: str, max_units: int = 20,
               inception_weights: str | None = None, batch_size: int = 64, use_cache: bool = True,
               on_step: Callable[[int], None] | None = None) -> GreedySet:
    """Forward selection over the scan's helpful units (ΔFID < 0), best first: a unit joins the set only if
    ablating it together with the set so far lowers FID further. Single-unit effects do not add up (two
    units that each help can hurt together), so this checks each addition on the same latents as the scan.
    A suggestion to confirm on the contact sheets and to score on other latents, not a verdict."""
    variants = _Variants(gen, real, features, scan.samples, scan.seed, inception_weights, batch_size, use_cache)
    kept: list[int] = []
    fids: list[float] = []
    best = scan.base_fid
    tried = 0
    for u in scan.helpful():
        if len(kept) >= max_units:
            break
        trial = sorted(kept + [u])
        f = variants.fid(Patch(scan.layer, trial, model_name=gen.name, fingerprint=gen.fingerprint))
        tried += 1
        if f < best:
            kept.append(u)
            fids.append(f)
            best = f
        if on_step:
            on_step(u)
    return GreedySet(kept, fids, scan.base_fid, tried)


@torch.no_grad()
def scan_ablations(gen: Generator, layer: str, real: RealSource, features: str | None = None,
                   samples: int = defaults.SCAN_SAMPLES, seed: int = defaults.SEED, units: Sequence[int] | None = None,
                   inception_weights: str | None = None, kid_subset_size: int | None = defaults.KID_SUBSET_SIZE,
                   batch_size: int = defaults.BATCH_SIZE, use_cache: bool = True,
                   on_unit: Callable[[int], None] | None = None,
                   kid_subsets: int = defaults.SCAN_KID_SUBSETS) -> AblationScan:
    """Ablate each unit alone (k = 0 everywhere) on samples 0…N−1 and measure ΔFID, ΔKID vs the original."""
    info = gen.layer(layer)
    units = list(range(info.units)) if units is None else list(gen.check_units(layer, units))
    subset = check_kid_subset(samples, kid_subset_size)
    variants = _Variants(gen, real, features, samples, seed, inception_weights, batch_size, use_cache)

    def measure(patch: Patch | None) -> tuple[float, float]:
        feats = variants.features(patch)
        return fid(feats, variants.rstats), kid(feats, variants.real_feats, subset, kid_subsets, seed=seed)[0]

    base_fid, base_kid = measure(None)
    d_fid, d_kid = [], []
    for u in units:
        f, k = measure(Patch(layer, [u], model_name=gen.name, fingerprint=gen.fingerprint))
        d_fid.append(f - base_fid)
        d_kid.append(k - base_kid)
        if on_unit:
            on_unit(u)
    return AblationScan(layer, variants.extractor.name, samples, seed, info.units, base_fid, base_kid, units, d_fid, d_kid)
