"""One streaming pass over seeded samples → UnitStats for a layer (cached on disk).

Samples are ids start … start+samples−1 under `seed`; the pass stops each forward at the layer.
The result does not depend on batch size (top-k and counts exactly), so batch size is not part of
the cache key; the device is, since GPU and CPU kernels round differently.
"""
from __future__ import annotations

from typing import Callable, Optional

import torch

from .. import distributed
from ..cache import cache_key, load_cached, save_cached
from ..errors import UsageError
from ..generator import Generator
from ..hooks import Trace
from .unit_stats import UnitStats


def check_sample_args(samples: int, batch_size: int, k: int | None = None) -> None:
    if samples < 1:
        raise UsageError(f"samples must be at least 1, got {samples}")
    if batch_size < 1:
        raise UsageError(f"batch_size must be at least 1, got {batch_size}")
    if k is not None and k < 1:
        raise UsageError(f"k must be at least 1, got {k}")


def stats_cache_key(gen: Generator, layer: str, samples: int, seed: int, k: int, capacity: int, start: int) -> str:
    return cache_key("unit_stats", fingerprint=gen.fingerprint, layer=layer, samples=samples, seed=seed,
                     k=k, capacity=capacity, start=start, device=gen.device.type)


@torch.no_grad()
def _valid_stats(state: dict, units: int, k: int) -> UnitStats:
    """A cached entry as UnitStats, or CacheEntryInvalid when its structure does not fit this pass."""
    from ..cache import CacheEntryInvalid

    stats = UnitStats.from_state_dict(state)
    if tuple(stats.topk.values.shape) != (units, k) or tuple(stats.topk.ids.shape) != (units, k) \
            or tuple(stats.mean.shape) != (units,):
        raise CacheEntryInvalid(f"unit statistics of shape {tuple(stats.topk.values.shape)}, expected ({units}, {k})")
    return stats


def tally_unit_stats(
    gen: Generator,
    layer: str,
    samples: int,
    seed: int = 0,
    batch_size: int = 64,
    k: int = 10,
    capacity: int = 1 << 15,
    start: int = 0,
    use_cache: bool = True,
    on_batch: Optional[Callable[[int], None]] = None,
) -> UnitStats:
    check_sample_args(samples, batch_size, k)
    info = gen.layer(layer)
    key = stats_cache_key(gen, layer, samples, seed, k, capacity, start)
    if use_cache:
        stats = distributed.cached_collectively(
            lambda: load_cached("unit_stats", key, validate=lambda sd: _valid_stats(sd, info.units, k)))
        if stats is not None:
            if on_batch:
                on_batch(samples)
            return stats
    stats = UnitStats(info.units, k=k, capacity=capacity, seed=seed)
    stats.meta = {"layer": layer}
    mine = distributed.shard(samples, start)  # all ids without torchrun; one contiguous block per rank with it
    scale = distributed.world_size()  # progress is reported as if for all ranks (rank 0 renders it)
    with Trace(gen.module, [layer], stop=True) as trace:
        for lo in range(mine.start, mine.stop, batch_size):
            ids = list(range(lo, min(lo + batch_size, mine.stop)))
            acts = trace.run(gen.latents(ids, seed))[layer]
            stats.add(acts, ids)  # raises NonFiniteActivations naming the units
            if on_batch:
                on_batch(len(ids) * scale)
    if scale > 1:
        stats = merge_in_rank_order(distributed.gather(stats.state_dict()))
    stats.meta = {"generator": gen.name, "fingerprint": gen.fingerprint, "layer": layer, "seed": seed,
                  "samples": samples, "start": start, "k": k, "capacity": capacity, "shape": list(info.shape)}
    if use_cache:
        save_cached("unit_stats", key, stats.state_dict())
    return stats


def merge_in_rank_order(states: list[dict]) -> UnitStats:
    """Merge per-rank statistics in rank order (blocks of ids in order): counts and top-k exactly as one
    pass, float64 moments to rounding, whatever order the ranks finished in."""
    merged = UnitStats.from_state_dict(states[0])
    for s in states[1:]:
        merged.merge(UnitStats.from_state_dict(s))
    return merged
