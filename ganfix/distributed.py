"""Scale-out with torch.distributed, launched by torchrun; without torchrun every function is a no-op.

    torchrun --standalone --nproc_per_node=2 -m ganfix rank toyscenes --layer layer4 --json

Samples are addressed by (seed, id), so a pass shards its ids into contiguous blocks, one per rank,
and the per-rank statistics merge exactly (counts, top-k) or in float64 (moments) — merged in rank
order, so the result does not depend on which rank finished first. Every rank ends with the same
merged result (later steps, e.g. ranking, run identically everywhere); only rank 0 writes files,
caches and reports, and only rank 0 renders output. Collectives time out ($GANFIX_DIST_TIMEOUT
seconds, default 600) so a failed rank cannot hang the others.
"""
from __future__ import annotations

import os
from datetime import timedelta
from typing import Any, Callable, TypeVar

T = TypeVar("T")

TIMEOUT_ENV = "GANFIX_DIST_TIMEOUT"


def launched() -> bool:
    """True when torchrun (or another launcher) started several processes."""
    return int(os.environ.get("WORLD_SIZE", "1") or 1) > 1


def _dist():
    import torch.distributed as dist

    return dist if dist.is_available() and dist.is_initialized() else None


def init_from_env() -> bool:
    """Join the process group torchrun describes (gloo on CPU, nccl when this rank has a GPU)."""
    if not launched():
        return False
    import torch
    import torch.distributed as dist

    if dist.is_initialized():
        return True
    timeout = timedelta(seconds=float(os.environ.get(TIMEOUT_ENV, "600")))
    backend = "nccl" if torch.cuda.is_available() else "gloo"
    if backend == "nccl":
        torch.cuda.set_device(local_rank())
    dist.init_process_group(backend=backend, timeout=timeout)
    return True


def shutdown() -> None:
    dist = _dist()
    if dist is not None:
        dist.destroy_process_group()


def rank() -> int:
    dist = _dist()
    return dist.get_rank() if dist is not None else 0


def world_size() -> int:
    dist = _dist()
    return dist.get_world_size() if dist is not None else 1


def local_rank() -> int:
    return int(os.environ.get("LOCAL_RANK", "0") or 0)


def is_writer() -> bool:
    """Only rank 0 writes outputs and caches (no races on shared files)."""
    return rank() == 0


def shard(n: int, start: int = 0) -> range:
    """This rank's contiguous block of the ids start … start+n−1 (blocks differ in size by at most one)."""
    r, w = rank(), world_size()
    lo = start + (n * r) // w
    hi = start + (n * (r + 1)) // w
    return range(lo, hi)


def gather(obj: T) -> list[T]:
    """Every rank's `obj`, in rank order, on every rank (one process: [obj])."""
    dist = _dist()
    if dist is None:
        return [obj]
    out: list[Any] = [None] * dist.get_world_size()
    dist.all_gather_object(out, obj)
    return out


def broadcast(obj: T) -> T:
    """Rank 0's `obj` on every rank."""
    dist = _dist()
    if dist is None:
        return obj
    box = [obj if rank() == 0 else None]
    dist.broadcast_object_list(box, src=0)
    return box[0]


def cached_collectively(load: Callable[[], T | None]) -> T | None:
    """A cache lookup every rank agrees on: rank 0 looks, everyone gets its answer (hit or None),
    so no rank skips a collective that the others enter."""
    if world_size() == 1:
        return load()
    return broadcast(load() if rank() == 0 else None)


def agree(ok: bool) -> bool:
    """True only if every rank says True (e.g. input validated everywhere before any collective)."""
    return all(gather(bool(ok)))
