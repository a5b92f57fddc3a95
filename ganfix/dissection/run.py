"""The dissection pass: seeded samples → layer activations + segmentation → IoU counts per layer.

One forward per batch serves every requested layer (the image is segmented once). Thresholds come
from a separate, cached statistics pass per layer. Counts are cached by generator fingerprint,
segmenter identity, thresholds and sample range.
"""
from __future__ import annotations

import hashlib
from typing import Callable, Optional, Sequence

import torch

from .. import distributed
from ..cache import cache_key, load_cached, save_cached
from ..errors import UsageError
from ..generator import Generator, output_resolution
from ..hooks import Trace
from ..segmenters import Segmenter, checked_segment, segmenter_identity
from ..stats.tally import check_sample_args, tally_unit_stats
from ..stats.position_sample import PositionSample
from .iou import IoUStat
from .upsample import upsample_units
from .result import Criteria, LayerDissection
from .thresholds import unit_thresholds


def require_spatial(gen: Generator, layer: str, what: str = "dissection") -> None:
    info = gen.layer(layer)
    if not info.spatial:
        raise UsageError(f"layer {layer} has no spatial maps (output shape {info.shape}); {what} needs a [C, H, W] layer")


def layer_thresholds(gen: Generator, layer: str, samples: int, seed: int, batch_size: int, levels: int = 100,
                     use_cache: bool = True, on_batch=None, upsampled: bool = False) -> tuple[torch.Tensor, torch.Tensor]:
    """Candidate thresholds [d, L] and fractions [L]: quantiles of the layer-resolution maps, or with
    `upsampled` of the maps bilinearly upsampled to the output resolution (the reference convention)."""
    if upsampled:
        return unit_thresholds(upsampled_quantile_sample(gen, layer, samples, seed, batch_size, use_cache=use_cache,
                                                         on_batch=on_batch), levels)
    stats = tally_unit_stats(gen, layer, samples, seed=seed, batch_size=batch_size, use_cache=use_cache, on_batch=on_batch)
    return unit_thresholds(stats, levels)


UPSAMPLED_QUANTILES_VERSION = 1


@torch.no_grad()
def upsampled_quantile_sample(gen: Generator, layer: str, samples: int, seed: int, batch_size: int = 32,
                              capacity: int = 1 << 15, use_cache: bool = True, on_batch=None) -> PositionSample:
    """Bounded-memory quantile sketch of each unit's map upsampled (bilinear, as the IoU pass does) to
    the output resolution: the same hash-threshold position sample as the unit statistics, over the
    upsampled positions (exact below `capacity`, DKW-bounded above; see stats/position_sample.py)."""
    check_sample_args(samples, batch_size)
    info = gen.layer(layer)
    res = output_resolution(gen)
    key = cache_key("upsampled_quantiles", fingerprint=gen.fingerprint, layer=layer, samples=samples, seed=seed,
                    capacity=capacity, size=res, device=gen.device.type, version=UPSAMPLED_QUANTILES_VERSION)
    if use_cache:
        hit = load_cached("upsampled_quantiles", key)
        if hit is not None:
            if on_batch:
                on_batch(samples)
            return PositionSample(info.units, capacity, seed).load_state_dict(hit)
    sketch = PositionSample(info.units, capacity, seed)
    chunk = 32
    with Trace(gen.module, [layer], stop=True) as trace:
        for lo in range(0, samples, batch_size):
            ids = list(range(lo, min(lo + batch_size, samples)))
            acts = trace.run(gen.latents(ids, seed))[layer]

            def gather(bi, pi, acts=acts):
                cols = []
                for u0 in range(0, acts.shape[1], chunk):
                    up = upsample_units(acts[:, u0:u0 + chunk], (res, res)).flatten(2)  # [u, B, H·W]
                    cols.append(up[:, bi, pi].t())
                return torch.cat(cols, 1)

            sketch.add_gathered(ids, res * res, gather)
            if on_batch:
                on_batch(len(ids))
    if use_cache:
        save_cached("upsampled_quantiles", key, sketch.state_dict())
    return sketch


# Bump when the counting changes what it computes (e.g. the upsampling's float rounding), so old caches are not reused.
COUNTS_VERSION = 2


def _counts_key(gen, layer, seg_id, thr, samples, seed, start) -> str:
    thr_hash = hashlib.sha256(thr.numpy().tobytes()).hexdigest()[:16]
    return cache_key("dissect_counts", fingerprint=gen.fingerprint, layer=layer, segmenter=seg_id, thresholds=thr_hash,
                     samples=samples, seed=seed, start=start, device=gen.device.type,
                     version=COUNTS_VERSION)


@torch.no_grad()
def _valid_counts(state: dict, thresholds: torch.Tensor, n_cls: int) -> IoUStat:
    """A cached entry as IoUStat, or CacheEntryInvalid when its shapes do not fit these thresholds/classes."""
    from ..cache import CacheEntryInvalid

    stat = IoUStat.from_state_dict(state)
    d, levels = thresholds.shape[0], thresholds.shape[-1] if thresholds.dim() > 1 else 1
    if tuple(stat.inter.shape) != (d, levels, n_cls) or tuple(stat.unit_on.shape) != (d, levels) \
            or tuple(stat.class_px.shape) != (n_cls,):
        raise CacheEntryInvalid(f"IoU counts of shape {tuple(stat.inter.shape)}, expected {(d, levels, n_cls)}")
    return stat


def dissect_counts(gen: Generator, segmenter: Segmenter, thresholds: dict[str, torch.Tensor], samples: int,
                   seed: int = 0, batch_size: int = 32, start: int = 0, use_cache: bool = True,
                   on_batch: Optional[Callable[[int], None]] = None) -> dict[str, IoUStat]:
    """IoU counts for each layer in `thresholds` ({layer: [d, L]}) over samples start … start+samples−1."""
    check_sample_args(samples, batch_size)
    layers = list(thresholds)
    for layer in layers:
        require_spatial(gen, layer)
    n_cls = len(segmenter.class_names)
    seg_id = segmenter_identity(segmenter) if use_cache else None
    keys = {l: _counts_key(gen, l, seg_id, thresholds[l], samples, seed, start) for l in layers} if seg_id else {}
    out: dict[str, IoUStat] = {}
    for l, k in keys.items():
        cached = distributed.cached_collectively(
            lambda k=k, l=l: load_cached("dissect_counts", k, validate=lambda s: _valid_counts(s, thresholds[l], n_cls)))
        if cached is not None:
            out[l] = cached
    todo = [l for l in layers if l not in out]
    if not todo:
        if on_batch:
            on_batch(samples)
        return out
    for l in todo:
        out[l] = IoUStat(thresholds[l], n_cls)
    mine = distributed.shard(samples, start)  # all ids in one process; a contiguous block per rank under torchrun
    with Trace(gen.module, todo, stop=False) as trace:
        for lo in range(mine.start, mine.stop, batch_size):
            ids = list(range(lo, min(lo + batch_size, mine.stop)))
            acts = trace.run(gen.latents(ids, seed))
            seg = checked_segment(segmenter, gen.to_signed(trace.output))
            for l in todo:
                out[l].add(acts[l], seg)
            if on_batch:
                on_batch(len(ids) * distributed.world_size())
    if distributed.world_size() > 1:  # integer counts: the rank-order sum equals one pass exactly
        for l in todo:
            parts = distributed.gather(out[l].state_dict())
            out[l] = IoUStat.from_state_dict(parts[0])
            for p in parts[1:]:
                out[l].merge(IoUStat.from_state_dict(p))
    for l in todo:
        if l in keys:
            save_cached("dissect_counts", keys[l], out[l].state_dict())
    return out


def dissect(gen: Generator, layers: Sequence[str], segmenter: Segmenter, samples: int = 1000, seed: int = 0,
            batch_size: int = 32, levels: int = 100, criteria: Criteria | None = None, use_cache: bool = True,
            on_batch=None) -> dict[str, LayerDissection]:
    """Dissect several layers of one generator: {layer: LayerDissection}.

    `criteria.convention` picks the IQR convention (docs/dissection.md): "reference" (default) takes
    candidate thresholds from quantiles of the upsampled maps and keeps only positively correlated
    levels; "unconstrained" takes them from layer-resolution quantiles and maximises IQR over all.

    on_batch sees samples × (len(layers) + 1) in total: one statistics pass per layer, then the IoU pass."""
    check_sample_args(samples, batch_size)
    for layer in layers:
        require_spatial(gen, layer)
    crit = criteria or Criteria()
    crit.check()
    thr, fracs = {}, None
    for layer in layers:
        thr[layer], fracs = layer_thresholds(gen, layer, samples, seed, batch_size, levels, use_cache, on_batch,
                                             upsampled=crit.convention == "reference")
    counts = dissect_counts(gen, segmenter, thr, samples, seed, batch_size, use_cache=use_cache, on_batch=on_batch)
    return {l: LayerDissection(l, list(segmenter.class_names), crit, counts[l], fracs) for l in layers}
