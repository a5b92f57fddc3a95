"""Bilinear upsampling of unit maps (align_corners=False, PyTorch's rule) as two small matmuls.

Same values as F.interpolate(mode="bilinear", align_corners=False) up to float rounding, but it
writes the result straight in the [units, batch, H, W] layout the IoU counts want (no transpose copy)
and runs as BLAS matmuls, several times faster on a CPU for 8×8 → 64×64 maps.
"""
from __future__ import annotations

from functools import lru_cache

import torch


@lru_cache(maxsize=32)
def bilinear_matrix(out_size: int, in_size: int) -> torch.Tensor:
    """[out, in] weights: row i interpolates source position (i + 0.5) · in/out − 0.5, clamped at 0."""
    scale = in_size / out_size
    src = ((torch.arange(out_size, dtype=torch.float64) + 0.5) * scale - 0.5).clamp_min(0)
    i0 = src.floor().long().clamp_max(in_size - 1)
    i1 = (i0 + 1).clamp_max(in_size - 1)
    lam = src - i0
    m = torch.zeros(out_size, in_size, dtype=torch.float64)
    m[torch.arange(out_size), i0] += 1 - lam
    m[torch.arange(out_size), i1] += lam
    return m.float()


def upsample_units(acts: torch.Tensor, size: tuple[int, int]) -> torch.Tensor:
    """acts [B, u, h, w] → [u, B, H, W] float32, bilinearly upsampled to size (H, W)."""
    H, W = size
    h, w = acts.shape[-2:]
    a = acts.float().cpu().transpose(0, 1)  # [u, B, h, w]: small, cheap to copy
    return torch.matmul(torch.matmul(bilinear_matrix(H, h), a), bilinear_matrix(W, w).t())
