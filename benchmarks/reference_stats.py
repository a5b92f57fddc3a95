"""A re-implementation, for benchmarking only, of the statistics GAN Dissection's pass keeps
(netdissect's `runningstats`): a streaming quantile sketch and a running top-k per unit.

Written from the published description of that code, not copied: the quantile sketch keeps a stack
of buffers of shrinking capacity (resolution · 0.67^level, at least `buffersize`); level 0 receives
raw rows; a full level is sorted per unit and every other value (random offset) moves up a level with
twice the weight; when the stack is as deep as it may go, the stream is subsampled at a halving rate.
The read-out gathers all levels with their weights plus the extremes, sorts, and interpolates the
weighted CDF per unit with numpy. The top-k keeps 2k candidates and trims with torch.topk.
Its accuracy and speed are what ganfix's `PositionSample`/`TopK` are measured against
(benchmarks/bench_stats.py); ganfix never uses this module.
"""
from __future__ import annotations

import math

import numpy as np
import torch


class RefRunningQuantile:
    def __init__(self, depth: int, resolution: int = 2048, seed: int = 0):
        self.depth, self.resolution = depth, resolution
        self.buffersize = min(128, (resolution + 7) // 8)
        self.samplerate = 1.0
        self.levels = [torch.zeros(depth, resolution)]
        self.fill = [0]
        self.lo = torch.full((depth,), math.inf)
        self.hi = torch.full((depth,), -math.inf)
        self.size = 0
        self.rng = torch.Generator().manual_seed(seed)

    def _bit(self) -> int:
        return int(torch.randint(0, 2, (1,), generator=self.rng))

    def _extremes(self, rows: torch.Tensor) -> None:
        if len(rows):
            self.lo = torch.minimum(self.lo, rows.min(0).values)
            self.hi = torch.maximum(self.hi, rows.max(0).values)

    def _subsample(self, rows: torch.Tensor) -> torch.Tensor:
        keep = torch.rand(len(rows), generator=self.rng) < self.samplerate
        return rows[keep]

    def add(self, rows: torch.Tensor) -> None:
        """rows: [n, depth] — one row per (sample, position)."""
        self.size += len(rows)
        self._extremes(rows)
        if self.samplerate < 1.0:
            rows = self._subsample(rows)
        i = 0
        while i < len(rows):
            room = self.levels[0].shape[1] - self.fill[0]
            if room == 0:
                if not self._promote():
                    rows = self._subsample(rows[i:])
                    i = 0
                room = self.levels[0].shape[1] - self.fill[0]
            take = min(room, len(rows) - i)
            self.levels[0][:, self.fill[0]:self.fill[0] + take] = rows[i:i + take].t()
            self.fill[0] += take
            i += take

    def _promote(self) -> bool:
        """Sort full levels and move every other value one level up; grow or subsample when needed."""
        lvl = 0
        while self.levels[lvl].shape[1] - self.fill[lvl] < (1 if lvl == 0 else -(-self.levels[lvl - 1].shape[1] // 2)):
            if lvl + 1 >= len(self.levels):
                return self._grow()
            data = self.levels[lvl][:, : self.fill[lvl]].sort(dim=1).values[:, self._bit()::2]
            at = self.fill[lvl + 1]
            self.levels[lvl + 1][:, at:at + data.shape[1]] = data
            self.fill[lvl], self.fill[lvl + 1] = 0, at + data.shape[1]
            lvl += 1
        return True

    def _grow(self) -> bool:
        cap = int(math.ceil(self.resolution * 0.67 ** len(self.levels)))
        cap = max(self.buffersize, -8 * (-cap // 8)) if cap >= 2 else 0
        if cap:
            # a new, smaller level 0: existing levels shift up one (their weights double)
            self.levels.insert(0, torch.zeros(self.depth, cap))
            self.fill.insert(0, 0)
        else:
            self.samplerate *= 0.5
        for lvl in range(1, len(self.levels)):
            n = self.fill[lvl]
            if n == 0:
                continue
            below_room = self.levels[lvl - 1].shape[1] - self.fill[lvl - 1] - n
            need = 1 if lvl - 1 == 0 else -(-self.levels[lvl - 2].shape[1] // 2)
            if below_room >= need:  # move down: keeps its weight
                at = self.fill[lvl - 1]
                self.levels[lvl - 1][:, at:at + n] = self.levels[lvl][:, :n]
                self.fill[lvl - 1], self.fill[lvl] = at + n, 0
            else:  # halve in place
                data = self.levels[lvl][:, :n].sort(dim=1).values[:, self._bit()::2]
                self.levels[lvl][:, : data.shape[1]] = data
                self.fill[lvl] = data.shape[1]
        return cap > 0

    def quantiles(self, qs) -> torch.Tensor:
        parts = [self.lo[:, None], self.hi[:, None]]
        weights = [torch.zeros(2)]
        for lvl, n in enumerate(self.fill):
            if n:
                parts.append(self.levels[lvl][:, :n])
                weights.append(torch.full((n,), 2.0 ** lvl / self.samplerate))
        summary = torch.cat(parts, 1)
        w = torch.cat(weights).expand(self.depth, -1)
        summary, order = summary.sort(dim=1)
        w = torch.gather(w, 1, order)
        cw = torch.cumsum(w, 1) - w / 2
        cw = cw / w.sum(1, keepdim=True)
        cw[:, 0], cw[:, -1] = 0.0, 1.0
        q, s, c = np.asarray(qs, dtype=np.float64), summary.numpy(), cw.numpy()
        return torch.from_numpy(np.stack([np.interp(q, c[d], s[d]) for d in range(self.depth)])).float()


class RefRunningTopK:
    def __init__(self, depth: int, k: int = 10):
        self.k = k
        self.values = torch.full((depth, 0), -math.inf)
        self.ids = torch.zeros(depth, 0, dtype=torch.long)

    def add(self, per_sample: torch.Tensor, ids: torch.Tensor) -> None:
        """per_sample: [B, depth] (e.g. spatial max), ids: [B]."""
        self.values = torch.cat([self.values, per_sample.t()], 1)
        self.ids = torch.cat([self.ids, ids.expand(per_sample.shape[1], -1)], 1)
        if self.values.shape[1] >= 2 * self.k:
            top = torch.topk(self.values, self.k, dim=1)
            self.values, self.ids = top.values, torch.gather(self.ids, 1, top.indices)

    def result(self):
        top = torch.topk(self.values, min(self.k, self.values.shape[1]), dim=1)
        return top.values, torch.gather(self.ids, 1, top.indices)
