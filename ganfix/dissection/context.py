"""Insertion context (Fig. 8) and downstream tracing (Fig. 9) from one sweep of point insertions.

For each sample and each grid position (stride, patch × patch cells), insert units U with value k
there and segment: the gain in class-c pixels is attributed to the class found at that location in
the original image (majority label of the cell's footprint). When tracing, every later layer's change
|r' − r| is averaged per channel, split by whether the insertion visibly produced class c, and
normalised at the end by each channel's mean L1 magnitude over the original samples.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable, Optional, Sequence

import torch

from ..generator import Generator
from ..hooks import Intervention, Trace
from ..segmenters import Segmenter, checked_segment
from .ace import majority_class
from .run import require_spatial


def later_layers(gen: Generator, layer: str) -> list[str]:
    names = list(gen.top_layers()) or list(gen.layers)
    if layer not in names:
        names = list(gen.layers)
    return names[names.index(layer) + 1:]


@dataclass
class SweepResult:
    layer: str
    cls: int
    class_names: list[str]
    grid: tuple[int, int]
    patch: int
    gain_sum: torch.Tensor                # [gy, gx] summed class-pixel gain (fraction of image)
    samples: int = 0
    by_class_sum: torch.Tensor = None     # [C] gain summed by location class
    by_class_n: torch.Tensor = None       # [C] insertions per location class
    examples: list = field(default_factory=list)  # (sample id, [gy, gx] gain map) for the first few samples
    trace: dict | None = None             # {layer: {"visible": [sum per channel], ...}}
    trace_n: dict | None = None
    channel_l1: dict | None = None
    l1_n: int = 0
    per_sample_sum: list = field(default_factory=list)  # per sample: [C] gain summed by location class
    per_sample_n: list = field(default_factory=list)    # per sample: [C] insertions by location class
    per_sample_trace: dict | None = None                 # per-sample tracing sums (see intervals.trace_intervals)
    seed: int = 0

    def context_intervals(self, bootstrap: int = 1000, min_insertions: int = 1) -> dict:
        """Mean gain per location class with 95 % intervals over samples, and which orderings they support."""
        from .intervals import context_intervals

        if not self.per_sample_sum:
            return {}
        return context_intervals(torch.stack(self.per_sample_sum).numpy(), torch.stack(self.per_sample_n).numpy(),
                                 self.class_names, bootstrap, self.seed, min_insertions)

    def trace_intervals(self, bootstrap: int = 1000) -> dict:
        from .intervals import trace_intervals

        return trace_intervals(self.per_sample_trace, bootstrap, self.seed) if self.per_sample_trace else {}

    def context_table(self) -> list[dict]:
        rows = []
        for c, name in enumerate(self.class_names):
            n = int(self.by_class_n[c])
            if n:
                rows.append({"location_class": name, "insertions": n, "mean_gain": float(self.by_class_sum[c] / n)})
        return sorted(rows, key=lambda r: -r["mean_gain"])

    def heatmap(self) -> torch.Tensor:
        return self.gain_sum / max(self.samples, 1)

    def trace_curves(self) -> dict[str, dict[str, float | None]]:
        """{group: {layer: mean over channels of mean|Δ| / mean L1}} for groups visible / not_visible / all."""
        if self.trace is None:
            return {}
        out: dict[str, dict] = {"visible": {}, "not_visible": {}, "all": {}}
        for l, groups in self.trace.items():
            l1 = (self.channel_l1[l] / max(self.l1_n, 1)).clamp_min(1e-12)
            tot = groups["visible"] + groups["not_visible"]
            n_tot = self.trace_n["visible"] + self.trace_n["not_visible"]
            for g, s, n in (("visible", groups["visible"], self.trace_n["visible"]),
                            ("not_visible", groups["not_visible"], self.trace_n["not_visible"]), ("all", tot, n_tot)):
                out[g][l] = float((s / n / l1).mean()) if n else None
        return out

    def to_json(self) -> dict:
        return {"layer": self.layer, "class": self.class_names[self.cls], "grid": list(self.grid), "patch": self.patch,
                "samples": self.samples, "context": self.context_table(), "heatmap": self.heatmap().tolist(),
                "context_intervals": self.context_intervals(),
                "per_sample": {"gain_sum": [t.tolist() for t in self.per_sample_sum],
                               "insertions": [t.tolist() for t in self.per_sample_n]},
                "tracing": ({"layers": list(self.trace), "counts": self.trace_n, "curves": self.trace_curves(),
                             "intervals": self.trace_intervals()}
                            if self.trace is not None else None)}


@torch.no_grad()
def insertion_sweep(gen: Generator, segmenter: Segmenter, layer: str, units, value: torch.Tensor, cls: int,
                    samples: int, seed: int = 0, batch_size: int = 32, stride: int = 1, patch: int = 1,
                    trace: bool = False, visible_frac: float = 0.1, examples: int = 4,
                    on_sample: Optional[Callable[[int], None]] = None) -> SweepResult:
    require_spatial(gen, layer, "insertion context")
    _, h, w = gen.layer(layer).shape
    ys, xs = list(range(0, h - patch + 1, stride)), list(range(0, w - patch + 1, stride))
    masks = torch.zeros(len(ys) * len(xs), h, w)
    for i, (y, x) in enumerate((y, x) for y in ys for x in xs):
        masks[i, y:y + patch, x:x + patch] = 1
    names = list(segmenter.class_names)
    res = SweepResult(layer, cls, names, (len(ys), len(xs)), patch, torch.zeros(len(ys), len(xs)),
                      by_class_sum=torch.zeros(len(names), dtype=torch.float64),
                      by_class_n=torch.zeros(len(names), dtype=torch.long))
    downstream = later_layers(gen, layer) if trace else []
    res.seed = seed
    if trace:
        res.trace, res.trace_n, res.channel_l1 = {}, {"visible": 0, "not_visible": 0}, {}
        res.per_sample_trace = {"visible_sum": {l: [] for l in downstream}, "not_visible_sum": {l: [] for l in downstream},
                                "visible_n": [], "not_visible_n": [], "channel_l1": {l: [] for l in downstream}}
    cy = torch.tensor([y for y in ys for _ in xs]) + patch // 2  # location = the patch's centre cell
    cx = torch.tensor([x for _ in ys for x in xs]) + patch // 2
    for sid in range(samples):
        z1 = gen.latents([sid], seed)
        with Trace(gen.module, [layer] + downstream, stop=False) as tr:
            base = tr.run(z1)
            labels = checked_segment(segmenter, gen.to_signed(tr.output))
        orig = float((labels == cls).float().mean())
        loc_cls = majority_class(labels, len(names), (h, w))[0][cy, cx]  # [P]
        footprint = labels.shape[-2] * labels.shape[-1] / (h * w) * patch * patch
        gains = []
        sample_trace = {l: [0.0, 0.0] for l in downstream}
        sample_n = [0, 0]
        for lo in range(0, masks.shape[0], batch_size):
            m = masks[lo:lo + batch_size].to(gen.device)
            z = z1.expand(m.shape[0], *z1.shape[1:])
            with Intervention(gen.module, layer, units, value, spatial=m), \
                    Trace(gen.module, downstream or [layer], stop=False) as tr2:
                outs = tr2.run(z)
                lab = checked_segment(segmenter, gen.to_signed(tr2.output))
            gain = (lab == cls).float().mean((1, 2)).cpu() - orig
            gains.append(gain)
            if trace:
                visible = gain * lab[0].numel() >= max(1.0, visible_frac * footprint)
                for l in downstream:
                    delta = (outs[l] - base[l]).abs()
                    per_ch = delta.reshape(delta.shape[0], delta.shape[1], -1).mean(2).double().cpu()  # [b, C_l]
                    g = res.trace.setdefault(l, {"visible": torch.zeros(per_ch.shape[1], dtype=torch.float64),
                                                 "not_visible": torch.zeros(per_ch.shape[1], dtype=torch.float64)})
                    g["visible"] += per_ch[visible].sum(0)
                    g["not_visible"] += per_ch[~visible].sum(0)
                    sample_trace[l][0] = sample_trace[l][0] + per_ch[visible].sum(0)
                    sample_trace[l][1] = sample_trace[l][1] + per_ch[~visible].sum(0)
                res.trace_n["visible"] += int(visible.sum())
                res.trace_n["not_visible"] += int((~visible).sum())
                sample_n[0] += int(visible.sum())
                sample_n[1] += int((~visible).sum())
        gain = torch.cat(gains)
        res.gain_sum += gain.view(len(ys), len(xs)).float()
        s_sum = torch.zeros(len(names), dtype=torch.float64).index_add_(0, loc_cls.cpu(), gain.double())
        s_n = torch.zeros(len(names), dtype=torch.long).index_add_(0, loc_cls.cpu(), torch.ones_like(loc_cls.cpu()))
        res.by_class_sum += s_sum
        res.by_class_n += s_n
        res.per_sample_sum.append(s_sum)
        res.per_sample_n.append(s_n)
        if trace:
            pst = res.per_sample_trace
            for l in downstream:
                a = base[l].abs()
                l1 = a.reshape(1, a.shape[1], -1).mean(2)[0].double().cpu()
                res.channel_l1[l] = res.channel_l1.get(l, torch.zeros_like(l1)) + l1
                zero = torch.zeros_like(l1)
                pst["visible_sum"][l].append((zero + sample_trace[l][0]).tolist())
                pst["not_visible_sum"][l].append((zero + sample_trace[l][1]).tolist())
                pst["channel_l1"][l].append(l1.tolist())
            pst["visible_n"].append(sample_n[0])
            pst["not_visible_n"].append(sample_n[1])
            res.l1_n += 1
        if len(res.examples) < examples:
            res.examples.append((sid, gain.view(len(ys), len(xs))))
        res.samples += 1
        if on_sample:
            on_sample(1)
    return res
