"""Compose rendered tiles into contact-sheet images (PIL), with captions. Dark, quiet backgrounds so
the images and the amber outlines carry the attention."""
from __future__ import annotations

from functools import lru_cache

import numpy as np
import torch
from PIL import Image, ImageDraw, ImageFont

BG = (28, 29, 32)
PANEL = (40, 42, 47)
TEXT = (235, 236, 238)
MUTED = (150, 155, 163)
ACCENT = (255, 214, 0)
GAP = 6


@lru_cache(maxsize=None)
def font(size: int) -> ImageFont.ImageFont:
    # Pillow's bundled scalable font: no dependency on system fonts.
    return ImageFont.load_default(size=size)


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


def unit_sheet(info: dict, tiles: list[dict], cols: int = 5) -> tuple[Image.Image, list[list[int]]]:
    """info: unit statistics; tiles: [{"tile": uint8 [3,S,S], "id": int, "max": float, "coverage": float}].

    Returns the sheet and each tile's box [x, y, w, h] (recorded in the manifest for tools and tests)."""
    size = tiles[0]["tile"].shape[-1] if tiles else 64
    sheet, draw, boxes = _frame(info, len(tiles), size, cols)
    draw.text((GAP + 2, 32), stats_line(info), fill=MUTED, font=font(13))
    for t, (x, y, _, _) in zip(tiles, boxes):
        sheet.paste(to_pil(t["tile"]), (x, y))
        _caption(draw, x, y, size, t["id"], t["max"], t["coverage"])
    return sheet, boxes


def _frame(info: dict, k: int, size: int, cols: int) -> tuple[Image.Image, ImageDraw.ImageDraw, list[list[int]]]:
    """A unit sheet's empty frame for k tiles of `size` px in `cols` columns, its title drawn: (image, draw, each
    tile's box [x, y, w, h])."""
    rows = max(1, -(-max(k, 1) // cols))
    cap_h, head_h = 20, 52
    frame = Image.new("RGB", (GAP + cols * (size + GAP), head_h + rows * (size + cap_h + GAP) + GAP), BG)
    draw = ImageDraw.Draw(frame)
    draw.text((GAP + 2, 6), f"unit {info['unit']}", fill=TEXT, font=font(22))
    if not k:
        draw.text((GAP + 2, head_h + 10), "no samples", fill=MUTED, font=font(14))
    boxes = [[GAP + (i % cols) * (size + GAP), head_h + (i // cols) * (size + cap_h + GAP), size, size] for i in range(k)]
    return frame, draw, boxes


def _caption(draw: ImageDraw.ImageDraw, x: int, y: int, size: int, sample: int, top: float, cov: float | None) -> None:
    """Under a tile: its sample id on the left, its max activation (and coverage) on the right."""
    draw.text((x + 1, y + size + 3), f"#{sample}", fill=MUTED, font=font(12))
    right = f"max {top:.2f}" + ("" if cov is None else " · " + (f"{100 * cov:.0f}%" if cov >= 0.01 or cov == 0 else "<1%"))
    draw.text((x + size - 1, y + size + 3), right, fill=MUTED, font=font(12), anchor="ra")


def unit_sheets(info: dict, tiles: torch.Tensor, plain: torch.Tensor, ids: list[int], maxes: list[float],
                coverage: list[float] | None, cols: int = 5) -> tuple[Image.Image, Image.Image, list[list[int]]]:
    """Both sheets of one unit at once (overlay and plain), sharing one frame of captions: the same
    layout as `unit_sheet`, composed with array slicing instead of one paste per tile.

    tiles, plain: uint8 [k, 3, S, S]. Returns (overlay sheet, plain sheet, each tile's box [x, y, w, h])."""
    k = int(tiles.shape[0])
    size = int(tiles.shape[-1]) if k else 64
    frame, draw, boxes = _frame(info, k, size, cols)
    for i, (x, y, _, _) in enumerate(boxes):
        _caption(draw, x, y, size, ids[i], maxes[i], None if coverage is None else coverage[i])
    base = np.asarray(frame)
    sheets = []
    for variant, overlay_flag in ((tiles, None), (plain, False)):
        arr = base.copy()
        if k:
            hwc = variant.permute(0, 2, 3, 1).numpy()
            for i, (x, y, _, _) in enumerate(boxes):
                arr[y:y + size, x:x + size] = hwc[i]
        img = Image.fromarray(arr, "RGB")
        line = info if overlay_flag is None or info.get("spatial") is False else {**info, "overlay": False}
        ImageDraw.Draw(img).text((GAP + 2, 32), stats_line(line), fill=MUTED, font=font(13))
        sheets.append(img)
    return sheets[0], sheets[1], boxes


def label_panel(draw: ImageDraw.ImageDraw, info: dict, y: int, size: int, label_w: int) -> None:
    """A grouped sheet's row label: the unit, then as many of its figures as fit the row's height."""
    draw.rectangle([GAP, y, label_w - 1, y + size - 1], fill=PANEL)
    draw.text((GAP + 8, y + 6), f"unit {info['unit']}", fill=TEXT, font=font(18))
    lines = [f"rank {info['rank']}", score_label(info, short=True), f"top max {info['top_max']:.3g}", f"rate {info['rate']:.3f}"]
    step = max(11, min(16, (size - 32) // len(lines)))
    for j, line in enumerate(lines):
        if 30 + j * step + 11 <= size:
            draw.text((GAP + 8, y + 30 + j * step), line, fill=MUTED, font=font(min(12, step - 1)))


def group_sheet(rows: list[tuple[dict, list[torch.Tensor]]], label_w: int = 150) -> Image.Image:
    """One row per unit: a label panel, then its tiles in one line."""
    size = rows[0][1][0].shape[-1] if rows and rows[0][1] else 64
    k = max((len(t) for _, t in rows), default=1)
    width = label_w + GAP + k * (size + GAP)
    height = GAP + len(rows) * (size + GAP)
    sheet = Image.new("RGB", (width, height), BG)
    draw = ImageDraw.Draw(sheet)
    for r, (info, _tiles) in enumerate(rows):
        label_panel(draw, info, GAP + r * (size + GAP), size, label_w)
    arr = np.array(sheet)
    for r, (_info, tiles) in enumerate(rows):
        y = GAP + r * (size + GAP)
        for i, tile in enumerate(tiles):
            x = label_w + GAP + i * (size + GAP)
            arr[y:y + size, x:x + size] = tile.permute(1, 2, 0).numpy()
    return Image.fromarray(arr, "RGB")
