"""Streaming unit × threshold-level × class confusion counts, and IoU / IQR / agreement from them.

For one unit u with sorted thresholds t_0 ≤ … ≤ t_{L-1}, the intersection counts |M_{u,l} ∧ S_c| of
every mask M_{u,l} = [a > t_l] with every class come from one `bincount` over (unit, fine bin, class)
and a suffix sum, with exact comparisons only for values that share a bin with a threshold (see
level_counts.py) — O(pixels · units) work, no loop over levels, and exact int64 counts: any batch
size or any split into shards gives identical numbers.
"""
from __future__ import annotations

import torch

from .level_counts import LevelCounter
from .upsample import upsample_units


class IoUStat:
    def __init__(self, thresholds: torch.Tensor, num_classes: int, unit_chunk: int = 32):
        self.thresholds = thresholds.float().cpu().contiguous()  # [d, L]
        self.num_units, self.levels = self.thresholds.shape
        self.num_classes = int(num_classes)
        self.unit_chunk = unit_chunk  # units per bincount: bounds memory of the upsampled maps
        self._counter = None  # built on first add (derived from thresholds, not state)
        d, L, C = self.num_units, self.levels, self.num_classes
        self.inter = torch.zeros(d, L, C, dtype=torch.int64)  # |M_{u,l} ∧ S_c|
        self.unit_on = torch.zeros(d, L, dtype=torch.int64)   # |M_{u,l}|
        self.class_px = torch.zeros(C, dtype=torch.int64)     # |S_c|
        self.pixels = 0                                       # pixels seen
        self.samples = 0

    def add(self, acts: torch.Tensor, seg: torch.Tensor) -> None:
        """acts [B, d, h, w] at layer resolution; seg [B, H, W] class indices."""
        b, d = acts.shape[:2]
        if d != self.num_units:
            raise ValueError(f"expected {self.num_units} units, got {d}")
        size = tuple(seg.shape[-2:])
        seg_flat = seg.reshape(-1).to(torch.int64).cpu()
        C, L = self.num_classes, self.levels
        self.class_px += torch.bincount(seg_flat, minlength=C)
        self.pixels += seg_flat.numel()
        self.samples += b
        if self._counter is None:
            self._counter = LevelCounter(self.thresholds, C)
        seg_f = seg_flat.float()
        for lo in range(0, d, self.unit_chunk):
            hi = min(lo + self.unit_chunk, d)
            vals = upsample_units(acts[:, lo:hi], size).reshape(hi - lo, -1)  # [u, B·H·W]
            above = self._counter.above(vals, seg_f, lo, hi)  # [u, L, C]
            self.inter[lo:hi] += above
            self.unit_on[lo:hi] += above.sum(2)

    def merge(self, other: "IoUStat") -> "IoUStat":
        if not torch.equal(self.thresholds, other.thresholds) or self.num_classes != other.num_classes:
            raise ValueError("cannot merge IoU counts made with different thresholds or class lists")
        self.inter += other.inter
        self.unit_on += other.unit_on
        self.class_px += other.class_px
        self.pixels += other.pixels
        self.samples += other.samples
        return self

    # -- derived --------------------------------------------------------------------------------
    def confusion(self) -> tuple[torch.Tensor, ...]:
        """(n11, n10, n01, n00) float64 [d, L, C]: unit on/off × class present/absent."""
        n11 = self.inter.double()
        a = self.unit_on.double().unsqueeze(2)
        s = self.class_px.double().view(1, 1, -1)
        n10, n01 = a - n11, s - n11
        n00 = float(self.pixels) - a - s + n11
        return n11, n10, n01, n00

    def iou(self) -> torch.Tensor:
        n11, n10, n01, _ = self.confusion()
        return n11 / (n11 + n10 + n01).clamp_min(1)

    def agreement(self) -> torch.Tensor:
        n11, _, _, n00 = self.confusion()
        return (n11 + n00) / max(self.pixels, 1)

    def iqr(self) -> torch.Tensor:
        """Information quality ratio I(A;B) / H(A,B) per [unit, level, class] (0 where H = 0)."""
        return iqr_from_counts(*self.confusion())

    def state_dict(self) -> dict:
        return {"thresholds": self.thresholds.clone(), "num_classes": self.num_classes, "inter": self.inter.clone(),
                "unit_on": self.unit_on.clone(), "class_px": self.class_px.clone(), "pixels": self.pixels,
                "samples": self.samples}

    @classmethod
    def from_state_dict(cls, s: dict) -> "IoUStat":
        obj = cls(s["thresholds"], int(s["num_classes"]))
        obj.inter, obj.unit_on, obj.class_px = s["inter"].clone(), s["unit_on"].clone(), s["class_px"].clone()
        obj.pixels, obj.samples = int(s["pixels"]), int(s["samples"])
        return obj


def _plogp(p: torch.Tensor) -> torch.Tensor:
    return torch.where(p > 0, p * torch.log(p.clamp_min(1e-300)), torch.zeros_like(p))


def iqr_from_counts(n11, n10, n01, n00) -> torch.Tensor:
    n = n11 + n10 + n01 + n00
    p11, p10, p01, p00 = (x / n.clamp_min(1) for x in (n11, n10, n01, n00))
    h_joint = -(_plogp(p11) + _plogp(p10) + _plogp(p01) + _plogp(p00))
    h_a = -(_plogp(p11 + p10) + _plogp(p01 + p00))
    h_b = -(_plogp(p11 + p01) + _plogp(p10 + p00))
    mi = (h_a + h_b - h_joint).clamp_min(0)
    return torch.where(h_joint > 0, mi / h_joint.clamp_min(1e-300), torch.zeros_like(h_joint))
