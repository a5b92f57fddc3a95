"""Sequential ablation across layers (Tousi et al., CVPR 2021, "Automatic Correction of Internal Units in
Generative Neural Networks"; Choi et al., IJCAI 2022, "sequential ablation"): detect artifact units at the
first layer, ablate them, *re-detect* at the next layer on the patched generator, and so on, since
ablating units upstream changes what the later layers draw.

Detection at each layer is an automatic ranker (`artifact` by default, ganfix.ranking.automatic) on
`samples` detection latents (`seed`); the top `per_layer` units are ablated (k = 0).

Evaluation on *other* latents (`eval_seed`, `eval_samples`) against the real set:
- artifact samples: the `artifact_fraction` of evaluation samples with the lowest realism (Kynkäänniemi
  et al. 2019) on the original generator; normal samples: the half with the highest realism;
- per variant: FD of the artifact samples and of all samples against the real set (the extractor's
  space), and how much normal samples change: mean feature distance ‖φ(x) − φ(x')‖ and mean absolute
  pixel change (images in [0, 1]) between original and patched;
- variants: original, sequential (all layers), one-layer (the same number of units detected at the first
  layer alone), and random (the same number of random units per layer; `random_draws` draws, mean ± std).
"""
from __future__ import annotations

from contextlib import ExitStack
from dataclasses import dataclass, field
from typing import Callable, Sequence

import numpy as np
import torch

from ..errors import UsageError
from ..extractors import extract, real_features, resolve_extractor
from ..generator import Generator
from ..patch import Patch
from ..real_data import RealSource
from ..scoring import fid, real_stats


@dataclass
class SequentialResult:
    steps: list[dict]                       # per layer: layer, units (ablated), top scores
    variants: dict[str, dict]               # name → metrics
    settings: dict = field(default_factory=dict)

    @property
    def patches(self) -> list[Patch]:
        return [Patch(s["layer"], s["units"]) for s in self.steps if s["units"]]

    def to_dict(self) -> dict:
        return {"schema": "ganfix.sequential/1", "settings": self.settings, "steps": self.steps, "variants": self.variants}


@torch.no_grad()
def _generate(gen: Generator, ids: list[int], seed: int, patches: Sequence[Patch], extractor, fe, batch_size: int):
    feats, images = [], []
    with ExitStack() as stack:
        for p in patches:
            stack.enter_context(p.applied(gen))
        for lo in range(0, len(ids), batch_size):
            img = gen.to_uint8(gen.module(gen.latents(ids[lo:lo + batch_size], seed))).cpu()
            images.append(img)
            feats.append(extract(extractor, img, batch_size, fe))
    return torch.cat(feats), torch.cat(images)


def detect(gen: Generator, layer: str, patches: Sequence[Patch], by: str, real: RealSource | None, features: str,
           samples: int, seed: int, per_layer: int, inception_weights: str | None = None, batch_size: int = 64,
           on_batch: Callable[[int], None] | None = None) -> dict:
    """The top `per_layer` units of `layer` by `by`, on the generator with `patches` applied."""
    from ..ranking.automatic import rank_automatic

    with ExitStack() as stack:
        for p in patches:
            stack.enter_context(p.applied(gen))
        # No cache: the pool-pass cache is keyed by the model, not by the patches applied to it.
        auto = rank_automatic(gen, layer, by, real, features, samples, seed, None, inception_weights, batch_size,
                              use_cache=False, on_batch=on_batch)
    units = sorted(auto.ranking.top(per_layer))
    return {"layer": layer, "units": units, "scores": {str(u): float(auto.ranking.scores[u]) for u in units}}


def check_layers(gen: Generator, layers: Sequence[str]) -> list[str]:
    """Known, distinct, in forward order (UsageError otherwise)."""
    layers = list(layers)
    if not layers:
        raise UsageError("layers must name at least one layer, e.g. layers=layer4,layer5,layer6")
    if len(set(layers)) != len(layers):
        raise UsageError(f"layers={','.join(layers)} lists a layer twice")
    order = list(gen.layers)
    for name in layers:
        gen.layer(name)
    if [order.index(n) for n in layers] != sorted(order.index(n) for n in layers):
        raise UsageError(f"layers must be in forward order ({', '.join(n for n in order if n in layers)})")
    return layers


@torch.no_grad()
def sequential_repair(gen: Generator, layers: Sequence[str], real: RealSource, features: str = "inception",
                      by: str = "artifact", per_layer: int = 4, samples: int = 1000, seed: int = 0,
                      eval_samples: int = 1000, eval_seed: int = 1, artifact_fraction: float = 0.2,
                      random_draws: int = 3, inception_weights: str | None = None, batch_size: int = 64,
                      eval_real: RealSource | None = None, on_stage: Callable[[str], None] | None = None) -> SequentialResult:
    layers = check_layers(gen, layers)
    if per_layer < 1:
        raise UsageError(f"per_layer must be at least 1, got {per_layer}")
    if not 0 < artifact_fraction <= 0.5:
        raise UsageError(f"artifact_fraction must be in (0, 0.5], got {artifact_fraction}")
    if random_draws < 1:
        raise UsageError(f"random_draws must be at least 1, got {random_draws}")
    n_art = max(2, int(round(eval_samples * artifact_fraction)))
    if eval_samples < 10:
        raise UsageError(f"eval_samples must be at least 10, got {eval_samples}")
    extractor = resolve_extractor(features, inception_weights)
    fe = extractor.build()
    say = on_stage or (lambda s: None)

    steps: list[dict] = []
    patches: list[Patch] = []
    for name in layers:
        say(f"detect {name}")
        step = detect(gen, name, patches, by, real, features, samples, seed, per_layer, inception_weights, batch_size)
        steps.append(step)
        patches.append(Patch(name, step["units"], model_name=gen.name, fingerprint=gen.fingerprint))
    total = sum(len(p.units) for p in patches)
    say(f"detect {layers[0]} (one layer, {total} units)")
    one = detect(gen, layers[0], [], by, real, features, samples, seed, min(total, gen.layer(layers[0]).units),
                 inception_weights, batch_size)
    one_layer = [Patch(layers[0], one["units"], model_name=gen.name, fingerprint=gen.fingerprint)]

    from ..ranking.realism import realism_scores

    ids = list(range(eval_samples))
    rfeats = real_features(eval_real or real, eval_samples, extractor, batch_size)
    rstats = real_stats(rfeats)
    say("evaluate original")
    f0, x0 = _generate(gen, ids, eval_seed, [], extractor, fe, batch_size)
    realism = realism_scores(f0, rfeats)
    by_realism = torch.argsort(realism, stable=True)
    art = by_realism[:n_art]
    normal = by_realism[len(ids) // 2:]

    def metrics(feats: torch.Tensor, images: torch.Tensor) -> dict:
        dpix = (images.float() - x0.float()).abs().mean((1, 2, 3)) / 255
        dfeat = (feats - f0).norm(dim=1)
        return {"fd_artifact_samples": fid(feats[art], rstats), "fd_all": fid(feats, rstats),
                "normal_feature_change": float(dfeat[normal].mean()), "normal_pixel_change": float(dpix[normal].mean()),
                "artifact_pixel_change": float(dpix[art].mean())}

    variants = {"original": metrics(f0, x0)}
    for vname, ps in (("sequential", patches), ("one-layer", one_layer)):
        say(f"evaluate {vname}")
        variants[vname] = {**metrics(*_generate(gen, ids, eval_seed, ps, extractor, fe, batch_size)),
                           "units": {p.layer: p.units for p in ps}}
    draws = []
    for d in range(random_draws):
        say(f"evaluate random {d + 1}/{random_draws}")
        rps = [p.random_like(gen.layer(p.layer).units, d, seed) for p in patches]
        draws.append({**metrics(*_generate(gen, ids, eval_seed, rps, extractor, fe, batch_size)),
                      "units": {p.layer: p.units for p in rps}})
    keys = [k for k in draws[0] if k != "units"]
    variants["random"] = {**{k: float(np.mean([d[k] for d in draws])) for k in keys},
                          **{f"{k}_std": float(np.std([d[k] for d in draws], ddof=1)) if len(draws) > 1 else 0.0 for k in keys},
                          "draws": draws}
    settings = {"generator": gen.name, "fingerprint": gen.fingerprint, "layers": layers, "by": by, "per_layer": per_layer,
                "samples": samples, "seed": seed, "eval_samples": eval_samples, "eval_seed": eval_seed,
                "artifact_samples": n_art, "normal_samples": len(normal), "features": extractor.name,
                "real": real.identity(samples),
                "eval_real": (eval_real or real).identity(eval_samples), "random_draws": random_draws}
    return SequentialResult(steps, variants, settings)


def run_sequential(gen: Generator, layers: str | Sequence[str], out=None, real: str | None = None,
                   features: str | None = None, real_seed: int = 1, inception_weights: str | None = None,
                   by: str = "artifact", per_layer: int = 4, samples: int = 1000, seed: int = 0,
                   eval_seed: int | None = None, artifact_fraction: float = 0.2, random_draws: int = 3,
                   batch_size: int = 64, on_stage: Callable[[str], None] | None = None) -> SequentialResult:
    """`ganfix repair --sequential`: `layers` ("layer4,layer5" or a list) checked, the real set `real` (a folder or
    "world"; required for non-built-ins) and `features` (default: the generator's) resolved, detection on `samples`
    latents of `seed`, evaluation on as many of `eval_seed` (default seed + 1); report.json in `out` when given."""
    from ..atomic import atomic_write_json
    from ..defaults import features_for
    from ..ranking.automatic import check_by
    from ..real_sets import real_source_for

    check_by(by)
    names = check_layers(gen, [s.strip() for s in layers.split(",") if s.strip()] if isinstance(layers, str) else layers)
    if samples < 10:
        raise UsageError(f"samples must be at least 10, got {samples}")
    real_src = real_source_for(gen, real, real_seed, samples=samples)
    result = sequential_repair(gen, names, real_src, features or features_for(gen), by, per_layer, samples, seed,
                               samples, seed + 1 if eval_seed is None else eval_seed, artifact_fraction,
                               random_draws, inception_weights, batch_size, on_stage=on_stage)
    if out is not None:
        from pathlib import Path

        atomic_write_json(Path(out) / "report.json", {"generator": gen.describe(), **result.to_dict()})
    return result
