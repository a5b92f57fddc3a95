"""Compose rendered tiles into contact-sheet images (uint8 [H, W, 3] arrays), with captions. Dark, quiet backgrounds so
the images and the amber outlines carry the attention."""
from __future__ import annotations

from functools import lru_cache

import numpy as np
import torch
from PIL import Image

from .text import draw_text, text_width

BG = (28, 29, 32)
PANEL = (40, 42, 47)
TEXT = (235, 236, 238)
MUTED = (150, 155, 163)
ACCENT = (255, 214, 0)
GAP = 6


@lru_cache(maxsize=32)
def _blank(h: int, w: int) -> np.ndarray:
    arr = np.broadcast_to(np.asarray(BG, np.uint8), (h, w, 3)).copy()
    arr.flags.writeable = False
    return arr


def blank(h: int, w: int) -> np.ndarray:
    """A background-coloured uint8 [h, w, 3] image (a copy of a cached one: filling by broadcast is ~25× slower)."""
    return _blank(h, w).copy()


def to_pil(tile: torch.Tensor) -> Image.Image:
    return Image.fromarray(np.ascontiguousarray(tile.permute(1, 2, 0).numpy()), "RGB")


def score_label(info: dict, short: bool = False) -> str:
    # The ablation ranking's score is −ΔFID; show the FID change itself (ASCII: the sheet font has no Δ).
    if info["by"] == "ablation":
        return f"FID {-info['score']:+.3g} alone" if short else f"ablated alone: FID {-info['score']:+.3g}"
    return f"score {info['score']:.3g}" if short else f"{info['by']} score {info['score']:.3g}"


def stats_line(info: dict) -> str:
    return (f"rank {info['rank']}/{info['of']}  ·  {score_label(info)}  ·  top max {info['top_max']:.3g}"
            f"  ·  rate {info['rate']:.3f}  ·  "
            + ("no spatial map (vector unit)" if info.get("spatial") is False
               else "overlay off" if info.get("overlay") is False
               else f"mask: act >= q{info['quantile']:g} = {info['threshold']:.3g}"))


def _frame(info: dict, k: int, size: int, cols: int) -> tuple[np.ndarray, list[list[int]]]:
    """A unit sheet's empty frame for k tiles of `size` px in `cols` columns, its title drawn: (uint8 [H, W, 3],
    each tile's box [x, y, w, h])."""
    rows = max(1, -(-max(k, 1) // cols))
    cap_h, head_h = 20, 52
    frame = blank(head_h + rows * (size + cap_h + GAP) + GAP, GAP + cols * (size + GAP))
    draw_text(frame, (GAP + 2, 6), f"unit {info['unit']}", TEXT, 22, on=BG)
    if not k:
        draw_text(frame, (GAP + 2, head_h + 10), "no samples", MUTED, 14, on=BG)
    boxes = [[GAP + (i % cols) * (size + GAP), head_h + (i // cols) * (size + cap_h + GAP), size, size] for i in range(k)]
    return frame, boxes


def _caption(img: np.ndarray, x: int, y: int, size: int, sample: int, top: float, cov: float | None) -> None:
    """Under a tile: its sample id on the left, its max activation (and coverage) on the right."""
    left = f"#{sample}"
    right = f"max {top:.2f}" + ("" if cov is None else " · " + (f"{100 * cov:.0f}%" if cov >= 0.01 or cov == 0 else "<1%"))
    # Painting a caption's box on the frame colour is only right when the two captions do not overlap (narrow tiles).
    on = BG if text_width(left, 12) + text_width(right, 12) + 4 <= size else None
    draw_text(img, (x + 1, y + size + 3), left, MUTED, 12, on=on)
    draw_text(img, (x + size - 1, y + size + 3), right, MUTED, 12, anchor="ra", on=on)


def unit_sheets(info: dict, tiles: np.ndarray, plain: np.ndarray, ids: list[int], maxes: list[float],
                coverage: list[float] | None, cols: int = 5) -> tuple[np.ndarray, np.ndarray, list[list[int]]]:
    """Both sheets of one unit at once (overlay and plain), sharing one frame of captions, composed with
    array slicing.

    tiles, plain: channels-last uint8 [k, S, S, 3]. Returns (overlay sheet, plain sheet, each tile's box [x, y, w, h]);
    the sheets are uint8 [H, W, 3]."""
    k = int(tiles.shape[0])
    size = int(tiles.shape[1]) if k else 64
    base, boxes = _frame(info, k, size, cols)
    for i, (x, y, _, _) in enumerate(boxes):
        _caption(base, x, y, size, ids[i], maxes[i], None if coverage is None else coverage[i])
    sheets = []
    for variant, overlay_flag in ((tiles, None), (plain, False)):
        arr = base.copy()
        for i, (x, y, _, _) in enumerate(boxes):
            arr[y:y + size, x:x + size] = variant[i]
        line = info if overlay_flag is None or info.get("spatial") is False else {**info, "overlay": False}
        draw_text(arr, (GAP + 2, 32), stats_line(line), MUTED, 13, on=BG)
        sheets.append(arr)
    return sheets[0], sheets[1], boxes


def label_panel(img: np.ndarray, info: dict, y: int, size: int, label_w: int) -> None:
    """A grouped sheet's row label (uint8 [H, W, 3], drawn in place): the unit, then as many of its figures as fit
    the row's height."""
    img[y:y + size, GAP:label_w] = PANEL
    draw_text(img, (GAP + 8, y + 6), f"unit {info['unit']}", TEXT, 18, on=PANEL)
    lines = [f"rank {info['rank']}", score_label(info, short=True), f"top max {info['top_max']:.3g}", f"rate {info['rate']:.3f}"]
    step = max(11, min(16, (size - 32) // len(lines)))
    for j, line in enumerate(lines):
        if 30 + j * step + 11 <= size:
            draw_text(img, (GAP + 8, y + 30 + j * step), line, MUTED, min(12, step - 1), on=PANEL)


def group_sheet(rows: list[tuple[dict, np.ndarray]], label_w: int = 150) -> np.ndarray:
    """One row per unit: a label panel, then its tiles (uint8 [k, S, S, 3]) in one line. Returns uint8 [H, W, 3]."""
    size = rows[0][1][0].shape[0] if rows and len(rows[0][1]) else 64
    k = max((len(t) for _, t in rows), default=1)
    arr = blank(GAP + len(rows) * (size + GAP), label_w + GAP + k * (size + GAP))
    for r, (info, tiles) in enumerate(rows):
        y = GAP + r * (size + GAP)
        label_panel(arr, info, y, size, label_w)
        for i, tile in enumerate(tiles):
            x = label_w + GAP + i * (size + GAP)
            arr[y:y + size, x:x + size] = tile
    return arr
