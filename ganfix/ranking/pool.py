"""One pass over a pool of seeded samples that every automatic artifact ranker reads from.

Per sample i and unit u of the layer it keeps (never the images or the full feature maps):
- `peak[i, u]`   the unit's spatial max (how strongly it fires in the sample);
- `local[i, u]`  local activation: the share of the unit's above-median activation mass that lies in a
                 small window around its peak (1 = all of it in one spot; see ranking/local_activation.py);
- `features[i]`  the generated image's features in the chosen extractor's space (when an extractor is given).

So unit-fid scores every unit on row subsets of one feature matrix (no per-unit generation), realism
scores each sample once, and `worst` ranks samples from the same arrays. Cached by model fingerprint,
layer, seed, ids, extractor identity and window.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import torch
import torch.nn.functional as F

from ..cache import cache_key, load_cached, save_cached
from ..extractors import Extractor, extract
from ..generator import Generator
from ..hooks import Trace
from ..stats.unit_stats import UnitStats


@dataclass
class PoolPass:
    layer: str
    seed: int
    samples: int
    peak: torch.Tensor                    # [N, d]
    local: torch.Tensor                   # [N, d] in [0, 1]
    features: torch.Tensor | None = None  # [N, D] (float64) or None
    extractor: str | None = None

    @property
    def ids(self) -> list[int]:
        return list(range(self.samples))

    def top_rows(self, unit: int, n: int) -> torch.Tensor:
        """Row indices of the n samples where `unit` fires most (stable: ties keep sample order)."""
        return torch.argsort(-self.peak[:, unit], stable=True)[:n]


def window_size(h: int) -> int:
    """Side of the local window: 3 cells up to 8×8 maps, growing with the map (5 at 16×16, 9 at 32×32)."""
    return max(3, (h // 4) | 1)


def local_activation(acts: torch.Tensor, window: int) -> torch.Tensor:
    """[B, d, H, W] → [B, d]: share of each map's above-median mass inside the window around its peak."""
    b, d, h, w = acts.shape
    flat = acts.flatten(2).float()
    excess = (flat - flat.median(dim=2, keepdim=True).values).clamp_min(0)
    total = excess.sum(2)
    boxed = F.avg_pool2d(excess.view(b * d, 1, h, w), window, stride=1, padding=window // 2,
                         count_include_pad=True) * window * window
    at_peak = boxed.view(b, d, -1).gather(2, flat.argmax(2, keepdim=True)).squeeze(2)
    return torch.where(total > 0, at_peak / total.clamp_min(1e-12), torch.zeros_like(total)).clamp(0, 1)


@torch.no_grad()
def pool_pass(gen: Generator, layer: str, samples: int = 2000, seed: int = 0, extractor: Extractor | None = None,
              batch_size: int = 64, use_cache: bool = True, on_batch: Callable[[int], None] | None = None) -> PoolPass:
    """Generate samples 0…N−1 once: the layer's per-sample peaks and local activation, and (with an extractor)
    the images' features."""
    info = gen.layer(layer)
    win = window_size(info.shape[1]) if info.spatial else 1
    key = cache_key("pool_pass", fingerprint=gen.fingerprint, layer=layer, seed=seed, samples=samples,
                    z_shape=list(gen.z_shape), output_range=list(gen.output_range), window=win, version=1,
                    extractor=None if extractor is None else extractor.identity)
    if use_cache:
        hit = load_cached("pool_pass", key)
        if hit is not None:
            if on_batch:
                on_batch(samples)
            return PoolPass(layer, seed, samples, hit["peak"], hit["local"], hit.get("features"),
                            None if extractor is None else extractor.name)
    fe = extractor.build() if extractor is not None else None
    peaks, locals_, feats = [], [], []
    bad_images: list[int] = []  # NaN/Inf images would become black pixels and plausible-looking scores
    bad_feats: list[int] = []
    with Trace(gen.module, [layer], stop=extractor is None) as tr:
        for lo in range(0, samples, batch_size):
            ids = list(range(lo, min(samples, lo + batch_size)))
            acts = tr.run(gen.latents(ids, seed))[layer].float()
            UnitStats.check_finite(acts, layer)
            if acts.dim() == 2:
                acts = acts[:, :, None, None]
            peaks.append(acts.flatten(2).amax(2).cpu())
            locals_.append(local_activation(acts, win).cpu() if info.spatial else torch.zeros(acts.shape[:2]))
            if extractor is not None:
                raw = tr.output
                finite = torch.isfinite(raw.reshape(raw.shape[0], -1)).all(1).cpu().tolist()
                bad_images += [i for i, ok in zip(ids, finite) if not ok]
                f = extract(extractor, gen.to_uint8(raw).cpu(), batch_size, fe)
                bad_feats += [i for i, ok in zip(ids, torch.isfinite(f).all(1).tolist()) if not ok]
                feats.append(f)
            if on_batch:
                on_batch(len(ids))
    if extractor is not None:
        from ..scoring import check_finite_samples

        check_finite_samples(gen, list(range(samples)), seed, None, bad_images, bad_feats, extractor)
    out = PoolPass(layer, seed, samples, torch.cat(peaks), torch.cat(locals_), torch.cat(feats) if feats else None,
                   None if extractor is None else extractor.name)
    if use_cache:
        save_cached("pool_pass", key, {"peak": out.peak, "local": out.local, "features": out.features})
    return out
