"""Rendered scenes as files: images/NNNNNN.png, masks/NNNNNN.png (class index per pixel) and scenes.json."""
from __future__ import annotations

import io
from pathlib import Path
from typing import Callable, Optional

from ..errors import UsageError


def _png(array) -> bytes:
    from PIL import Image

    buf = io.BytesIO()
    Image.fromarray(array).save(buf, format="PNG")
    return buf.getvalue()


def _check(out: Path, n: int, start: int, resolution: int) -> None:
    if n < 1:
        raise UsageError(f"n must be at least 1, got {n}")
    if start < 0:
        raise UsageError(f"start must be ≥ 0, got {start}")
    if resolution < 32 or resolution > 1024:
        raise UsageError(f"resolution must be in 32…1024, got {resolution}")
    if out.exists() and not out.is_dir():
        raise UsageError(f"out={out} exists and is not a folder")


def write_scene_files(out, n: int, seed: int = 0, start: int = 0, resolution: int = 64, masks: bool = True,
                      on_progress: Optional[Callable[[int], None]] = None) -> dict:
    """Render scenes start…start+n−1 of `seed` into `out` (atomic writes); returns what scenes.json holds."""
    from ..atomic import atomic_write_bytes, atomic_write_json
    from .scenes import CLASS_NAMES, render_scene

    out = Path(out)
    _check(out, n, start, resolution)
    try:
        for sub in ("images", "masks") if masks else ("images",):
            (out / sub).mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise UsageError(f"cannot create {out}: {exc.strerror}") from None
    for i in range(start, start + n):
        rgb, cls = render_scene(seed, i, resolution)
        atomic_write_bytes(out / "images" / f"{i:06d}.png", _png(rgb))
        if masks:
            atomic_write_bytes(out / "masks" / f"{i:06d}.png", _png(cls))
        if on_progress:
            on_progress(1)
    meta = {"n": n, "start": start, "seed": seed, "resolution": resolution, "class_names": CLASS_NAMES,
            "images": str(out / "images"), "masks": str(out / "masks") if masks else None}
    atomic_write_json(out / "scenes.json", meta)
    return meta
