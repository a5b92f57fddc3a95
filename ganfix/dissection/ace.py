"""Average causal effect (eq. 5) of a unit set U on class c at one layer.

ablate: r' = r·(1 − α) on U where c is present (segmentation, max-pooled to the layer's grid: a cell
counts as present when any of its pixels is c); insert: r' = r·(1 − α) + α·k on U where c is absent,
with k the per-unit mean activation where c is present (or a quantile of the unit's activations).
ACE = E[s_c(inserted)] − E[s_c(ablated)], s_c = fraction of pixels labelled c.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable, Optional, Sequence

import torch
import torch.nn.functional as F

from ..errors import UsageError
from ..generator import Generator
from ..hooks import Intervention, Trace
from ..segmenters import Segmenter, checked_segment
from ..stats.tally import check_sample_args, tally_unit_stats
from .run import require_spatial


def present_mask(labels: torch.Tensor, cls: int, size: tuple[int, int]) -> torch.Tensor:
    """[N, h, w] float: 1 where any pixel of the cell's footprint is class `cls`."""
    onehot = (labels == cls).float().unsqueeze(1)
    return F.adaptive_max_pool2d(onehot, size).squeeze(1)


def majority_class(labels: torch.Tensor, num_classes: int, size: tuple[int, int]) -> torch.Tensor:
    """[N, h, w] long: the most frequent class in each cell's footprint."""
    onehot = F.one_hot(labels, num_classes).permute(0, 3, 1, 2).float()
    return F.adaptive_avg_pool2d(onehot, size).argmax(1)


def class_fraction(segmenter: Segmenter, gen: Generator, images: torch.Tensor, cls: int) -> torch.Tensor:
    """[N] fraction of pixels labelled `cls`, and the labels."""
    labels = checked_segment(segmenter, gen.to_signed(images))
    return (labels == cls).float().mean((1, 2)), labels


def _batches(start: int, samples: int, batch_size: int):
    for lo in range(start, start + samples, batch_size):
        yield list(range(lo, min(lo + batch_size, start + samples)))


@torch.no_grad()
def insertion_values(gen: Generator, segmenter: Segmenter, layer: str, cls: int, samples: int, seed: int = 0,
                     batch_size: int = 32, mode: str = "mean", use_cache: bool = True) -> torch.Tensor:
    """Per-unit insertion value k [d]: mean activation where `cls` is present, or a quantile ("q0.99")."""
    require_spatial(gen, layer, "insertion")
    info = gen.layer(layer)
    if mode.startswith("q"):
        try:
            q = float(mode[1:])
        except ValueError:
            raise UsageError(f"insert_value must be 'mean' or q<quantile> such as q0.99, got {mode!r}") from None
        if not 0 <= q <= 1:
            raise UsageError(f"insertion quantile must be in [0, 1], got {q}")
        return tally_unit_stats(gen, layer, samples, seed=seed, batch_size=batch_size, use_cache=use_cache).quantile(q).float()
    if mode != "mean":
        raise UsageError(f"insert_value must be 'mean' or q<quantile> such as q0.99, got {mode!r}")
    total = torch.zeros(info.units, dtype=torch.float64)
    count = 0.0
    with Trace(gen.module, [layer], stop=False) as tr:
        for ids in _batches(0, samples, batch_size):
            acts = tr.run(gen.latents(ids, seed))[layer]
            labels = checked_segment(segmenter, gen.to_signed(tr.output))
            pres = present_mask(labels, cls, acts.shape[-2:]).to(acts.device)
            total += (acts * pres.unsqueeze(1)).sum((0, 2, 3)).double().cpu()
            count += float(pres.sum())
    if count == 0:
        raise UsageError(f"class {segmenter.class_names[cls]!r} never appears in {samples} samples; "
                         "use more samples (samples=) or insert_value=q0.99")
    return (total / count).float()


@dataclass
class AceResult:
    units: list[int]
    original: float  # E[s_c(x)]
    ablated: float   # E[s_c(ablate U where c present)]
    inserted: float  # E[s_c(insert U where c absent)]
    samples: int
    per_sample: torch.Tensor | None = field(default=None, repr=False)  # [N, 3] original, ablated, inserted
    seed: int = 0

    def intervals(self, bootstrap: int = 1000) -> dict:
        """95 % bootstrap intervals over samples (see dissect.intervals.ace_intervals)."""
        from .intervals import ace_intervals

        if self.per_sample is None:
            return {}
        o, a, i = self.per_sample.double().t().numpy()
        return ace_intervals(o, a, i, bootstrap, self.seed)

    @property
    def ace(self) -> float:
        return self.inserted - self.ablated

    @property
    def removed(self) -> float:
        """Fraction of image pixels of class c removed by ablation."""
        return self.original - self.ablated

    @property
    def removed_rel(self) -> float:
        return self.removed / self.original if self.original > 0 else 0.0

    def to_json(self, per_sample: bool = True) -> dict:
        out = {"units": self.units, "ace": self.ace, "original": self.original, "ablated": self.ablated,
               "inserted": self.inserted, "removed": self.removed, "removed_fraction_of_class": self.removed_rel,
               "added": self.inserted - self.original, "samples": self.samples, "ci95": self.intervals()}
        if per_sample and self.per_sample is not None:
            cols = self.per_sample.t().tolist()
            out["per_sample"] = {"original": cols[0], "ablated": cols[1], "inserted": cols[2]}
        return out


@torch.no_grad()
def average_causal_effect(gen: Generator, segmenter: Segmenter, layer: str, units, cls: int, samples: int,
                          seed: int = 0, batch_size: int = 32, value: torch.Tensor | float | None = None,
                          do_insert: bool = True, start: int = 0,
                          on_batch: Optional[Callable[[int], None]] = None) -> AceResult:
    """ACE of `units` (indices or a float mask [d]) on class `cls` over seeded samples."""
    check_sample_args(samples, batch_size)
    require_spatial(gen, layer, "ACE")
    if do_insert and value is None:
        raise ValueError("insertion needs a value (see insertion_values)")
    rows = []
    with Trace(gen.module, [layer], stop=False) as tr:
        for ids in _batches(start, samples, batch_size):
            z = gen.latents(ids, seed)
            acts = tr.run(z)[layer]
            orig, labels = class_fraction(segmenter, gen, tr.output, cls)
            pres = present_mask(labels, cls, acts.shape[-2:])
            with Intervention(gen.module, layer, units, 0.0, spatial=pres):
                abl, _ = class_fraction(segmenter, gen, gen(z), cls)
            ins = orig
            if do_insert:
                with Intervention(gen.module, layer, units, value, spatial=1 - pres):
                    ins, _ = class_fraction(segmenter, gen, gen(z), cls)
            rows.append(torch.stack([orig, abl, ins], 1).double().cpu())
            if on_batch:
                on_batch(len(ids))
    per_sample = torch.cat(rows)
    o, a, i = per_sample.mean(0).tolist()
    unit_list = [int(u) for u in units] if not (isinstance(units, torch.Tensor) and units.is_floating_point()) \
        else [int(u) for u in (units > 0).nonzero().flatten()]
    return AceResult(unit_list, o, a, i if do_insert else o, samples, per_sample, seed)


def ablation_curve(gen: Generator, segmenter: Segmenter, layer: str, ordered_units: Sequence[int], cls: int,
                   samples: int, seed: int = 0, batch_size: int = 32, points: Sequence[int] | None = None,
                   on_batch=None) -> list[dict]:
    """Class pixels removed vs number of units ablated (the paper's Fig. 6), for the first n units."""
    n_max = len(ordered_units)
    points = sorted({n for n in (points or _default_points(n_max)) if 1 <= n <= n_max})
    rows = []
    for n in points:
        r = average_causal_effect(gen, segmenter, layer, list(ordered_units[:n]), cls, samples, seed, batch_size,
                                  do_insert=False, on_batch=on_batch)
        rows.append({"n": n, "removed": r.removed, "removed_fraction_of_class": r.removed_rel,
                     "original": r.original, "ablated": r.ablated})
    return rows


def _default_points(n_max: int) -> list[int]:
    pts = {1, 2, 3, 5, 10, 20, 40, 80, n_max}
    return sorted(p for p in pts if p <= n_max)
