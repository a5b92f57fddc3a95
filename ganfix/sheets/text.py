"""Captions drawn straight into numpy images from cached glyphs.

A sheet pass draws ~28 short strings per unit; Pillow's `ImageDraw.text` lays out and rasterises
each string anew (~0.3 ms a call, a quarter of the drawing time). Here every character is rasterised
once per font size and pasted with an alpha blend. Pillow's bundled font uses the basic layout (no
kerning; a string's advance is the sum of its characters'), so the pixels match `ImageDraw.text`.
"""
from __future__ import annotations

from functools import lru_cache

import numpy as np
from PIL import Image, ImageDraw, ImageFont


@lru_cache(maxsize=None)
def font(size: int) -> ImageFont.ImageFont:
    # Pillow's bundled scalable font: no dependency on system fonts.
    return ImageFont.load_default(size=size)


@lru_cache(maxsize=4096)
def _glyph(size: int, ch: str) -> tuple[np.ndarray, int, int, float]:
    """(alpha uint16 [h, w], x offset, y offset from the anchor's top-left, advance in px)."""
    f = font(size)
    pad = size  # room for glyphs that reach left of or above their origin
    canvas = Image.new("L", (3 * size + 2 * pad, 3 * size + 2 * pad), 0)
    ImageDraw.Draw(canvas).text((pad, pad), ch, fill=255, font=f, anchor="la")
    alpha = np.asarray(canvas)
    ys, xs = np.nonzero(alpha)
    if not len(ys):  # a space
        return np.zeros((0, 0), np.uint16), 0, 0, f.getlength(ch)
    y0, y1, x0, x1 = ys.min(), ys.max() + 1, xs.min(), xs.max() + 1
    return alpha[y0:y1, x0:x1].astype(np.uint16), int(x0) - pad, int(y0) - pad, f.getlength(ch)


def text_width(text: str, size: int) -> float:
    return sum(_glyph(size, ch)[3] for ch in text)



def _string_alpha(text: str, size: int) -> tuple[np.ndarray, int, int]:
    """The whole string's alpha as one array: (alpha uint16 [h, w], x offset, y offset from the anchor)."""
    placed, x = [], 0.0
    x0 = y0 = 1 << 30
    x1 = y1 = -(1 << 30)
    for ch in text:
        alpha, dx, dy, advance = _glyph(size, ch)
        if alpha.size:
            px = int(round(x)) + dx
            placed.append((alpha, px, dy))
            h, w = alpha.shape
            x0, y0, x1, y1 = min(x0, px), min(y0, dy), max(x1, px + w), max(y1, dy + h)
        x += advance
    if not placed:
        return np.zeros((0, 0), np.uint16), 0, 0
    out = np.zeros((y1 - y0, x1 - x0), np.uint16)
    for a, px, py in placed:
        view = out[py - y0: py - y0 + a.shape[0], px - x0: px - x0 + a.shape[1]]
        np.maximum(view, a, out=view)  # glyphs that touch keep the stronger coverage

    return out, x0, y0


def draw_text(img: np.ndarray, xy: tuple[float, float], text: str, fill: tuple[int, int, int], size: int,
              anchor: str = "la", on: tuple[int, int, int] | None = None) -> None:
    """Blend `text` into uint8 [H, W, 3] `img` in place. anchor: "la" (xy is the left end of the ascender
    line, Pillow's default) or "ra" (the right end). on: the one colour the text's box is known to sit on
    (a sheet's frame or panel): the blend is then a table lookup that paints the whole box, ~3× faster."""
    x = float(xy[0])
    if anchor == "ra":
        x -= text_width(text, size)
    elif anchor != "la":
        raise ValueError(f"anchor must be 'la' or 'ra', got {anchor!r}")
    alpha, dx, dy = _string_alpha(text, size)
    gx, gy = int(round(x)) + dx, int(round(xy[1])) + dy
    h_img, w_img = img.shape[:2]
    # Clip to the image, as Pillow does.
    ax0, ay0 = max(0, -gx), max(0, -gy)
    ax1, ay1 = min(alpha.shape[1], w_img - gx), min(alpha.shape[0], h_img - gy)
    if ax1 <= ax0 or ay1 <= ay0:
        return
    a = alpha[ay0:ay1, ax0:ax1]
    region = img[gy + ay0: gy + ay1, gx + ax0: gx + ax1]
    if on is not None:
        np.take(_blend_table(tuple(fill), tuple(on)), a, axis=0, out=region)
        return
    # Pillow's blend: out = in + (ink − in)·a/255, rounded.
    a = a[..., None].astype(np.int32)
    region[...] = region + ((np.asarray(fill, dtype=np.int32) - region) * a + 127) // 255


@lru_cache(maxsize=64)
def _blend_table(fill: tuple[int, int, int], background: tuple[int, int, int]) -> np.ndarray:
    """uint8 [256, 3]: the colour of `fill` at coverage a (0…255) over `background`, as the blend rounds it."""
    a = np.arange(256, dtype=np.int32)[:, None]
    bg = np.asarray(background, dtype=np.int32)
    return (bg + ((np.asarray(fill, dtype=np.int32) - bg) * a + 127) // 255).astype(np.uint8)
