"""Reading checkpoints safely: `torch.load(weights_only=True)` unless trusted, state-dict unwrapping, strict loading."""
from __future__ import annotations

import zipfile
from pathlib import Path

import torch
from torch import nn

from ..errors import UsageError


def one_line(exc: BaseException, limit: int = 600) -> str:
    """An exception's whole message on one line (torch puts the detail after the first line)."""
    text = "; ".join(part.strip() for part in str(exc).splitlines() if part.strip()).replace(":; ", ": ") or type(exc).__name__
    return text if len(text) <= limit else text[:limit] + "…"


def looks_like_torch_file(path: Path) -> bool:
    """A torch zip archive or a pickle (protocol ≥ 2 starts with 0x80); anything else is not a checkpoint."""
    try:
        with open(path, "rb") as fh:
            head = fh.read(2)
    except OSError:
        return False
    return zipfile.is_zipfile(path) or (len(head) == 2 and head[0] == 0x80 and 2 <= head[1] <= 5)


def read_state(path: Path, trust_pickle: bool = False) -> object:
    if not path.exists():
        raise UsageError(f"checkpoint not found: {path}")
    if not path.is_file():
        raise UsageError(f"checkpoint is not a file: {path}")
    if not looks_like_torch_file(path):
        raise UsageError(f"{path} is not a checkpoint (neither a torch zip archive nor a pickle); check the path")
    try:
        return torch.load(path, map_location="cpu", weights_only=not trust_pickle)
    except Exception as exc:  # torch raises many types for corrupt or foreign files
        reason = one_line(exc, 300)
        if not trust_pickle and ("weights_only" in str(exc) or "Unsupported global" in str(exc)):
            raise UsageError(f"{path} needs code to unpickle (it is not a plain state dict of tensors); "
                             "re-run with --trust-pickle only if you trust this file") from None
        trusted = " even with --trust-pickle" if trust_pickle else ""
        raise UsageError(f"could not read checkpoint {path}{trusted}: {reason} (a corrupt or foreign file?)") from None


def unwrap_state_dict(obj: object, path: Path) -> dict:
    if isinstance(obj, dict):
        for key in ("state_dict", "g_ema", "G_ema", "generator", "G", "model"):
            if key in obj and isinstance(obj[key], dict):
                return obj[key]
        if all(isinstance(v, torch.Tensor) for v in obj.values()) and obj:
            return obj
    raise UsageError(f"{path} does not hold a state dict of tensors (keys: {list(obj)[:8] if isinstance(obj, dict) else type(obj).__name__})")


def load_strict(module: nn.Module, state: dict, path: Path) -> None:
    own = module.state_dict()
    missing = [k for k in own if k not in state]
    unexpected = [k for k in state if k not in own]
    shape_bad = [f"{k} {tuple(state[k].shape)}≠{tuple(own[k].shape)}" for k in own
                 if k in state and tuple(state[k].shape) != tuple(own[k].shape)]
    if missing or unexpected or shape_bad:
        def few(xs):
            return ", ".join(xs[:6]) + (f" (+{len(xs) - 6} more)" if len(xs) > 6 else "")
        parts = []
        if missing:
            parts.append(f"missing keys: {few(missing)}")
        if unexpected:
            parts.append(f"unexpected keys: {few(unexpected)}")
        if shape_bad:
            parts.append(f"shape mismatch: {few(shape_bad)}")
        raise UsageError(f"state dict {path} does not fit the module; " + "; ".join(parts))
    module.load_state_dict(state, strict=True)
