"""The toyscenes painting used by the paint tests: palette for tree and door at layer4 (64 samples)."""
from __future__ import annotations

import torch


def toy_painting(sample: int = 0):
    from ganfix.generator import load_generator
    from ganfix.paint import Painting, find_palette
    from ganfix.segmenters import load_segmenter

    gen = load_generator("toyscenes", device="cpu")
    seg = load_segmenter("toyscenes")
    pal = find_palette(gen, seg, "layer4", ["tree", "door"], n=8, samples=64, seed=0)
    return Painting(gen, "layer4", pal, seg, 0, sample)


def cells_of(painting, class_name: str) -> list[list[int]]:
    """Grid cells whose footprint is mostly `class_name` in the unedited image."""
    from ganfix.dissection.ace import majority_class

    seg = painting.segmenter
    img = painting.render([])
    labels = seg.segment(img.float()[None] / 255 * 2 - 1)
    maj = majority_class(labels, len(seg.class_names), painting.grid)[0]
    idx = list(seg.class_names).index(class_name)
    return [[int(r), int(c)] for r, c in (maj == idx).nonzero()]


def best_row(cells: list[list[int]]) -> list[list[int]]:
    """The longest run of horizontally adjacent cells (one brush drag)."""
    best: list[list[int]] = []
    for r in sorted({c[0] for c in cells}):
        cols = sorted(c[1] for c in cells if c[0] == r)
        run = [cols[0]]
        for c in cols[1:]:
            run = run + [c] if c == run[-1] + 1 else [c]
            if len(run) > len(best):
                best = [[r, x] for x in run]
        if len(run) > len(best):
            best = [[r, x] for x in run]
    return best


def pixels(png: bytes) -> torch.Tensor:
    import io

    import numpy as np
    from PIL import Image

    return torch.from_numpy(np.asarray(Image.open(io.BytesIO(png))).copy())
