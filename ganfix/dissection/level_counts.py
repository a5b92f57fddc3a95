"""Exact per-level, per-class counts |{a > t_{u,l}} ∧ S_c| without bucketing every value against every threshold.

Each unit's threshold range is cut into G equal bins by one float formula
g(x) = clamp(floor((x − t0) · inv), 0, G − 1), applied identically to values and thresholds, so g is
monotone: g(v) > g(t) implies v > t and g(v) < g(t) implies v < t. One `bincount` over
(unit, bin, class) of all values, then a suffix sum over bins, gives for each level the count of
values in bins *above* its threshold's bin — exact. Only values that share a bin with some threshold
("boundary" bins; the clamped end bins always are) need a real comparison: for those,
#{thresholds < v} (searchsorted on the unit's row) minus the thresholds in lower bins says which
of the bin's levels v is above, added as a difference array over levels. That is one cheap pass over
all values plus exact work on the few near a threshold, instead of a per-value search.
"""
from __future__ import annotations

import torch


class LevelCounter:
    def __init__(self, thresholds: torch.Tensor, num_classes: int, bins: int = 2048):
        thr = thresholds.float().contiguous()  # [U, L], non-decreasing along L
        self.thr = thr
        self.U, self.L = thr.shape
        self.C = int(num_classes)
        self.G = bins
        self.t0 = thr[:, :1].clone()
        width = (thr[:, -1:] - self.t0) / bins
        self.inv = torch.where(width > 0, 1.0 / width.clamp_min(1e-30), torch.zeros_like(width))
        g_thr = self._bins(thr, 0, self.U)  # [U, L], non-decreasing
        self.g_thr1 = (g_thr.long() + 1).contiguous()  # suffix index: values in bins strictly above the threshold's bin
        boundary = torch.zeros(self.U, bins, dtype=torch.bool)
        boundary.scatter_(1, g_thr.long(), True)
        # indexed like the bincount: (unit · G + bin) · C + class
        self.boundary3 = boundary.unsqueeze(2).expand(self.U, bins, self.C).reshape(-1).contiguous()
        # per unit and bin: the first level whose threshold lies in that bin or above (= thresholds in lower bins)
        self.first_level = torch.searchsorted(g_thr.contiguous(), torch.arange(bins, dtype=torch.float32).expand(self.U, bins).contiguous()).reshape(-1)
        self.unit_off = (torch.arange(self.U, dtype=torch.float32) * bins).view(-1, 1)

    def _bins(self, x: torch.Tensor, lo: int, hi: int) -> torch.Tensor:
        # The same ops on thresholds and values: the rounding is identical, so monotonicity holds exactly.
        # Float bin numbers (exact integers below 2^24) keep the hot path in one dtype.
        return (x - self.t0[lo:hi]).mul_(self.inv[lo:hi]).floor_().clamp_(0, self.G - 1)

    def _levels_below(self, v: torch.Tensor, j: torch.Tensor, lo: int, hi: int) -> torch.Tensor:
        """#{levels l : t_{unit j, l} < v} for each value v of unit j (j sorted): one batched searchsorted over
        a [u, max per unit] table padded with +inf, instead of one call per unit."""
        u = hi - lo
        per_unit = torch.bincount(j, minlength=u)
        start = torch.cumsum(per_unit, 0) - per_unit
        col = torch.arange(j.numel()) - start.index_select(0, j)  # position of each value within its unit
        table = torch.full((u, int(per_unit.max())), float("inf"))
        table[j, col] = v
        return torch.searchsorted(self.thr[lo:hi].contiguous(), table)[j, col]

    def above(self, vals: torch.Tensor, seg: torch.Tensor, lo: int, hi: int) -> torch.Tensor:
        """vals [u, N] (units lo…hi−1), seg [N] float class ids → int64 [u, L, C]: #{v > t_l, class c}."""
        u, G, C, L = hi - lo, self.G, self.C, self.L
        key = self._bins(vals, lo, hi).add_(self.unit_off[:u]).mul_(C).add_(seg.view(1, -1))
        idx = key.to(torch.int32).view(-1)  # (j · G + bin) · C + class, exact: < 2^24
        hist = torch.bincount(idx, minlength=u * G * C).view(u, G, C)
        suffix = torch.zeros(u, G + 1, C, dtype=torch.int64)
        suffix[:, :G] = hist.flip(1).cumsum(1).flip(1)
        out = suffix.gather(1, self.g_thr1[lo:hi].unsqueeze(2).expand(u, L, C)).clone()  # bins strictly above

        near = self.boundary3[lo * G * C:hi * G * C].index_select(0, idx)
        pos = near.nonzero().view(-1)
        if pos.numel() == 0:
            return out
        sidx = idx.index_select(0, pos).long()
        c, jg = sidx % C, sidx // C  # class; j · G + bin
        j = jg // G
        v = vals.reshape(-1).index_select(0, pos)  # positions are sorted, hence grouped by unit
        start = self.first_level.index_select(0, jg + lo * G)  # first level in v's bin
        stop = self._levels_below(v, j, lo, hi)
        base = j * ((L + 1) * C) + c  # levels start…stop−1 of v's bin are below v: a difference array over levels
        diff = (torch.bincount(base + start * C, minlength=u * (L + 1) * C)
                - torch.bincount(base + stop * C, minlength=u * (L + 1) * C)).view(u, L + 1, C)
        out += diff.cumsum(1)[:, :L]
        return out
