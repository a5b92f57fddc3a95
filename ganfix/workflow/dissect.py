"""`ganfix.dissect(gen, segmenter, layers)`: unit/class IoU at IQR-optimal thresholds, per layer → Dissection."""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Optional, Sequence, Union

from .. import defaults
from ..generator import Generator
from ..inputs import at_least
from ..ranking.registry import progress_factory


def spatial_layers(gen: Generator) -> list[str]:
    """Top-level layers with spatial maps, without the final one (the image itself)."""
    top = gen.top_layers() or gen.layers
    names = [n for n, info in top.items() if info.spatial]
    if names and names[-1] == list(top)[-1]:
        names = names[:-1]
    return names


@dataclass
class Dissection:
    """{model name: {layer: LayerDissection}} for one generator (and the one it was compared with)."""
    results: dict
    gens: dict = field(repr=False)
    settings: dict

    def layer(self, name: str, model: Optional[str] = None):
        """The LayerDissection of `name` (of the first model unless `model` is given)."""
        return self.results[model or next(iter(self.results))][name]

    def comparison(self) -> list[dict]:
        """One row per model and layer: units, interpretable units, interpretable units by class."""
        from ..dissection.report import comparison_rows

        return comparison_rows(self.results)

    def to_json(self) -> dict:
        return {"settings": self.settings, "models": {m: g.describe() for m, g in self.gens.items()},
                "comparison": self.comparison(),
                "layers": {m: {l: d.to_json() for l, d in ls.items()} for m, ls in self.results.items()}}

    def save(self, out: Union[str, Path], tiles: int = 8) -> dict:
        """report.json, index.html, plots and `tiles` units per layer drawn as mask images; returns the report."""
        from ..dissection.report import write_dissect_report

        return write_dissect_report(Path(out), self.gens, self.results, self.settings, tiles=tiles)


def _with_names(gen: Generator, compare: Optional[Generator]) -> dict:
    gens = {gen.name: gen}
    if compare is not None:
        if compare.name == gen.name:
            compare.name = gen.name + " (2)"
        gens[compare.name] = compare
    return gens


def dissect(gen: Generator, segmenter=None, layers: Optional[Sequence[str]] = None, *,
            samples: int = defaults.DISSECT_SAMPLES, seed: int = defaults.SEED,
            batch_size: int = defaults.DISSECT_BATCH_SIZE, levels: int = defaults.LEVELS,
            iou_min: float = defaults.IOU_MIN, agreement_min: float = defaults.AGREEMENT_MIN,
            min_class_frac: float = defaults.MIN_CLASS_FRAC, iqr_convention: str = defaults.IQR_CONVENTION,
            iqr_min: float = defaults.IQR_MIN, compare: Optional[Generator] = None,
            use_cache: bool = True, progress=None) -> Dissection:
    """Which units match which classes of `segmenter` (a name, path/to/file.py:factory, or a Segmenter; None: a
    built-in generator's own, required for any other) in each of
    `layers` (None: every top-level spatial layer); `compare`: a second generator dissected the same way.
    `iqr_convention`: "reference" (thresholds from positively correlated levels, label by IQR, interpretable also
    needs IQR > iqr_min) or "unconstrained" (docs/dissection.md)."""
    from ..dissection import Criteria, dissect as dissect_layers
    from ..segmenters import load_segmenter, require_segmenter
    from ..stats.tally import check_sample_args

    check_sample_args(samples, batch_size)
    at_least("levels", levels, 2)
    segmenter = require_segmenter(gen, segmenter)
    gens = _with_names(gen, compare)
    layers_of = {name: list(layers) if layers else spatial_layers(g) for name, g in gens.items()}
    for name, g in gens.items():
        for l in layers_of[name]:
            g.layer(l)
    seg = load_segmenter(segmenter) if isinstance(segmenter, str) else segmenter
    crit = Criteria(iou_min, agreement_min, min_class_frac, convention=iqr_convention, iqr_min=iqr_min)
    crit.check()
    results = {}
    for name, g in gens.items():
        with progress_factory(progress)(f"dissect {name}", samples * (len(layers_of[name]) + 1)) as step:
            results[name] = dissect_layers(g, layers_of[name], seg, samples, seed, batch_size, levels, crit,
                                           use_cache=use_cache, on_batch=step)
    settings = {"segmenter": segmenter if isinstance(segmenter, str) else getattr(seg, "spec", type(seg).__name__),
                "samples": samples, "seed": seed, "batch_size": batch_size, "levels": levels, "criteria": vars(crit)}
    return Dissection(results, gens, settings)
