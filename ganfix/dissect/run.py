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
from ..generator import Generator
from ..hooks import Trace
from ..segmenters import Segmenter, checked_segment, segmenter_identity
from ..stats.tally import check_sample_args, tally_unit_stats
from .iou import IoUStat
from .result import Criteria, LayerDissection
from .thresholds import unit_thresholds


def require_spatial(gen: Generator, layer: str, what: str = "dissection") -> None:
    info = gen.layer(layer)
    if not info.spatial:
        raise UsageError(f"layer {layer} has no spatial maps (output shape {info.shape}); {what} needs a [C, H, W] layer")


def layer_thresholds(gen: Generator, layer: str, samples: int, seed: int, batch_size: int, levels: int = 100,
                     use_cache: bool = True, on_batch=None) -> tuple[torch.Tensor, torch.Tensor]:
    stats = tally_unit_stats(gen, layer, samples, seed=seed, batch_size=batch_size, use_cache=use_cache, on_batch=on_batch)
    return unit_thresholds(stats, levels)


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

    on_batch sees samples × (len(layers) + 1) in total: one statistics pass per layer, then the IoU pass."""
    check_sample_args(samples, batch_size)
    for layer in layers:
        require_spatial(gen, layer)
    thr, fracs = {}, None
    for layer in layers:
        thr[layer], fracs = layer_thresholds(gen, layer, samples, seed, batch_size, levels, use_cache, on_batch)
    counts = dissect_counts(gen, segmenter, thr, samples, seed, batch_size, use_cache=use_cache, on_batch=on_batch)
    crit = criteria or Criteria()
    return {l: LayerDissection(l, list(segmenter.class_names), crit, counts[l], fracs) for l in layers}
