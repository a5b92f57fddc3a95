"""Re-generate the top samples of many units in one traced pass.

Sample ids are deduplicated across units (a sample is often in several units' top-k), so each
image is generated once; the pass captures the layer's activations and the output image together.
Only the (unit, sample) activation maps that sheets need are kept, not the whole layer.
"""
from __future__ import annotations

from dataclasses import dataclass

import torch

from ..generator import Generator
from ..hooks import Trace


@dataclass
class Regenerated:
    images: dict[int, torch.Tensor]  # sample id → uint8 [3, H, W] (CPU)
    maps: dict[tuple[int, int], torch.Tensor]  # (unit, sample id) → float [h, w] activation map (CPU)


@torch.no_grad()
def regenerate(gen: Generator, layer: str, unit_ids: dict[int, list[int]], seed: int,
               batch_size: int = 64, on_batch=None) -> Regenerated:
    """unit_ids: unit → its sample ids (−1 entries are ignored)."""
    wanted: dict[int, list[int]] = {}  # sample id → units that need its map
    for unit, ids in unit_ids.items():
        for i in ids:
            if i >= 0:
                wanted.setdefault(int(i), []).append(int(unit))
    order = sorted(wanted)
    images: dict[int, torch.Tensor] = {}
    bad: list[int] = []  # NaN/Inf images would be drawn as black tiles
    maps: dict[tuple[int, int], torch.Tensor] = {}
    with Trace(gen.module, [layer], stop=False) as trace:
        for lo in range(0, len(order), batch_size):
            ids = order[lo: lo + batch_size]
            acts = trace.run(gen.latents(ids, seed))[layer].float().cpu()
            if acts.dim() == 2:  # a vector layer: one value per unit, treated as a 1×1 map
                acts = acts[:, :, None, None]
            raw = trace.output
            bad += [sid for sid, ok in zip(ids, torch.isfinite(raw.reshape(raw.shape[0], -1)).all(1).tolist()) if not ok]
            out = gen.to_uint8(raw).cpu()
            for row, sid in enumerate(ids):
                images[sid] = out[row]
                for unit in wanted[sid]:
                    maps[(unit, sid)] = acts[row, unit].clone()
            if on_batch:
                on_batch(len(ids))
    if bad:
        from ..scoring import check_finite_images

        check_finite_images(gen.name, len(order), seed, bad, "contact sheets of such images would be black")
    return Regenerated(images, maps)
