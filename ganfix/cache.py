"""On-disk cache of results keyed by a hash of everything they depend on.

Location: $GANFIX_CACHE, else ~/.cache/ganfix. Files are written atomically, so a killed run
leaves either the old entry or the new one, never half of one. A key must name the model
fingerprint, the arguments and the data identity: a stale cache is a bug.
"""
from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path
from typing import Any

import torch

from .atomic import atomic_torch_save

CACHE_VERSION = 1


def cache_root() -> Path:
    return Path(os.environ.get("GANFIX_CACHE") or Path.home() / ".cache" / "ganfix")


def cache_key(kind: str, **parts: Any) -> str:
    payload = json.dumps({"kind": kind, "version": CACHE_VERSION, **parts}, sort_keys=True, default=str)
    return hashlib.sha256(payload.encode()).hexdigest()[:32]


def cache_path(kind: str, key: str, suffix: str = ".pt") -> Path:
    return cache_root() / kind / f"{key}{suffix}"


def load_cached(kind: str, key: str) -> Any | None:
    path = cache_path(kind, key)
    if not path.exists():
        return None
    try:
        return torch.load(path, map_location="cpu", weights_only=True)
    except Exception:  # unreadable entry: recompute and overwrite it
        return None


def save_cached(kind: str, key: str, obj: Any) -> Path:
    return atomic_torch_save(cache_path(kind, key), obj)
