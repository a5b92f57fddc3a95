"""Per-unit count, mean, std, min, max and activation rate (fraction of values > threshold).

Sums are float64; counts are exact integers, so merging shards equals one pass (counts exactly,
means/stds to float64 rounding).
"""
from __future__ import annotations

import torch


class Moments:
    def __init__(self, num_units: int, threshold: float = 0.0):
        self.num_units, self.threshold = num_units, threshold
        self.count = 0  # values per unit (samples × positions)
        self.sum = torch.zeros(num_units, dtype=torch.float64)
        self.sumsq = torch.zeros(num_units, dtype=torch.float64)
        self.active = torch.zeros(num_units, dtype=torch.long)
        self.min = torch.full((num_units,), float("inf"), dtype=torch.float64)
        self.max = torch.full((num_units,), float("-inf"), dtype=torch.float64)

    def add(self, acts: torch.Tensor, sample_max: torch.Tensor | None = None,
            sample_min: torch.Tensor | None = None) -> None:
        """acts: [B, d, P] (P values per sample and unit). Reductions run over the contiguous last
        axis (fast), per-sample sums in float32, then float64 across samples: batch-size
        independent to ~1e-7. `sample_max`/`sample_min` ([B, d]) may be passed in when already computed."""
        b, d, p = acts.shape
        a = acts.detach()
        self.count += b * p
        self.sum += a.sum(2).to("cpu", torch.float64).sum(0)
        self.sumsq += torch.linalg.vecdot(a, a, dim=2).to("cpu", torch.float64).sum(0)
        self.active += torch.count_nonzero(a > self.threshold, dim=2).sum(0).cpu()
        if b * p:
            smax = a.amax(2) if sample_max is None else sample_max
            smin = a.amin(2) if sample_min is None else sample_min
            self.min = torch.minimum(self.min, smin.amin(0).to("cpu", torch.float64))
            self.max = torch.maximum(self.max, smax.amax(0).to("cpu", torch.float64))

    def merge(self, other: "Moments") -> "Moments":
        if other.num_units != self.num_units or other.threshold != self.threshold:
            raise ValueError("cannot merge Moments of different shapes or thresholds")
        self.count += other.count
        self.sum += other.sum
        self.sumsq += other.sumsq
        self.active += other.active
        self.min = torch.minimum(self.min, other.min)
        self.max = torch.maximum(self.max, other.max)
        return self

    @property
    def mean(self) -> torch.Tensor:
        return self.sum / max(self.count, 1)

    @property
    def std(self) -> torch.Tensor:
        n = max(self.count, 1)
        var = (self.sumsq / n - self.mean ** 2).clamp_min(0)
        return var.sqrt()

    @property
    def rate(self) -> torch.Tensor:
        return self.active.double() / max(self.count, 1)

    def state_dict(self) -> dict:
        return {"num_units": self.num_units, "threshold": self.threshold, "count": self.count,
                "sum": self.sum.clone(), "sumsq": self.sumsq.clone(), "active": self.active.clone(),
                "min": self.min.clone(), "max": self.max.clone()}

    def load_state_dict(self, s: dict) -> "Moments":
        self.num_units, self.threshold, self.count = int(s["num_units"]), float(s["threshold"]), int(s["count"])
        for key in ("sum", "sumsq", "active", "min", "max"):
            setattr(self, key, s[key].clone())
        return self
