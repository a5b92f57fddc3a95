"""The paint palette: per class, its causal units at one layer and each unit's insertion value.

Units come from the IoU dissection (`select="iou"`: the units whose thresholded maps best match
the class), from single-unit ACE among the top IoU candidates (`select="ace"`, slower), or are
given explicitly. The insertion value k of each unit comes from the ACE machinery
(`insertion_values`): a high quantile of its activations (`"q0.99"`, the default, as GANPaint
inserts strongly) or its mean activation where the class is present (`"mean"`). Cached by model
fingerprint, layer, segmenter and every setting.
"""
from __future__ import annotations

from dataclasses import dataclass

import torch

from ..cache import cache_key, load_cached, save_cached
from ..errors import UsageError
from ..segmenters import Segmenter, class_index, segmenter_identity

PALETTE_VERSION = 1
COLORS = {"sky": "#6fb4ff", "ground": "#8bc34a", "road": "#9e9e9e", "building": "#d9825b", "window": "#4dd0e1",
          "door": "#ffb300", "tree": "#2e9d4f", "grass": "#8bc34a", "cloud": "#eceff1"}
FALLBACK = ["#ff7043", "#ab47bc", "#26a69a", "#ffca28", "#5c6bc0", "#ec407a", "#9ccc65", "#8d6e63"]


@dataclass
class PaletteEntry:
    name: str
    index: int          # class index in the segmenter
    units: list[int]
    values: list[float]  # insertion value per unit (same order)
    color: str

    def to_json(self) -> dict:
        return {"class": self.name, "index": self.index, "units": self.units, "values": self.values, "color": self.color}


@dataclass
class Palette:
    layer: str
    entries: list[PaletteEntry]
    settings: dict

    def get(self, name: str) -> PaletteEntry:
        for e in self.entries:
            if e.name == name:
                return e
        raise UsageError(f"class {name!r} is not in the palette; choose one of: {', '.join(e.name for e in self.entries)}")

    def to_json(self) -> dict:
        return {"layer": self.layer, "classes": [e.to_json() for e in self.entries], "settings": self.settings}


def parse_unit_spec(text: str) -> tuple[str, list[int]]:
    """'tree:48,9,38' → ('tree', [48, 9, 38])."""
    name, sep, units = text.partition(":")
    try:
        parsed = [int(u) for u in units.split(",") if u.strip()]
    except ValueError:
        parsed = []
    if not sep or not name.strip() or not parsed:
        raise UsageError(f"units must look like CLASS:U1,U2,… (e.g. tree:48,9,38), got {text!r}")
    return name.strip(), parsed


def _color(name: str, i: int) -> str:
    return COLORS.get(name, FALLBACK[i % len(FALLBACK)])


def _probe(gen, segmenter: Segmenter) -> None:
    """One line instead of a traceback when the segmenter cannot read this generator's images."""
    from ..segmenters import checked_segment

    with torch.no_grad():
        img = gen.to_signed(gen(gen.latents([0], 0)))
    try:
        checked_segment(segmenter, img)
    except UsageError:
        raise
    except Exception as exc:  # noqa: BLE001 - any failure here is a mismatch between the two
        raise UsageError(f"segmenter {getattr(segmenter, 'spec', '')!r} cannot segment this generator's images "
                         f"(shape {tuple(img.shape[1:])}): {exc}; give a matching segmenter=file.py:factory") from None


def find_palette(gen, segmenter: Segmenter, layer: str, classes: list[str] | None = None, n: int = 8,
                 samples: int = 200, seed: int = 0, batch_size: int = 32, fixed: dict[str, list[int]] | None = None,
                 select: str = "iou", insert_value: str = "q0.99", candidates: int = 16, ace_samples: int = 32,
                 use_cache: bool = True, on_step=None) -> Palette:
    """Palette for `classes` (default: every segmenter class that has a unit with IoU > 0 at `layer`)."""
    from ..dissection import dissect, insertion_values, require_spatial, select_by_ace, select_by_iou, single_unit_ace

    require_spatial(gen, layer, "painting")
    if n < 1:
        raise UsageError(f"n must be at least 1, got {n}")
    if select not in ("iou", "ace"):
        raise UsageError(f"select must be iou or ace, got {select!r}")
    _probe(gen, segmenter)
    fixed = dict(fixed or {})
    for name, units in fixed.items():
        class_index(segmenter, name)
        gen.check_units(layer, units)
    names = list(segmenter.class_names)
    wanted = list(classes) if classes else None
    for name in wanted or []:
        class_index(segmenter, name)
    key = cache_key("paint_palette", fingerprint=gen.fingerprint, layer=layer, segmenter=segmenter_identity(segmenter),
                    classes=wanted, n=n, samples=samples, seed=seed, fixed=sorted(fixed.items()), select=select,
                    insert_value=insert_value, candidates=candidates if select == "ace" else None,
                    ace_samples=ace_samples if select == "ace" else None, version=PALETTE_VERSION)
    cached = load_cached("paint_palette", key) if use_cache else None
    if cached is not None and segmenter_identity(segmenter) is not None:
        return Palette(layer, [PaletteEntry(**e) for e in cached["entries"]], cached["settings"])
    dis = None
    if wanted is None or any(c not in fixed for c in wanted):
        dis = dissect(gen, [layer], segmenter, samples, seed, batch_size, use_cache=use_cache)[layer]
    if wanted is None:
        iou = torch.nan_to_num(dis.iou_uc, nan=0.0)
        wanted = [c for i, c in enumerate(names) if c in fixed or float(iou[:, i].max()) > 0]
    entries = []
    d = gen.layer(layer).units
    for i, name in enumerate(wanted):
        cls = class_index(segmenter, name)
        try:
            value = insertion_values(gen, segmenter, layer, cls, samples, seed, batch_size, insert_value)
        except UsageError as exc:
            if "never appears" in str(exc):
                continue  # nothing to insert for this class
            raise
        if name in fixed:
            units = list(fixed[name])
        elif select == "iou":
            units = select_by_iou(dis, cls, min(n, d))[0]
        else:
            cands = dis.class_ranking(cls)[:max(candidates, n)]
            scores = single_unit_ace(gen, segmenter, layer, cls, value, cands,
                                     min(ace_samples, samples), seed, batch_size)
            units = select_by_ace(scores, min(n, d))[0]
        entries.append(PaletteEntry(name, cls, [int(u) for u in units], [float(value[u]) for u in units], _color(name, i)))
        if on_step:
            on_step(1)
    if not entries:
        raise UsageError(f"no class of the segmenter appears in {samples} samples at {layer}; nothing to paint")
    settings = {"select": select if dis is not None else "given", "n": n, "samples": samples, "seed": seed,
                "insert_value": insert_value}
    if use_cache and segmenter_identity(segmenter) is not None:
        save_cached("paint_palette", key, {"entries": [vars(e) for e in entries], "settings": settings})
    return Palette(layer, entries, settings)
