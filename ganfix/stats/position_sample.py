"""Quantiles of each unit's activation values with bounded memory: a hash-threshold position sample.

Every (sample id, position) gets a fixed pseudo-random hash h in [0, 1) (shared by all units). The
sketch keeps the values at positions with h < 2^-level, raising `level` whenever more than
`capacity` positions are kept. The kept set is therefore a pure function of the data seen, not of
batch size, order or sharding: merging shards gives exactly the one-pass sketch.

Error bound. Below capacity every value is kept and quantiles are exact. Otherwise the kept
positions are a uniform random sample of m ≥ 1 positions (m is reported; it is near capacity/2 or
more), and by the Dvoretzky–Kiefer–Wolfowitz inequality the rank error of every quantile is at most
ε = sqrt(ln(2/δ) / (2m)) with probability 1 − δ (per unit). With the default capacity 2^15 and δ =
0.001 that is ε ≤ 0.015 (i.e. the 0.99 quantile estimate lies between the true 0.975 and 1.0
quantiles), typically far less; `rank_error_bound()` gives the figure for the actual m.
"""
from __future__ import annotations

import math

import numpy as np
import torch

from ..latents import position_hash


class PositionSample:
    def __init__(self, num_units: int, capacity: int = 1 << 15, seed: int = 0):
        self.num_units, self.capacity, self.seed = num_units, int(capacity), int(seed)
        self.level = 0
        self.values = torch.zeros(num_units, 0)
        self.hashes = torch.zeros(0, dtype=torch.float64)
        self.seen = 0  # positions offered

    @property
    def rate(self) -> float:
        return 2.0 ** -self.level

    def add(self, acts: torch.Tensor, sample_ids) -> None:
        """acts: [B, d, P] (P positions per sample, P = 1 for vector layers); sample_ids: [B]."""
        b, d, p = acts.shape
        h = torch.from_numpy(position_hash(self.seed, np.asarray(sample_ids, dtype=np.int64), p)).reshape(-1)
        self.seen += b * p
        keep = h < self.rate
        if not bool(keep.any()):
            return
        vals = acts.detach().float().permute(1, 0, 2).reshape(d, b * p)
        kept_idx = keep.nonzero().squeeze(1)
        self.values = torch.cat([self.values, vals[:, kept_idx.to(vals.device)].cpu()], dim=1)
        self.hashes = torch.cat([self.hashes, h[kept_idx]])
        self._compact()

    def _compact(self) -> None:
        if self.hashes.numel() <= self.capacity:
            return
        while int((self.hashes < 2.0 ** -self.level).sum()) > self.capacity:
            self.level += 1
        keep = (self.hashes < self.rate).nonzero().squeeze(1)
        self.values, self.hashes = self.values[:, keep].contiguous(), self.hashes[keep].contiguous()

    def merge(self, other: "PositionSample") -> "PositionSample":
        if (other.num_units, other.capacity, other.seed) != (self.num_units, self.capacity, self.seed):
            raise ValueError("cannot merge PositionSample with different units, capacity or seed")
        self.level = max(self.level, other.level)
        keep_a = (self.hashes < self.rate).nonzero().squeeze(1)
        keep_b = (other.hashes < self.rate).nonzero().squeeze(1)
        self.values = torch.cat([self.values[:, keep_a], other.values[:, keep_b]], 1)
        self.hashes = torch.cat([self.hashes[keep_a], other.hashes[keep_b]])
        self.seen += other.seen
        self._compact()
        return self

    @property
    def size(self) -> int:
        return int(self.hashes.numel())

    @property
    def exact(self) -> bool:
        return self.level == 0

    def _sorted(self) -> torch.Tensor:
        # Memoised until the next add/merge/load (keyed by the state it was computed from).
        key = (self.level, self.size, self.seen)
        if getattr(self, "_sorted_key", None) != key:
            self._sorted_cache = torch.sort(self.values, dim=1).values
            self._sorted_key = key
        return self._sorted_cache

    def quantile(self, q) -> torch.Tensor:
        """Per-unit quantiles: q scalar → [d]; q sequence → [d, len(q)] (linear interpolation)."""
        if self.size == 0:
            raise ValueError("no values seen")
        qs = torch.as_tensor(q, dtype=torch.float64).reshape(-1).clamp(0, 1)
        ordered = self._sorted()
        pos = qs * (ordered.shape[1] - 1)  # linear interpolation between order statistics
        lo, hi = pos.floor().long(), pos.ceil().long()
        frac = (pos - lo).float()
        out = ordered[:, lo] * (1 - frac) + ordered[:, hi] * frac
        return out[:, 0] if torch.as_tensor(q).dim() == 0 else out

    def rank_error_bound(self, delta: float = 1e-3) -> float:
        if self.exact:
            return 0.0
        return math.sqrt(math.log(2 / delta) / (2 * max(self.size, 1)))

    def state_dict(self) -> dict:
        return {"num_units": self.num_units, "capacity": self.capacity, "seed": self.seed, "level": self.level,
                "values": self.values.clone(), "hashes": self.hashes.clone(), "seen": self.seen}

    def load_state_dict(self, s: dict) -> "PositionSample":
        self.num_units, self.capacity, self.seed = int(s["num_units"]), int(s["capacity"]), int(s["seed"])
        self.level, self.seen = int(s["level"]), int(s["seen"])
        self.values, self.hashes = s["values"].clone(), s["hashes"].clone()
        return self
