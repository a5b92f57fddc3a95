"""Unit mask images: a unit's thresholded, upsampled map over its top-activating samples."""
from __future__ import annotations

import io
from pathlib import Path
from typing import Sequence

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image

from ..atomic import atomic_write_bytes
from ..generator import Generator
from ..hooks import Trace


@torch.no_grad()
def unit_strip(gen: Generator, layer: str, unit: int, threshold: float, ids: Sequence[int], seed: int,
               path: Path, tile: int = 96) -> Path:
    """PNG strip: each sample with everything outside the unit's mask darkened, the mask edge in red."""
    ids = list(ids)
    with Trace(gen.module, [layer], stop=False) as tr:
        acts = tr.run(gen.latents(ids, seed))[layer][:, unit:unit + 1]
        images = gen.to_uint8(tr.output)
    h, w = images.shape[-2:]
    mask = F.interpolate(acts.float(), size=(h, w), mode="bilinear", align_corners=False)[:, 0] > threshold
    tiles = []
    for img, m in zip(images, mask):
        rgb = img.permute(1, 2, 0).cpu().numpy().astype(np.float32)
        m = m.cpu().numpy()
        out = np.where(m[..., None], rgb, rgb * 0.3)
        edge = m & ~(np.roll(m, 1, 0) & np.roll(m, -1, 0) & np.roll(m, 1, 1) & np.roll(m, -1, 1))
        out[edge] = [255, 40, 40]
        tiles.append(Image.fromarray(out.astype(np.uint8)).resize((tile, tile), Image.NEAREST))
    strip = Image.new("RGB", (tile * len(tiles) + 2 * (len(tiles) - 1), tile), (255, 255, 255))
    for i, t in enumerate(tiles):
        strip.paste(t, (i * (tile + 2), 0))
    buf = io.BytesIO()
    strip.save(buf, format="PNG")
    return atomic_write_bytes(path, buf.getvalue())


@torch.no_grad()
def intervention_strip(gen: Generator, segmenter, layer: str, units, value, cls: int, ids: Sequence[int], seed: int,
                       path: Path, tile: int = 96) -> Path:
    """PNG grid: rows original / ablated where c present / inserted where c absent, one column per sample."""
    from ..hooks import Intervention
    from ..segmenters import checked_segment
    from .ace import present_mask

    z = gen.latents(list(ids), seed)
    with Trace(gen.module, [layer], stop=False) as tr:
        acts = tr.run(z)[layer]
        orig = tr.output
    pres = present_mask(checked_segment(segmenter, gen.to_signed(orig)), cls, acts.shape[-2:])
    with Intervention(gen.module, layer, units, 0.0, spatial=pres):
        abl = gen(z)
    with Intervention(gen.module, layer, units, value, spatial=1 - pres):
        ins = gen(z)
    rows = [gen.to_uint8(x).permute(0, 2, 3, 1).cpu().numpy() for x in (orig, abl, ins)]
    grid = Image.new("RGB", (len(ids) * (tile + 2), 3 * (tile + 2)), (255, 255, 255))
    for r, imgs in enumerate(rows):
        for c, img in enumerate(imgs):
            grid.paste(Image.fromarray(img).resize((tile, tile), Image.NEAREST), (c * (tile + 2), r * (tile + 2)))
    buf = io.BytesIO()
    grid.save(buf, format="PNG")
    return atomic_write_bytes(path, buf.getvalue())
