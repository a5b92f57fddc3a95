"""All per-unit statistics of one layer, gathered in one streaming pass.

- top-k samples by the unit's per-sample spatial max (values + sample ids; exact, mergeable)
- moments: mean, std, min, max, activation rate (fraction of values > 0)
- quantiles of activation values (PositionSample; exact below capacity, DKW-bounded above)
"""
from __future__ import annotations

import torch

from ..errors import NonFiniteActivations
from .moments import Moments
from .position_sample import PositionSample
from .topk import TopK


class UnitStats:
    def __init__(self, num_units: int, k: int = 10, capacity: int = 1 << 15, seed: int = 0):
        self.num_units = num_units
        self.topk = TopK(num_units, k)
        self.moments = Moments(num_units)
        self.sample = PositionSample(num_units, capacity, seed)
        self.samples = 0
        self.meta: dict = {}

    @staticmethod
    def check_finite(acts: torch.Tensor, layer: str = "layer") -> None:
        finite = torch.isfinite(acts)
        if not bool(finite.all()):
            bad = (~finite).transpose(0, 1).reshape(acts.shape[1], -1).any(1).nonzero().squeeze(1).tolist()
            shown = ", ".join(map(str, bad[:20])) + (f" (+{len(bad) - 20} more)" if len(bad) > 20 else "")
            raise NonFiniteActivations(f"non-finite activations (NaN/Inf) in {layer}, units {shown}; check the checkpoint, output_range= and z_shape=")

    def add(self, acts: torch.Tensor, sample_ids) -> None:
        """acts: [B, d, H, W] or [B, d]; sample_ids: [B] ints."""
        b, d = acts.shape[:2]
        flat = acts.reshape(b, d, -1)
        sample_min, sample_max = torch.aminmax(flat, dim=2)
        # NaN propagates into max and ±Inf shows in min/max: a cheap finiteness check on [B, d].
        if not bool(torch.isfinite(sample_max).all() and torch.isfinite(sample_min).all()):
            self.check_finite(acts, self.meta.get("layer", "layer"))
        self.topk.add(sample_max, torch.as_tensor(sample_ids))
        self.moments.add(flat, sample_max, sample_min)
        self.sample.add(flat, sample_ids)
        self.samples += b

    def merge(self, other: "UnitStats") -> "UnitStats":
        self.topk.merge(other.topk)
        self.moments.merge(other.moments)
        self.sample.merge(other.sample)
        self.samples += other.samples
        return self

    # -- derived -------------------------------------------------------------------------------
    @property
    def mean(self) -> torch.Tensor:
        return self.moments.mean.float()

    @property
    def std(self) -> torch.Tensor:
        return self.moments.std.float()

    @property
    def rate(self) -> torch.Tensor:
        return self.moments.rate.float()

    def quantile(self, q) -> torch.Tensor:
        return self.sample.quantile(q)

    def summary(self, unit: int) -> dict:
        return {
            "unit": unit,
            "top_max": float(self.topk.values[unit, 0]),
            "topk_mean": float(self.topk.values[unit].clamp_min(-1e30).mean()),
            "mean": float(self.mean[unit]),
            "std": float(self.std[unit]),
            "rate": float(self.rate[unit]),
            "q99": float(self.quantile(0.99)[unit]),
            "top_ids": [int(i) for i in self.topk.ids[unit] if i >= 0],
        }

    # -- persistence ----------------------------------------------------------------------------
    def state_dict(self) -> dict:
        return {"num_units": self.num_units, "samples": self.samples, "meta": dict(self.meta),
                "topk": self.topk.state_dict(), "moments": self.moments.state_dict(), "sample": self.sample.state_dict()}

    def load_state_dict(self, s: dict) -> "UnitStats":
        self.num_units, self.samples, self.meta = int(s["num_units"]), int(s["samples"]), dict(s.get("meta", {}))
        self.topk.load_state_dict(s["topk"])
        self.moments.load_state_dict(s["moments"])
        self.sample.load_state_dict(s["sample"])
        return self

    @classmethod
    def from_state_dict(cls, s: dict) -> "UnitStats":
        obj = cls(int(s["num_units"]), int(s["topk"]["k"]), int(s["sample"]["capacity"]), int(s["sample"]["seed"]))
        return obj.load_state_dict(s)
