"""Model fingerprint: sha256 over architecture identity and every tensor (names, dtypes, shapes, bytes).

Two generators share a fingerprint only if they compute the same function with the same weights;
annotation sets and patches carry it so they are never applied to another model by accident.
"""
from __future__ import annotations

import hashlib

import torch
from torch import nn


def architecture_identity(module: nn.Module) -> str:
    """Ordered (name, type) of every submodule; TorchScript modules report their original names."""
    parts = []
    for name, sub in module.named_modules():
        kind = getattr(sub, "original_name", None) or type(sub).__name__
        parts.append(f"{name}:{kind}")
    return "|".join(parts)


def fingerprint_module(module: nn.Module, length: int = 16) -> str:
    h = hashlib.sha256()
    h.update(architecture_identity(module).encode())
    state = module.state_dict()
    for name in sorted(state):
        t = state[name].detach().cpu().contiguous()
        h.update(f"{name}|{t.dtype}|{tuple(t.shape)}".encode())
        if t.dtype == torch.bfloat16:
            t = t.view(torch.int16)
        h.update(t.numpy().tobytes())
    return h.hexdigest()[:length]
