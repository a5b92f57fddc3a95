"""On-disk cache of results keyed by a hash of everything they depend on.

Location: $GANFIX_CACHE, else ~/.cache/ganfix. Files are written atomically, so a killed run
leaves either the old entry or the new one, never half of one. A key must name the model
fingerprint, the arguments and the data identity: a stale cache is a bug.

Every entry carries the sha256 of its payload, and readers validate the structure of what they
load (`validate=`): a damaged entry (a flipped bit, a truncated file, a valid torch file of the wrong
shape) is never used; it is recomputed and overwritten, and the run says so once on stderr.
"""
from __future__ import annotations

import hashlib
import io
import json
import os
import sys
from pathlib import Path
from typing import Any, Callable

import torch

from .atomic import atomic_write_bytes

CACHE_VERSION = 2  # 2: entries carry a checksum
MAGIC = b"ganfix-cache/2\n"
_warned: set[str] = set()


def cache_root() -> Path:
    return Path(os.environ.get("GANFIX_CACHE") or Path.home() / ".cache" / "ganfix")


def cache_key(kind: str, **parts: Any) -> str:
    payload = json.dumps({"kind": kind, "version": CACHE_VERSION, **parts}, sort_keys=True, default=str)
    return hashlib.sha256(payload.encode()).hexdigest()[:32]


def cache_path(kind: str, key: str, suffix: str = ".pt") -> Path:
    return cache_root() / kind / f"{key}{suffix}"


class CacheEntryInvalid(Exception):
    """Raised by validators: the entry loaded but does not have the structure the reader needs."""


def _say_once(kind: str, path: Path, why: str) -> None:
    if kind in _warned:
        return
    _warned.add(kind)
    print(f"ganfix: ignored a damaged {kind} cache entry ({path.name}: {why}); recomputing it", file=sys.stderr, flush=True)


def encode_entry(obj: Any) -> bytes:
    buf = io.BytesIO()
    torch.save(obj, buf)
    payload = buf.getvalue()
    return MAGIC + hashlib.sha256(payload).hexdigest().encode() + b"\n" + payload


def decode_entry(data: bytes) -> Any:
    """The object in an entry, or ValueError when the header or checksum does not match."""
    if not data.startswith(MAGIC):
        raise ValueError("not a checksummed ganfix cache entry")
    digest, sep, payload = data[len(MAGIC):].partition(b"\n")
    if not sep or len(digest) != 64:
        raise ValueError("truncated header")
    if hashlib.sha256(payload).hexdigest().encode() != digest:
        raise ValueError("checksum mismatch")
    return torch.load(io.BytesIO(payload), map_location="cpu", weights_only=True)


def load_cached(kind: str, key: str, validate: Callable[[Any], Any] | None = None) -> Any | None:
    """The entry (passed through `validate`, which returns what the caller needs or raises), or None
    when there is none or it is damaged (then the caller recomputes and overwrites it)."""
    path = cache_path(kind, key)
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        return None
    except OSError as exc:
        _say_once(kind, path, exc.strerror or str(exc))
        return None
    try:
        obj = decode_entry(data)
        return validate(obj) if validate is not None else obj
    except Exception as exc:  # noqa: BLE001 — any damage means: recompute
        _say_once(kind, path, str(exc).splitlines()[0][:120] if str(exc) else type(exc).__name__)
        return None


def save_cached(kind: str, key: str, obj: Any) -> Path | None:
    """Write an entry atomically. An unwritable cache never fails a run (the result is just not kept)."""
    try:
        return atomic_write_bytes(cache_path(kind, key), encode_entry(obj))
    except OSError as exc:
        if f"write:{kind}" not in _warned:
            _warned.add(f"write:{kind}")
            print(f"ganfix: cannot write the cache under {cache_root()} ({exc.strerror or exc}); results are not cached",
                  file=sys.stderr, flush=True)
        return None


def features_validator(rows: int) -> Callable[[Any], torch.Tensor]:
    """For {"features": Tensor[rows, D]} entries: the finite float tensor, or CacheEntryInvalid."""
    def check(obj: Any) -> torch.Tensor:
        f = obj.get("features") if isinstance(obj, dict) else None
        if not isinstance(f, torch.Tensor) or f.dim() != 2 or f.shape[0] != rows or not f.is_floating_point():
            raise CacheEntryInvalid(f"expected features of {rows} rows, got {type(f).__name__}")
        if not torch.isfinite(f).all():
            raise CacheEntryInvalid("non-finite features")
        return f
    return check
