"""A small, fast PNG writer for contact sheets: 8-bit RGB, the Sub filter on every row, deflate level 1.

Pillow tries every PNG filter on every row (adaptive filtering), which made encoding the largest cost
of a sheet pass; Sub alone suits sheets (flat backgrounds, tiles enlarged by pixel repetition) and is
about 1.7× faster at a similar size (measured on toyscenes layer4 sheets: 150 kB vs 140 kB).

Deflate comes from zlib-ng when it is installed (a dependency of ganfix): on the same sheets its level 1
took 0.48 s of CPU against 1.41 s for the standard library's zlib, for files 23 % larger (31.8 vs 25.9 MB
for 135 sheets). Without it the standard library's zlib writes the same format."""
from __future__ import annotations

import struct

import numpy as np

try:
    from zlib_ng import zlib_ng as zlib
except ImportError:  # pragma: no cover — a platform without zlib-ng wheels
    import zlib

SIGNATURE = b"\x89PNG\r\n\x1a\n"


def _chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)


def encode_png(rgb: np.ndarray, level: int = 1) -> bytes:
    """uint8 [H, W, 3] (or [H, W] grey) → PNG file bytes."""
    arr = np.ascontiguousarray(rgb, dtype=np.uint8)
    h, w = arr.shape[:2]
    c = 1 if arr.ndim == 2 else arr.shape[2]
    if c not in (1, 3):
        raise ValueError(f"encode_png takes grey or RGB images, got {c} channels")
    rows = arr.reshape(h, w * c)
    filtered = np.empty((h, w * c + 1), dtype=np.uint8)
    filtered[:, 0] = 1  # filter type Sub: each byte minus the same channel of the pixel to its left
    filtered[:, 1:c + 1] = rows[:, :c]
    np.subtract(rows[:, c:], rows[:, :-c], out=filtered[:, c + 1:])
    header = struct.pack(">IIBBBBB", w, h, 8, 2 if c == 3 else 0, 0, 0, 0)
    return SIGNATURE + _chunk(b"IHDR", header) + _chunk(b"IDAT", zlib.compress(memoryview(filtered).cast('B'), level)) + _chunk(b"IEND", b"")
