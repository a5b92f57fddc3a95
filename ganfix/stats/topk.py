"""Per-unit top-k of one score per sample (e.g. the spatial max), with the sample ids.

Ties are broken by the smaller sample id, so the result does not depend on batch size, order or
sharding: merging shards equals one pass exactly.
"""
from __future__ import annotations

import torch


class TopK:
    def __init__(self, num_units: int, k: int = 10):
        self.num_units, self.k = num_units, k
        self.values = torch.full((num_units, k), float("-inf"))
        self.ids = torch.full((num_units, k), -1, dtype=torch.long)

    def _order(self, values: torch.Tensor, ids: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        # Order by (value desc, id asc) with two stable sorts; empty slots (-inf, id -1) sink to the end.
        order = torch.argsort(torch.where(ids < 0, torch.iinfo(torch.long).max, ids), dim=1, stable=True)
        values, ids = values.gather(1, order), ids.gather(1, order)
        order = torch.argsort(values, dim=1, descending=True, stable=True)[:, : self.k]
        return values.gather(1, order), ids.gather(1, order)

    def _select(self, values: torch.Tensor, ids: torch.Tensor) -> None:
        self.values, self.ids = self._order(values, ids)

    def add(self, scores: torch.Tensor, sample_ids: torch.Tensor) -> None:
        """scores: [B, d] one score per sample and unit; sample_ids: [B]."""
        scores = scores.detach().float().cpu().t()  # [d, B]
        sample_ids = torch.as_tensor(sample_ids, dtype=torch.long).cpu()
        # Only units where some new score can enter the top-k (ties included) need re-sorting.
        rows = (scores >= self.values[:, -1:]).any(1).nonzero().squeeze(1)
        if rows.numel() == 0:
            return
        values = torch.cat([self.values[rows], scores[rows]], dim=1)
        ids = torch.cat([self.ids[rows], sample_ids.view(1, -1).expand(rows.numel(), -1)], dim=1)
        self.values[rows], self.ids[rows] = self._order(values, ids)

    def merge(self, other: "TopK") -> "TopK":
        if (other.num_units, other.k) != (self.num_units, self.k):
            raise ValueError("cannot merge TopK of different shapes")
        self._select(torch.cat([self.values, other.values], 1), torch.cat([self.ids, other.ids], 1))
        return self

    def state_dict(self) -> dict:
        return {"num_units": self.num_units, "k": self.k, "values": self.values.clone(), "ids": self.ids.clone()}

    def load_state_dict(self, state: dict) -> "TopK":
        self.num_units, self.k = int(state["num_units"]), int(state["k"])
        self.values, self.ids = state["values"].clone(), state["ids"].clone()
        return self
