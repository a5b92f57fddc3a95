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
        self.seen = 0  # positions offered
        # Preallocated buffers (columns 0…n−1 are live): appending never copies what is kept.
        self._values = torch.zeros(0, num_units)  # positions-major: rows are appended contiguously
        self._hashes = torch.zeros(0, dtype=torch.float64)
        self._n = 0

    @property
    def rate(self) -> float:
        return 2.0 ** -self.level

    @property
    def values(self) -> torch.Tensor:
        """[d, n] view of the kept values."""
        return self._values[: self._n].t()

    @property
    def hashes(self) -> torch.Tensor:
        return self._hashes[: self._n]

    def _append(self, values: torch.Tensor, hashes: torch.Tensor) -> None:
        k = hashes.numel()
        if self._n + k > self._hashes.numel():
            alloc = max(self._n + k, min(2 * max(self._hashes.numel(), 1024), 2 * self.capacity + k))
            grown_v = torch.empty(alloc, self.num_units)
            grown_h = torch.empty(alloc, dtype=torch.float64)
            grown_v[: self._n] = self._values[: self._n]
            grown_h[: self._n] = self.hashes
            self._values, self._hashes = grown_v, grown_h
        self._values[self._n : self._n + k] = values  # values: [k, d]
        self._hashes[self._n : self._n + k] = hashes
        self._n += k
        self._compact()

    def add(self, acts: torch.Tensor, sample_ids) -> None:
        """acts: [B, d, P] (P positions per sample, P = 1 for vector layers); sample_ids: [B]."""
        b, d, p = acts.shape
        h = torch.from_numpy(position_hash(self.seed, np.asarray(sample_ids, dtype=np.int64), p))  # [B, P]
        self.seen += b * p
        keep = (h < self.rate).nonzero()
        if keep.numel() == 0:
            return
        bi, pi = keep[:, 0], keep[:, 1]
        vals = acts.detach()[bi.to(acts.device), :, pi.to(acts.device)]  # [k, d]: only kept positions are copied
        self._append(vals.float().cpu(), h[bi, pi])

    def add_gathered(self, sample_ids, positions: int, gather) -> None:
        """Like `add` for values too big to materialise: `gather(bi, pi)` returns the [k, d] values of
        the kept (sample index, position) pairs only (e.g. upsampled maps computed per unit chunk)."""
        h = torch.from_numpy(position_hash(self.seed, np.asarray(sample_ids, dtype=np.int64), positions))
        self.seen += h.numel()
        keep = (h < self.rate).nonzero()
        if keep.numel() == 0:
            return
        bi, pi = keep[:, 0], keep[:, 1]
        self._append(gather(bi, pi).float().cpu(), h[bi, pi])

    def _compact(self) -> None:
        if self._n <= self.capacity:
            return
        hashes = self.hashes
        while int((hashes < 2.0 ** -self.level).sum()) > self.capacity:
            self.level += 1
        keep = (hashes < self.rate).nonzero().squeeze(1)
        n = keep.numel()
        self._values[:n] = self._values[keep]
        self._hashes[:n] = self._hashes[keep]
        self._n = n

    def merge(self, other: "PositionSample") -> "PositionSample":
        if (other.num_units, other.capacity, other.seed) != (self.num_units, self.capacity, self.seed):
            raise ValueError("cannot merge PositionSample with different units, capacity or seed")
        self.level = max(self.level, other.level)
        keep = (other.hashes < self.rate).nonzero().squeeze(1)
        self.seen += other.seen
        self._append(other._values[keep], other.hashes[keep])
        self._n_filter()
        return self

    def _n_filter(self) -> None:
        """Drop live entries above the current rate (after a merge raised the level)."""
        keep = (self.hashes < self.rate).nonzero().squeeze(1)
        n = keep.numel()
        self._values[:n] = self._values[keep]
        self._hashes[:n] = self._hashes[keep]
        self._n = n

    @property
    def size(self) -> int:
        return int(self.hashes.numel())

    @property
    def exact(self) -> bool:
        return self.level == 0

    def _state_key(self) -> tuple:
        return (self.level, self.size, self.seen)

    def _sorted(self) -> torch.Tensor:
        """[d, n] kept values sorted per unit. Memoised until the next add/merge/load. A sorted multiset
        does not depend on the order values arrived in, so no ordering by hash is needed first."""
        key = self._state_key()
        if getattr(self, "_sorted_key", None) != key:
            # numpy's sort is several times faster than torch.sort on CPU for float32 rows (vectorised)
            self._sorted_cache = torch.from_numpy(np.sort(self.values.contiguous().numpy(), axis=1))
            self._sorted_key = key
        return self._sorted_cache

    def quantile(self, q) -> torch.Tensor:
        """Per-unit quantiles: q scalar → [d]; q sequence → [d, len(q)] (linear interpolation)."""
        if self.size == 0:
            raise ValueError("no values seen")
        qs = torch.as_tensor(q, dtype=torch.float64).reshape(-1).clamp(0, 1)
        pos = qs * (self.size - 1)  # linear interpolation between order statistics
        lo, hi = pos.floor().long(), pos.ceil().long()
        frac = (pos - lo).float()
        both = self._sorted()[:, torch.cat([lo, hi])]
        out = both[:, : len(lo)] * (1 - frac) + both[:, len(lo):] * frac
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
        self._values, self._hashes = s["values"].t().contiguous(), s["hashes"].clone()
        self._n = self._hashes.numel()
        self._sorted_key = None
        return self
