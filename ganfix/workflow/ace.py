"""`ganfix.ace(gen, layer, class_name)`: a causal unit set for a class, its average causal effect, the ablation
curve, and optionally the insertion-context sweep and downstream tracing → AceReport."""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Optional, Sequence, Union

from .. import defaults
from ..errors import UsageError
from ..generator import Generator
from ..inputs import at_least
from ..ranking.registry import progress_factory

SELECTIONS = ("iou", "ace", "optimize")


@dataclass
class AceReport:
    """report: the JSON (generator, layer, class, settings, insert_values, units, ace, ablation_curve, sweep)."""
    report: dict
    chosen: list[int]
    ace: object = field(repr=False)               # ganfix.dissection.AceResult
    curves: Optional[dict] = field(default=None, repr=False)
    sweep: object = field(default=None, repr=False)  # ganfix.dissection.SweepResult or None
    _strip: tuple = field(default=(), repr=False)    # what draws the interventions strip

    def to_json(self) -> dict:
        return self.report

    def save(self, out: Union[str, Path]) -> Path:
        """report.json, index.html, plots and an image strip (original · ablated · inserted) into `out`."""
        from ..dissection.report import write_ace_report
        from ..dissection.tiles import intervention_strip

        out, strip = Path(out), "interventions.png"
        intervention_strip(*self._strip, list(range(6)), self.report["settings"]["seed"], out / strip)
        write_ace_report(out, self.report, self.curves, self.sweep,
                         tiles=[(strip, "rows: original · ablated where present · inserted where absent")])
        return out


def _check(select: str, n: int, stride: int, patch: int, context_samples: int, samples: int, batch_size: int) -> None:
    from ..stats.tally import check_sample_args

    check_sample_args(samples, batch_size)
    if select not in SELECTIONS:
        raise UsageError(f"unknown select={select}; choose one of: {', '.join(SELECTIONS)}")
    at_least("n", n, 1)
    for name, v in (("stride", stride), ("patch", patch), ("context_samples", context_samples)):
        at_least(name, v, 1)


def _choose(g, seg, layer, cls, value, dis, select, n, units, samples, seed, batch_size, candidates, ace_samples,
            steps, l2, progress):
    """(units, their scores, what the scores are) for the chosen selection."""
    from ..dissection import optimize_unit_mask, select_by_ace, select_by_iou, select_by_mask, single_unit_ace

    if units is not None:
        return list(units), [None] * len(units), "given"
    if select == "iou":
        return (*select_by_iou(dis, cls, n), "iou")
    if select == "ace":
        cands = dis.class_ranking(cls)[: candidates or g.layer(layer).units]
        with progress("single-unit ACE", len(cands)) as step:
            per_unit = single_unit_ace(g, seg, layer, cls, value, cands, min(ace_samples, samples), seed, batch_size,
                                       on_unit=step)
        return (*select_by_ace(per_unit, n), "single-unit ACE")
    with progress("optimise unit mask", steps) as step:
        alpha = optimize_unit_mask(g, seg, layer, cls, value, samples, seed, min(batch_size, 16), steps, l2=l2,
                                   on_step=step)
    return (*select_by_mask(alpha, n), "optimised α")


def _unit_rows(chosen, scores, dis, cls) -> list[dict]:
    rows = []
    for u, s in zip(chosen, scores):
        row = {"unit": u, "score": s}
        if dis is not None:
            lab = dis.units()[u]
            row.update(iou_label=lab["label"], iou=lab["iou"], iou_with_class=float(dis.iou_uc[u, cls]))
        rows.append(row)
    return rows


def ace(gen: Generator, layer: str, class_name: str, *, segmenter=None,
        units: Optional[Sequence[int]] = None, select: str = defaults.ACE_SELECT, n: int = defaults.ACE_UNITS,
        samples: int = defaults.ACE_SAMPLES, seed: int = defaults.SEED, batch_size: int = defaults.DISSECT_BATCH_SIZE,
        insert_value: str = defaults.INSERT_VALUE, candidates: int = defaults.ACE_CANDIDATES,
        ace_samples: int = defaults.ACE_UNIT_SAMPLES, steps: int = defaults.ACE_STEPS, l2: float = defaults.ACE_L2,
        curve: bool = True, context: bool = False, trace: bool = False,
        context_samples: int = defaults.CONTEXT_SAMPLES, stride: int = 1, patch: int = 1, use_cache: bool = True,
        progress=None) -> AceReport:
    """Average causal effect of a unit set on `class_name`: ablate it where the class is present, insert it where
    absent. The set is `units`, or the top `n` by `select` (iou: dissection rank; ace: single-unit ACE of the top
    `candidates` by IoU; optimize: a soft mask optimised through the segmenter). `curve`: class pixels removed vs
    units ablated (the paper's Fig. 6); `context`/`trace`: the insertion sweep (Fig. 8) and tracing (Fig. 9).
    `segmenter`: a name, path/to/file.py:factory or a Segmenter; None: a built-in generator's own (required for
    any other)."""
    from ..dissection import ablation_curve, average_causal_effect, dissect, insertion_sweep, insertion_values, require_spatial
    from ..segmenters import class_index, load_segmenter, require_segmenter

    _check(select, n, stride, patch, context_samples, samples, batch_size)
    require_spatial(gen, layer, "ACE")
    segmenter = require_segmenter(gen, segmenter)
    seg = load_segmenter(segmenter) if isinstance(segmenter, str) else segmenter
    cls = class_index(seg, class_name)
    units = gen.check_units(layer, units) if units is not None else None
    n = min(n, gen.layer(layer).units)
    progress = progress_factory(progress)
    with progress("insertion values", samples) as step:
        value = insertion_values(gen, seg, layer, cls, samples, seed, batch_size, insert_value, use_cache=use_cache)
        step(samples)
    dis = None
    if units is None or select == "iou":
        with progress(f"dissect {layer}", 2 * samples) as step:
            dis = dissect(gen, [layer], seg, samples, seed, batch_size, use_cache=use_cache, on_batch=step)[layer]
    chosen, scores, note = _choose(gen, seg, layer, cls, value, dis, select, n, units, samples, seed, batch_size,
                                   candidates, ace_samples, steps, l2, progress)
    with progress("ACE", samples) as step:
        res = average_causal_effect(gen, seg, layer, chosen, cls, samples, seed, batch_size, value=value, on_batch=step)
    curves = sweep = None
    if curve:
        from ..dissection.ace import _default_points

        with progress("ablation curve", samples * len(_default_points(len(chosen)))) as step:
            curves = {f"by {note}": ablation_curve(gen, seg, layer, chosen, cls, samples, seed, batch_size, on_batch=step)}
    if context or trace:
        with progress("insertion sweep", context_samples) as step:
            sweep = insertion_sweep(gen, seg, layer, chosen, value, cls, context_samples, seed, batch_size, stride, patch,
                                    trace=trace, on_sample=step)
    report = {"generator": gen.describe(), "layer": layer, "class": class_name,
              "settings": {"segmenter": segmenter if isinstance(segmenter, str) else getattr(seg, "spec", "given"),
                           "samples": samples, "seed": seed, "select": note, "n": len(chosen),
                           "insert_value": insert_value},
              "insert_values": [float(value[u]) for u in chosen], "units": _unit_rows(chosen, scores, dis, cls),
              "ace": res.to_json(), "ablation_curve": curves, "sweep": sweep.to_json() if sweep is not None else None}
    return AceReport(report, chosen, res, curves, sweep, (gen, seg, layer, chosen, value, cls))
