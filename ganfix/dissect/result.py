"""Per-unit dissection summary from IoU counts: best label, IoU, IQR, agreement, threshold."""
from __future__ import annotations

from dataclasses import dataclass, field

import torch

from .iou import IoUStat


@dataclass
class Criteria:
    iou_min: float = 0.05        # a unit is interpretable for its label when IoU > iou_min …
    agreement_min: float = 0.75  # … and pixel agreement > agreement_min
    min_class_frac: float = 1e-3  # classes covering fewer pixels than this fraction are skipped


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

    def __post_init__(self) -> None:
        c = self.counts
        iqr, iou, agree = c.iqr(), c.iou(), c.agreement()  # [d, L, C]
        best = iqr.argmax(1, keepdim=True)                 # threshold maximising I/H, per unit and class
        self.level_uc = best.squeeze(1)
        self.iqr_uc = iqr.gather(1, best).squeeze(1)
        self.iou_uc = iou.gather(1, best).squeeze(1)
        self.agree_uc = agree.gather(1, best).squeeze(1)
        self.thr_uc = c.thresholds.double().gather(1, self.level_uc)
        skip = ~self.valid_classes
        for t in (self.iou_uc, self.iqr_uc, self.agree_uc):
            t[:, skip] = float("nan")

    @property
    def valid_classes(self) -> torch.Tensor:
        frac = self.counts.class_px.double() / max(self.counts.pixels, 1)
        return (frac >= self.criteria.min_class_frac) & (self.counts.class_px > 0)

    @property
    def num_units(self) -> int:
        return self.counts.num_units

    def best_label(self) -> tuple[torch.Tensor, torch.Tensor]:
        """(class index [d], IoU [d]) of each unit's best class (-1 when no class is valid)."""
        iou = torch.nan_to_num(self.iou_uc, nan=-1.0)
        val, idx = iou.max(1)
        return torch.where(val >= 0, idx, torch.full_like(idx, -1)), val.clamp_min(0)

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
                         "agreement": agree, "threshold": float(self.thr_uc[u, c]),
                         "quantile": float(1 - self.fractions[self.level_uc[u, c]]),
                         "interpretable": bool(iou[u] > self.criteria.iou_min and agree > self.criteria.agreement_min)})
        return rows

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
            if not bool(self.valid_classes[c]):
                continue
            u = self.class_ranking(c)[0]
            out[name] = {"unit": u, "iou": float(self.iou_uc[u, c]), "iqr": float(self.iqr_uc[u, c]),
                         "agreement": float(self.agree_uc[u, c]), "threshold": float(self.thr_uc[u, c])}
        return out
