"""Re-generate the top samples of many units in one traced pass.

Sample ids are deduplicated across units (a sample is often in several units' top-k), so each
image is generated once; the pass captures the layer's activations and the output image together.
Only the (unit, sample) activation maps that sheets need are kept, not the whole layer.

Samples are generated in the order the units first need them (`unit_ids` in its own order, e.g.
ranking order), so with `iter_regenerate` the first units can be drawn while later samples are
still being generated.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Iterator

import torch

from ..generator import Generator
from ..hooks import Trace


@dataclass
class Regenerated:
    images: dict[int, torch.Tensor] = field(default_factory=dict)  # sample id → uint8 [3, H, W] (CPU)
    maps: dict[tuple[int, int], torch.Tensor] = field(default_factory=dict)  # (unit, sample id) → float [h, w] (CPU)


def need_order(unit_ids: dict[int, list[int]]) -> tuple[list[int], dict[int, list[int]]]:
    """(sample ids in the order units first need them, sample id → the units that need its map);
    −1 entries are ignored."""
    wanted: dict[int, list[int]] = {}
    for unit, ids in unit_ids.items():
        for i in ids:
            if i >= 0:
                wanted.setdefault(int(i), []).append(int(unit))
    return list(wanted), wanted


@torch.no_grad()
def iter_regenerate(gen: Generator, layer: str, unit_ids: dict[int, list[int]], seed: int,
                    batch_size: int = 64) -> Iterator[tuple[list[int], Regenerated]]:
    """Yield (this batch's sample ids, everything generated so far) after each batch. NaN/Inf images are
    refused (NonFiniteSamples) as soon as a batch has one, naming those generated so far, so a caller that
    writes only once the iterator is exhausted never writes sheets of such images."""
    order, wanted = need_order(unit_ids)
    done = Regenerated()
    bad: list[int] = []  # NaN/Inf images would be drawn as black tiles
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
                done.images[sid] = out[row]
                for unit in wanted[sid]:
                    done.maps[(unit, sid)] = acts[row, unit].clone()
            if bad:
                from ..scoring import check_finite_images

                check_finite_images(gen.name, lo + len(ids), seed, bad, "contact sheets of such images would be black")
            yield ids, done


def regenerate(gen: Generator, layer: str, unit_ids: dict[int, list[int]], seed: int,
               batch_size: int = 64, on_batch=None) -> Regenerated:
    """unit_ids: unit → its sample ids (−1 entries are ignored). All at once; see `iter_regenerate`."""
    done = Regenerated()
    for ids, done in iter_regenerate(gen, layer, unit_ids, seed, batch_size):
        if on_batch:
            on_batch(len(ids))
    return done
