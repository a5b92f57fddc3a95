"""Deterministic latents addressed by (seed, sample id).

Each latent entry is a pure function of (seed, sample id, entry index): a SplitMix64 hash gives
two uniforms, Box–Muller turns them into a standard normal. So sample i under seed s is the same
whatever the batch size, the order, or the number of processes — a run never stores latents.
"""
from __future__ import annotations

from typing import Iterable, Sequence

import numpy as np
import torch

_GOLDEN = np.uint64(0x9E3779B97F4A7C15)
_M1 = np.uint64(0xBF58476D1CE4E5B9)
_M2 = np.uint64(0x94D049BB133111EB)


def splitmix64(x: np.ndarray) -> np.ndarray:
    """SplitMix64 finaliser on uint64 arrays (wrapping arithmetic)."""
    with np.errstate(over="ignore"):
        z = x + _GOLDEN
        z = (z ^ (z >> np.uint64(30))) * _M1
        z = (z ^ (z >> np.uint64(27))) * _M2
        return z ^ (z >> np.uint64(31))


def _ids_array(ids: Sequence[int] | np.ndarray | torch.Tensor) -> np.ndarray:
    if isinstance(ids, torch.Tensor):
        ids = ids.cpu().numpy()
    arr = np.asarray(ids, dtype=np.int64)
    if arr.ndim != 1:
        raise ValueError("sample ids must be a 1-D sequence")
    if (arr < 0).any():
        raise ValueError("sample ids must be non-negative")
    return arr.astype(np.uint64)


def hash_keys(seed: int, ids: np.ndarray, width: int, stream: int = 0) -> np.ndarray:
    """uint64 hash per (seed, stream, id, j) for j < width: shape [len(ids), width]."""
    with np.errstate(over="ignore"):
        key = splitmix64(np.array([seed & 0xFFFFFFFFFFFFFFFF], dtype=np.uint64) ^ np.uint64(stream * 0x632BE59BD9B4E019 & 0xFFFFFFFFFFFFFFFF))
        per_id = splitmix64(ids ^ key)
        j = np.arange(width, dtype=np.uint64)
        return splitmix64(per_id[:, None] * np.uint64(0xD6E8FEB86659FD93) + j[None, :])


def _uniform(bits: np.ndarray) -> np.ndarray:
    # 53 random bits → (0, 1], never exactly 0 so log() is finite.
    return ((bits >> np.uint64(11)).astype(np.float64) + 1.0) / float(1 << 53)


def sample_latents(ids: Iterable[int] | np.ndarray | torch.Tensor, seed: int, z_shape: Sequence[int]) -> torch.Tensor:
    """Standard-normal latents [N, *z_shape] (float32, CPU) for the given sample ids under `seed`."""
    arr = _ids_array(list(ids) if not isinstance(ids, (np.ndarray, torch.Tensor)) else ids)
    width = int(np.prod(z_shape)) if len(z_shape) else 1
    half = (width + 1) // 2
    bits = hash_keys(seed, arr, 2 * half)
    u1, u2 = _uniform(bits[:, 0::2]), _uniform(bits[:, 1::2])
    radius = np.sqrt(-2.0 * np.log(u1))
    normals = np.concatenate([radius * np.cos(2 * np.pi * u2), radius * np.sin(2 * np.pi * u2)], axis=1)[:, :width]
    return torch.from_numpy(normals.astype(np.float32)).reshape(len(arr), *z_shape)


def position_hash(seed: int, ids: np.ndarray, n_positions: int) -> np.ndarray:
    """Hash in [0, 1) per (sample id, spatial position), shared by all units: used for sampling."""
    bits = hash_keys(seed, _ids_array(ids), n_positions, stream=1)
    return (bits >> np.uint64(11)).astype(np.float64) / float(1 << 53)
