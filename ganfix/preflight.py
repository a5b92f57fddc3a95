"""Checks that run before any work: outputs that cannot be written, an unwritable cache, out-of-range
numbers. Each failure is one UsageError line (exit 2) raised before a single sample is generated,
so a bad argument never costs minutes of compute or leaves half a folder behind."""
from __future__ import annotations

import os
from pathlib import Path
from typing import Iterable

from .errors import UsageError


def _nearest_existing(path: Path) -> Path:
    p = path
    while not p.exists() and not p.is_symlink() and p != p.parent:
        p = p.parent
    return p


def _check_creatable(path: Path, option: str) -> None:
    """Every existing ancestor of `path` must be a folder, and the nearest one writable."""
    anchor = _nearest_existing(path.parent if path.parent != path else path)
    for p in [anchor, *anchor.parents]:
        if p.exists() and not p.is_dir():
            raise UsageError(f"{option} {path}: {p} is a file, not a folder")
    if anchor.exists() and not os.access(anchor, os.W_OK | os.X_OK):
        raise UsageError(f"{option} {path}: cannot write in {anchor} (permission denied)")


def check_output_dir(path: str | Path | None, option: str = "--out") -> None:
    """A folder ganfix will create or write into."""
    if path is None:
        return
    path = Path(path)
    if path.exists():
        if not path.is_dir():
            raise UsageError(f"{option} {path} is a file, not a folder")
        if not os.access(path, os.W_OK | os.X_OK):
            raise UsageError(f"{option} {path}: cannot write in it (permission denied)")
        return
    _check_creatable(path, option)


def check_output_file(path: str | Path | None, option: str) -> None:
    """A file ganfix will write (atomically: a temp file in the same folder, then a rename)."""
    if path is None:
        return
    path = Path(path)
    if path.is_dir():
        raise UsageError(f"{option} {path} is a folder, not a file")
    if path.parent.exists():
        if not path.parent.is_dir():
            raise UsageError(f"{option} {path}: {path.parent} is a file, not a folder")
        if not os.access(path.parent, os.W_OK | os.X_OK):
            raise UsageError(f"{option} {path}: cannot write in {path.parent} (permission denied)")
        return
    _check_creatable(path.parent, option)


def check_cache_writable(use_cache: bool = True) -> None:
    """The cache folder must be writable when caching is on (results would silently not be kept)."""
    if not use_cache:
        return
    from .cache import cache_root

    root = cache_root()
    try:
        check_output_dir(root, "cache folder")
    except UsageError as exc:
        raise UsageError(f"{exc}; set GANFIX_CACHE to a writable folder, or pass use_cache=False") from None


def check_at_least(value: int | None, option: str, minimum: int) -> None:
    if value is not None and value < minimum:
        raise UsageError(f"{option} must be at least {minimum}, got {value}")


MAX_LATENT_VALUES = 10_000_000


def check_z_shape(shape: Iterable[int] | None) -> None:
    if shape is None:
        return
    shape = tuple(shape)
    if not shape or any(s < 1 for s in shape):
        raise UsageError(f"z_shape must be positive integers (e.g. 128 or 128,1,1), got {','.join(map(str, shape)) or 'nothing'}")
    total = 1
    for s in shape:
        total *= s
    if total > MAX_LATENT_VALUES:
        raise UsageError(f"z_shape={','.join(map(str, shape))} asks for {total:,} latent values per sample "
                         f"(more than {MAX_LATENT_VALUES:,}); check it")
