"""Per-unit dissection summary from IoU counts: best label, IoU, IQR, agreement, threshold.

IQR conventions (docs/dissection.md has eq. 1 and the measured differences):
- "reference" (default), as GAN Dissection's code: for each unit and class, the threshold maximises
  IQR only among levels that are positively correlated with the class — threshold > 0, pixel
  agreement > `select_agreement_min` (0.8), and (ganfix's explicit guarantee) P(unit ∧ class) >
  P(unit)·P(class) — never the all-on lowest level; a pair with no such level gets no threshold. A
  unit is labelled with the class of highest IQR. Candidate thresholds are quantiles of the upsampled
  maps (see run.dissect). Interpretable: IoU > iou_min, agreement > agreement_min and IQR > iqr_min.
- "unconstrained": maximise IQR over all levels (IQR is symmetric in the sign of the correlation, so
  an anti-correlated level can win) and label by the class of highest IoU. Interpretable: IoU >
  iou_min and agreement > agreement_min (no IQR floor). Candidate thresholds: layer-resolution quantiles.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import torch

from .iou import IoUStat


CONVENTIONS = ("reference", "unconstrained")


@dataclass
class Criteria:
    iou_min: float = 0.05        # a unit is interpretable for its label when IoU > iou_min …
    agreement_min: float = 0.75  # … and pixel agreement > agreement_min
    min_class_frac: float = 1e-3  # classes covering fewer pixels than this fraction are skipped
    convention: str = "reference"  # IQR convention: "reference" or "unconstrained" (module docstring)
    select_agreement_min: float = 0.8  # reference convention: only levels with agreement above this
    iqr_min: float = 0.01  # reference convention: interpretable also needs IQR > iqr_min (the reference's iqr_threshold)

    def check(self) -> None:
        from ..errors import UsageError

        if self.convention not in CONVENTIONS:
            raise UsageError(f"unknown IQR convention {self.convention!r}; choose one of: {', '.join(CONVENTIONS)}")


@dataclass
class LayerDissection:
    layer: str
    class_names: list[str]
    criteria: Criteria
    counts: IoUStat
    fractions: torch.Tensor                   # [L] fraction of positions above each level
    iou_uc: torch.Tensor = field(init=False)  # [d, C] IoU at the IQR-optimal threshold (nan: skipped class)
    iqr_uc: torch.Tensor = field(init=False)
    agree_uc: torch.Tensor = field(init=False)
    thr_uc: torch.Tensor = field(init=False)
    level_uc: torch.Tensor = field(init=False)
    admissible_uc: torch.Tensor = field(init=False)  # [d, C] bool: the pair has a level the convention allows

    def __post_init__(self) -> None:
        c = self.counts
        iqr, iou, agree = c.iqr(), c.iou(), c.agreement()  # [d, L, C]
        allowed = admissible_levels(c, self.criteria)      # [d, L, C]
        score = torch.where(allowed, iqr, torch.full_like(iqr, -1.0))
        best = score.argmax(1, keepdim=True)               # allowed threshold maximising I/H, per unit and class
        self.admissible_uc = allowed.any(1)
        self.level_uc = best.squeeze(1)
        self.iqr_uc = iqr.gather(1, best).squeeze(1)
        self.iou_uc = iou.gather(1, best).squeeze(1)
        self.agree_uc = agree.gather(1, best).squeeze(1)
        self.thr_uc = c.thresholds.double().gather(1, self.level_uc)
        skip = ~self.valid_classes.view(1, -1) | ~self.admissible_uc
        for t in (self.iou_uc, self.iqr_uc, self.agree_uc, self.thr_uc):
            t[skip] = float("nan")

    @property
    def valid_classes(self) -> torch.Tensor:
        frac = self.counts.class_px.double() / max(self.counts.pixels, 1)
        return (frac >= self.criteria.min_class_frac) & (self.counts.class_px > 0)

    @property
    def num_units(self) -> int:
        return self.counts.num_units

    def best_label(self) -> tuple[torch.Tensor, torch.Tensor]:
        """(class index [d], IoU [d]) of each unit's best class (-1 when no class is valid): the class of
        highest IQR under the reference convention, of highest IoU under the unconstrained one."""
        by = self.iqr_uc if self.criteria.convention == "reference" else self.iou_uc
        val, idx = torch.nan_to_num(by, nan=-1.0).max(1)
        idx = torch.where(val >= 0, idx, torch.full_like(idx, -1))
        iou = torch.nan_to_num(self.iou_uc, nan=0.0).gather(1, idx.clamp_min(0).view(-1, 1)).squeeze(1)
        return idx, torch.where(idx >= 0, iou, torch.zeros_like(iou))

    def units(self) -> list[dict]:
        cls, iou = self.best_label()
        rows = []
        for u in range(self.num_units):
            c = int(cls[u])
            if c < 0:
                rows.append({"unit": u, "label": None, "iou": 0.0, "iqr": 0.0, "agreement": None,
                             "threshold": None, "interpretable": False})
                continue
            agree = float(self.agree_uc[u, c])
            rows.append({"unit": u, "label": self.class_names[c], "iou": float(iou[u]), "iqr": float(self.iqr_uc[u, c]),
                         "level": int(self.level_uc[u, c]),
                         "agreement": agree, "threshold": float(self.thr_uc[u, c]),
                         "quantile": float(1 - self.fractions[self.level_uc[u, c]]),
                         "interpretable": self._interpretable(float(iou[u]), agree, float(self.iqr_uc[u, c]))})
        return rows

    def _interpretable(self, iou: float, agree: float, iqr: float) -> bool:
        c = self.criteria
        ok = iou > c.iou_min and agree > c.agreement_min
        return bool(ok and (c.convention != "reference" or iqr > c.iqr_min))

    def interpretable_by_class(self, rows: list[dict] | None = None) -> dict[str, int]:
        rows = rows if rows is not None else self.units()
        out: dict[str, int] = {}
        for r in rows:
            if r["interpretable"]:
                out[r["label"]] = out.get(r["label"], 0) + 1
        return dict(sorted(out.items(), key=lambda kv: (-kv[1], kv[0])))

    def class_ranking(self, class_index: int) -> list[int]:
        """Units ordered by IoU with one class (best first)."""
        iou = torch.nan_to_num(self.iou_uc[:, class_index], nan=-1.0)
        return [int(u) for u in torch.argsort(-iou, stable=True)]

    def to_json(self, top: int | None = None) -> dict:
        rows = self.units()
        ranked = sorted(rows, key=lambda r: -r["iou"])
        frac = (self.counts.class_px.double() / max(self.counts.pixels, 1)).tolist()
        return {
            "layer": self.layer,
            "units_total": self.num_units,
            "interpretable": sum(r["interpretable"] for r in rows),
            "interpretable_by_class": self.interpretable_by_class(rows),
            "criteria": vars(self.criteria),
            "samples": self.counts.samples,
            "class_pixel_fraction": {n: f for n, f in zip(self.class_names, frac)},
            "skipped_classes": [n for n, v in zip(self.class_names, self.valid_classes.tolist()) if not v],
            "best_unit_by_class": self.best_unit_by_class(),
            "units": ranked[:top] if top else ranked,
        }

    def best_unit_by_class(self) -> dict[str, dict]:
        """For every non-skipped class, the unit with the highest IoU for it (small classes rarely win a
        unit's best label, so this is where door/window units show up)."""
        out = {}
        for c, name in enumerate(self.class_names):
            if not bool(self.valid_classes[c]) or not bool(self.admissible_uc[:, c].any()):
                continue
            u = self.class_ranking(c)[0]
            out[name] = {"unit": u, "iou": float(self.iou_uc[u, c]), "iqr": float(self.iqr_uc[u, c]),
                         "agreement": float(self.agree_uc[u, c]), "threshold": float(self.thr_uc[u, c])}
        return out


def positively_correlated(counts: IoUStat) -> torch.Tensor:
    """[d, L, C] bool: P(unit on ∧ class) > P(unit on) · P(class), i.e. n11 · N > |A| · |S| (exact integers)."""
    n = counts.pixels
    a = counts.unit_on.unsqueeze(2)             # |A| [d, L, 1]
    s_ = counts.class_px.view(1, 1, -1)         # |S| [1, 1, C]
    # int64 products overflow only beyond ~3·10^9 pixels; float64 keeps the comparison safe there too.
    return counts.inter.double() * float(n) > a.double() * s_.double()


def admissible_levels(counts: IoUStat, crit: Criteria) -> torch.Tensor:
    """[d, L, C] bool: the threshold levels the IQR maximisation may choose under crit.convention."""
    d, L, C = counts.inter.shape
    if crit.convention == "unconstrained":
        return torch.ones(d, L, C, dtype=torch.bool)
    thr_pos = (counts.thresholds > 0).view(d, L, 1)
    not_all_on = (counts.unit_on < counts.pixels).view(d, L, 1)  # the reference zeroes MI at the all-on level
    agree = counts.agreement() > crit.select_agreement_min
    return thr_pos & not_all_on & agree & positively_correlated(counts)
