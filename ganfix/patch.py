"""Patches: a rule r' = r·(1 − α) + α·k applied to a unit set of one layer, bound to a model.

Ablation is k = 0 (the default). A patch is a plain description (JSON round trip); `applied(gen)`
is the context manager that hooks it into a generator.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Sequence

import numpy as np
import torch

from .errors import UsageError
from .hooks import Intervention

PATCH_SCHEMA = "ganfix.patch/1"


@dataclass
class Patch:
    layer: str
    units: list[int]
    value: float | list[float] = 0.0  # k: scalar, or one value per unit in `units`
    model_name: str = ""
    fingerprint: str = ""
    kind: str = "ablation"
    notes: dict = field(default_factory=dict)
    spatial: list | None = None  # optional [H, W] mask in [0, 1] at the layer's resolution (α = unit ⊗ spatial)

    def __post_init__(self) -> None:
        if isinstance(self.value, torch.Tensor) and self.value.numel() > 1:
            self.value = self.value.flatten().tolist()
        if isinstance(self.value, (list, tuple)) and len(self.value) == len(self.units):
            pairs = sorted(zip((int(u) for u in self.units), (float(v) for v in self.value)))  # keep k paired with its unit
            self.units, self.value = [u for u, _ in pairs], [v for _, v in pairs]
        self.units = sorted(int(u) for u in self.units)
        if not self.units:
            raise UsageError(f"empty unit set for {self.layer}: a patch needs at least one unit")
        if len(set(self.units)) != len(self.units):
            raise UsageError("duplicate units in patch")
        if isinstance(self.value, (list, tuple)) and len(self.value) != len(self.units):
            raise UsageError(f"patch has {len(self.units)} units but {len(self.value)} values")
        if isinstance(self.value, torch.Tensor):  # a one-element tensor: keep the description JSON-friendly
            self.value = float(self.value)
        if isinstance(self.value, tuple):
            self.value = list(self.value)
        if isinstance(self.spatial, torch.Tensor):
            self.spatial = self.spatial.tolist()
        if self.spatial is not None:
            sp = torch.as_tensor(self.spatial, dtype=torch.float32)
            if sp.dim() != 2 or bool(((sp < 0) | (sp > 1)).any()):
                raise UsageError("a patch's spatial mask must be an [H, W] array with values in [0, 1]")

    @property
    def is_ablation(self) -> bool:
        return not bool(torch.as_tensor(self.value, dtype=torch.float32).ne(0).any())

    def spatial_tensor(self) -> torch.Tensor | None:
        return None if self.spatial is None else torch.as_tensor(self.spatial, dtype=torch.float32)

    @classmethod
    def from_annotations(cls, annotations, gen=None, force: bool = False) -> "Patch":
        if gen is not None:
            annotations.check_model(gen, force=force)
            gen.check_units(annotations.layer, annotations.require_units())
        return cls(annotations.layer, annotations.require_units(), 0.0,
                   model_name=annotations.model_name, fingerprint=annotations.fingerprint)

    @classmethod
    def insertion(cls, gen, layer: str, units, quantile: float = 0.99, samples: int = 1000, seed: int = 0,
                  spatial=None) -> "Patch":
        """Insertion: k = each unit's `quantile` activation level (the paper's 'high quantile' rule),
        from a (cached) statistics pass over samples 0…samples−1."""
        from .stats.tally import tally_unit_stats

        if not 0.0 < quantile <= 1.0:
            raise UsageError(f"insertion quantile must be in (0, 1], got {quantile}")
        units = gen.check_units(layer, units)
        stats = tally_unit_stats(gen, layer, samples, seed=seed)
        level = stats.quantile(quantile)
        values = [float(level[u]) for u in sorted(units)]
        return cls(layer, units, values, gen.name, gen.fingerprint, kind="insertion",
                   notes={"quantile": quantile, "stats_samples": samples, "stats_seed": seed}, spatial=spatial)

    def check(self, gen, force: bool = False) -> None:
        if self.fingerprint and self.fingerprint != gen.fingerprint and not force:
            raise UsageError(f"patch is for fingerprint {self.fingerprint}, but {gen.name!r} has {gen.fingerprint}; use force=True")
        gen.check_units(self.layer, self.units)

    def dense(self, num_units: int) -> tuple[torch.Tensor, torch.Tensor]:
        """(α [d], k [d]) over all units of the layer."""
        alpha = torch.zeros(num_units)
        value = torch.zeros(num_units)
        idx = torch.tensor(self.units)
        alpha[idx] = 1.0
        value[idx] = torch.as_tensor(self.value, dtype=torch.float32)
        return alpha, value

    def applied(self, gen) -> Intervention:
        alpha, value = self.dense(gen.layer(self.layer).units)
        return Intervention(gen.module, self.layer, alpha, value, spatial=self.spatial_tensor())

    def random_like(self, num_units: int, draw: int, seed: int = 0, exclude: Sequence[int] | None = None) -> "Patch":
        """Same layer, same number of units, drawn uniformly from the units not in `exclude`."""
        pool = sorted(set(range(num_units)) - set(self.units if exclude is None else exclude))
        if len(pool) < len(self.units):
            raise UsageError(f"{self.layer} has only {len(pool)} units outside the patch; cannot draw {len(self.units)} random units")
        rng = np.random.default_rng([seed, draw, 0x6A7F])
        units = sorted(int(u) for u in rng.choice(pool, size=len(self.units), replace=False))
        return Patch(self.layer, units, self.value if not isinstance(self.value, list) else 0.0,
                     self.model_name, self.fingerprint, kind=f"random-{self.kind}", notes={"draw": draw, "seed": seed},
                     spatial=self.spatial)

    def to_json(self) -> dict:
        return {"schema": PATCH_SCHEMA, "kind": self.kind, "layer": self.layer, "units": self.units,
                "rule": "r' = r*(1-alpha) + alpha*k, alpha = 1 on units, "
                        + ("all positions" if self.spatial is None else "times the spatial mask"),
                "value": self.value, "spatial": self.spatial,
                "model": {"name": self.model_name, "fingerprint": self.fingerprint}, **({"notes": self.notes} if self.notes else {})}

    @classmethod
    def from_json(cls, data: dict) -> "Patch":
        if not isinstance(data, dict) or data.get("schema") != PATCH_SCHEMA:
            raise UsageError(f"not a ganfix patch (schema {PATCH_SCHEMA!r} expected)")
        model = data.get("model", {})
        if not isinstance(data.get("layer"), str) or not isinstance(data.get("units"), list):
            raise UsageError("malformed patch: needs a layer name and a units list")
        return cls(data["layer"], data["units"], data.get("value", 0.0), model.get("name", ""),
                   model.get("fingerprint", ""), data.get("kind", "ablation"), data.get("notes", {}),
                   data.get("spatial"))
