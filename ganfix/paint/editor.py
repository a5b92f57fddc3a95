"""A painting: one latent, a list of edits at one layer, undo/redo, save and replay.

Each edit is r' = r·(1 − α) + α·k on its class's units, with α = 1 on the painted cells of the
layer's grid: k = the units' insertion values for "add", k = 0 for "remove". Edits apply in order
(one Intervention each, composed on the same layer). Rendering is a pure function of
(model, seed, sample, edits), so undo re-renders the earlier state bit for bit and a saved edit
list replays exactly.
"""
from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path

import torch

from ..atomic import atomic_write_bytes, atomic_write_json
from ..errors import UsageError
from ..hooks import Intervention, Interventions
from ..json_files import read_json
from ..segmenters import Segmenter, checked_segment
from .palette import Palette

SCHEMA = "ganfix.paint/1"
OPS = ("add", "remove")
MAX_EDITS = 500


@dataclass
class Edit:
    op: str
    cls: str
    units: list[int]
    values: list[float]
    cells: list[list[int]]  # [[row, col], …] on the layer's grid

    def to_json(self) -> dict:
        return {"op": self.op, "class": self.cls, "units": self.units, "values": self.values, "cells": self.cells}


def _check_cells(cells, grid: tuple[int, int]) -> list[list[int]]:
    h, w = grid
    if not isinstance(cells, list) or not cells:
        raise UsageError("a stroke needs at least one cell [row, col]")
    out = set()
    for c in cells:
        if (not isinstance(c, (list, tuple)) or len(c) != 2
                or not all(isinstance(v, int) and not isinstance(v, bool) for v in c)
                or not (0 <= c[0] < h and 0 <= c[1] < w)):
            raise UsageError(f"cells must be [row, col] pairs on the {h}×{w} grid, got {c!r}")
        out.add((c[0], c[1]))
    return [list(c) for c in sorted(out)]


@dataclass
class Painting:
    gen: object
    layer: str
    palette: Palette | None = None
    segmenter: Segmenter | None = None
    seed: int = 0
    sample: int = 0
    edits: list[Edit] = field(default_factory=list)
    redo_stack: list[Edit] = field(default_factory=list)

    def __post_init__(self) -> None:
        info = self.gen.layer(self.layer)
        if len(info.shape) != 3:
            raise UsageError(f"layer {self.layer} has no spatial grid (shape {info.shape}); paint needs a [C, H, W] layer")
        self.units_total = info.units
        self.grid = (int(info.shape[1]), int(info.shape[2]))

    # -- edits ------------------------------------------------------------------------------------
    def stroke(self, op: str, cls: str, cells) -> Edit:
        """Add (insert the class's units) or remove (ablate them) at `cells`."""
        if op not in OPS:
            raise UsageError(f"op must be one of {', '.join(OPS)}, got {op!r}")
        if self.palette is None:
            raise UsageError("no palette: painting needs the classes' causal units")
        if len(self.edits) >= MAX_EDITS:
            raise UsageError(f"at most {MAX_EDITS} edits per image; save and start a new one")
        entry = self.palette.get(cls)
        edit = Edit(op, entry.name, list(entry.units), list(entry.values) if op == "add" else [0.0] * len(entry.units),
                    _check_cells(cells, self.grid))
        self.edits.append(edit)
        self.redo_stack.clear()
        return edit

    def undo(self) -> bool:
        if not self.edits:
            return False
        self.redo_stack.append(self.edits.pop())
        return True

    def redo(self) -> bool:
        if not self.redo_stack:
            return False
        self.edits.append(self.redo_stack.pop())
        return True

    def new_sample(self, sample: int, seed: int | None = None) -> None:
        if not isinstance(sample, int) or isinstance(sample, bool) or not 0 <= sample < 2**31:
            raise UsageError(f"sample id must be an integer in 0…{2**31 - 1}, got {sample!r}")
        self.sample = sample
        if seed is not None:
            self.seed = int(seed)
        self.edits.clear()
        self.redo_stack.clear()

    # -- rendering --------------------------------------------------------------------------------
    def _intervention(self, edit: Edit) -> Intervention:
        alpha = torch.zeros(self.units_total)
        value = torch.zeros(self.units_total)
        idx = torch.tensor(edit.units, dtype=torch.long)
        alpha[idx] = 1.0
        value[idx] = torch.tensor(edit.values, dtype=torch.float32)
        spatial = torch.zeros(self.grid)
        rows, cols = zip(*edit.cells)
        spatial[list(rows), list(cols)] = 1.0
        return Intervention(self.gen.module, self.layer, alpha, value, spatial=spatial)

    @torch.no_grad()
    def render(self, edits: list[Edit] | None = None) -> torch.Tensor:
        """uint8 [C, H, W] of the sample with `edits` (default: the current ones) applied in order."""
        edits = self.edits if edits is None else edits
        z = self.gen.latents([self.sample], self.seed)
        with Interventions([self._intervention(e) for e in edits]):
            out = self.gen(z)
        return self.gen.to_uint8(out)[0].cpu()

    @torch.no_grad()
    def class_pixels(self, image: torch.Tensor) -> dict[str, int]:
        """Segmenter pixel count per class of a uint8 [C, H, W] image."""
        if self.segmenter is None:
            return {}
        x = image.float()[None] / 255 * 2 - 1  # uint8 → [-1, 1], what segmenters take
        labels = checked_segment(self.segmenter, x)
        counts = torch.bincount(labels.flatten(), minlength=len(self.segmenter.class_names))
        return {name: int(counts[i]) for i, name in enumerate(self.segmenter.class_names)}

    # -- persistence ------------------------------------------------------------------------------
    def to_json(self) -> dict:
        return {"schema": SCHEMA, "model": {"name": self.gen.name, "fingerprint": self.gen.fingerprint},
                "layer": self.layer, "grid": list(self.grid), "seed": self.seed, "sample": self.sample,
                "rule": "r' = r*(1-alpha) + alpha*k on the edit's units at its cells; k = insertion value (add) or 0 (remove); edits in order",
                "edits": [e.to_json() for e in self.edits]}

    def save(self, out_dir: str | Path) -> dict:
        """Write image.png (edited), before.png (no edits), edits.json and counts.json into out_dir."""
        from ..pages.images import png_bytes

        out_dir = Path(out_dir)
        if out_dir.exists() and not out_dir.is_dir():
            raise UsageError(f"{out_dir} is a file, not a folder")
        before, after = self.render([]), self.render()
        counts = {"before": self.class_pixels(before), "after": self.class_pixels(after)}
        if counts["before"]:
            counts["change"] = {k: counts["after"][k] - counts["before"][k] for k in counts["before"]}
        atomic_write_bytes(out_dir / "before.png", png_bytes(before))
        atomic_write_bytes(out_dir / "image.png", png_bytes(after))
        atomic_write_json(out_dir / "counts.json", {"segmenter": getattr(self.segmenter, "spec", None), "pixels": counts})
        atomic_write_json(out_dir / "edits.json", self.to_json())  # last: a complete folder has its edit list
        return {"folder": str(out_dir), "image": str(out_dir / "image.png"), "edits": str(out_dir / "edits.json"),
                "counts": counts}

    @classmethod
    def from_json(cls, data, gen, segmenter: Segmenter | None = None, force: bool = False) -> "Painting":
        if not isinstance(data, dict) or data.get("schema") != SCHEMA:
            raise UsageError(f"not a ganfix edit list (schema {SCHEMA!r} expected)")
        fp = (data.get("model") or {}).get("fingerprint")
        if fp != gen.fingerprint and not force:
            raise UsageError(f"edit list is for fingerprint {fp}, but {gen.name!r} has {gen.fingerprint}; use force=True")
        layer, seed, sample, edits = data.get("layer"), data.get("seed"), data.get("sample"), data.get("edits")
        if not isinstance(layer, str) or not isinstance(seed, int) or not isinstance(sample, int) or not isinstance(edits, list):
            raise UsageError("malformed edit list: needs layer (str), seed and sample (int), edits (list)")
        if len(edits) > MAX_EDITS:
            raise UsageError(f"edit list has {len(edits)} edits; at most {MAX_EDITS}")
        p = cls(gen, layer, None, segmenter, seed, sample)
        for i, e in enumerate(edits):
            try:
                op, name, units, values = e["op"], e["class"], e["units"], e["values"]
                ok = (op in OPS and isinstance(name, str) and isinstance(units, list) and isinstance(values, list)
                      and len(units) == len(values) and units
                      and all(isinstance(u, int) and not isinstance(u, bool) for u in units)
                      and all(isinstance(v, (int, float)) and not isinstance(v, bool) and v == v and abs(v) < 1e30 for v in values))
            except (KeyError, TypeError):
                ok = False
            if not ok:
                raise UsageError(f"malformed edit {i}: needs op (add/remove), class, units and values of equal length, cells")
            gen.check_units(layer, units)
            p.edits.append(Edit(op, name, [int(u) for u in units], [float(v) for v in values], _check_cells(e.get("cells"), p.grid)))
        return p


def replay(edits_file: str | Path, out_dir: str | Path, gen=None, segmenter: Segmenter | str | None = None,
           force: bool = False, load=None) -> dict:
    """Re-render a saved edit list into out_dir (image.png, before.png, edits.json, counts.json).

    gen: the generator (default: load the edit list's model by name with `load(name)`); segmenter: a Segmenter,
    a name or file.py:factory (for the class pixel counts; None: a built-in generator's own, no counts for another)."""
    if isinstance(segmenter, str):
        from ..segmenters import load_segmenter

        segmenter = load_segmenter(segmenter)
    data = read_json(edits_file, f"edit list not found: {edits_file}", "edit list")
    if gen is None:
        name = (data.get("model") or {}).get("name") if isinstance(data, dict) else None
        if not isinstance(name, str) or load is None:
            raise UsageError("give the generator (GEN): the edit list names none")
        gen = load(name)
    if segmenter is None:  # a built-in generator's own segmenter counts the class pixels; for another, none
        from ..defaults import segmenter_for
        from ..segmenters import load_segmenter

        own = segmenter_for(gen)
        segmenter = load_segmenter(own) if own else None
    t0 = time.perf_counter()
    painting = Painting.from_json(data, gen, segmenter, force)
    result = painting.save(out_dir)
    result["seconds"] = time.perf_counter() - t0
    return result
