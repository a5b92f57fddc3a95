"""`ganfix dissect GEN --layer L …`: unit/class IoU dissection, layer and model comparison, report."""
from __future__ import annotations

from dataclasses import asdict, dataclass
from pathlib import Path
from typing import List, Optional

import typer
from rich.table import Table

from .. import defaults
from ..errors import UsageError
from .common import (GenArg, GenOptions, JsonOpt, SeedOpt, console_for, generator_options, handle_errors, option_group,
                     print_json)
from .common import cli_progress


@dataclass(frozen=True)
class CriteriaOptions:
    """When a unit counts as interpretable, and which IQR convention picks its threshold."""
    iou_min: float = defaults.IOU_MIN
    agreement_min: float = defaults.AGREEMENT_MIN
    min_class_frac: float = defaults.MIN_CLASS_FRAC
    iqr_convention: str = defaults.IQR_CONVENTION
    iqr_min: float = defaults.IQR_MIN


criteria_options = option_group("crit", CriteriaOptions, [
    ("iou_min", typer.Option(defaults.IOU_MIN, "--iou-min", help="Interpretable: IoU above this …"), float),
    ("agreement_min", typer.Option(defaults.AGREEMENT_MIN, "--agreement-min", help="… and pixel agreement above this."), float),
    ("min_class_frac", typer.Option(defaults.MIN_CLASS_FRAC, "--min-class-frac", help="Skip classes covering fewer pixels "
                                    "than this fraction."), float),
    ("iqr_convention", typer.Option(defaults.IQR_CONVENTION, "--iqr-convention", help="reference: thresholds from "
                                    "quantiles of the upsampled maps, positively correlated levels only (threshold > 0, "
                                    "agreement > 0.8), label by IQR, interpretable also needs IQR > --iqr-min; "
                                    "unconstrained: maximise IQR over all levels, label by IoU (docs/dissection.md)."), str),
    ("iqr_min", typer.Option(defaults.IQR_MIN, "--iqr-min", help="reference convention: interpretable needs IQR above "
                             "this."), float)])


def comparison_table(report: dict, settings: dict) -> Table:
    c = settings["criteria"]
    extra = f", IQR > {c['iqr_min']}" if c["convention"] == "reference" else ""
    table = Table(title=f"interpretable units (IoU > {c['iou_min']}, agreement > {c['agreement_min']}{extra}; "
                        f"{c['convention']} IQR convention) · {settings['samples']} samples, seed {settings['seed']}")
    for col in ("model", "layer", "units", "interpretable", "top classes"):
        table.add_column(col)
    for r in report["comparison"]:
        table.add_row(r["model"], r["layer"], str(r["units"]), str(r["interpretable"]),
                      ", ".join(f"{k} {v}" for k, v in list(r["by_class"].items())[:6]))
    return table


def layer_table(model: str, d, top: int) -> Table:
    t = Table(title=f"{model} · {d.layer} · top {top} units by IoU")
    for col in ("unit", "label", "IoU", "IQR", "agreement", "threshold", "interp."):
        t.add_column(col, justify="right")
    for u in d.to_json(top)["units"]:
        t.add_row(str(u["unit"]), str(u["label"]), f"{u['iou']:.3f}", f"{u['iqr']:.3f}",
                  "" if u["agreement"] is None else f"{u['agreement']:.3f}",
                  "" if u["threshold"] is None else f"{u['threshold']:.3f}", "yes" if u["interpretable"] else "")
    return t


@handle_errors
@generator_options
@criteria_options
def dissect_cmd(
    gen: str = GenArg,
    layer: Optional[List[str]] = typer.Option(None, "--layer", "-l", help="Layer(s) to dissect; repeat for several."),
    all_layers: bool = typer.Option(False, "--all-layers", help="Dissect every top-level spatial layer."),
    segmenter: Optional[str] = typer.Option(None, "--segmenter", help="Built-in segmenter name or path/to/file.py:factory; required except for built-in generators, which name their own (toyscenes for the toy generator)."),
    samples: int = typer.Option(defaults.DISSECT_SAMPLES, "--samples", "-n", help="Seeded samples in the pass."),
    seed: int = SeedOpt,
    batch_size: int = typer.Option(defaults.DISSECT_BATCH_SIZE, "--batch-size", "-b", help="Batch size (results do not depend on it)."),
    levels: int = typer.Option(defaults.LEVELS, "--levels", help="Threshold levels per unit (quantiles 1−f, f=logspace(-3,0))."),
    compare: Optional[str] = typer.Option(None, "--compare", help="A second generator spec, dissected side by side."),
    crit: CriteriaOptions = None,
    top: int = typer.Option(10, "--top", help="Units per layer shown in the table."),
    tiles: int = typer.Option(8, "--tiles", help="Units per layer drawn as mask images in the HTML report."),
    out: Optional[Path] = typer.Option(None, "--out", help="Write report.json, index.html and plots here."),
    no_cache: bool = typer.Option(False, "--no-cache", help="Recompute even if cached passes exist."),
    gen_opts: GenOptions = None,
    json_output: bool = JsonOpt,
) -> None:
    """Which units match which segmentation classes (IoU at IQR-optimal thresholds), per layer."""
    from ..workflow.dissect import dissect

    if not layer and not all_layers:
        raise UsageError("give --layer L (repeatable) or --all-layers")
    result = dissect(gen_opts.load(gen), segmenter, None if all_layers else layer, samples=samples, seed=seed,
                     batch_size=batch_size, levels=levels, compare=gen_opts.load(compare) if compare else None,
                     use_cache=not no_cache, progress=cli_progress, **asdict(crit))
    report = result.save(out, tiles=tiles) if out is not None else result.to_json()
    if json_output:
        return print_json(report)
    console = console_for(False)
    console.print(comparison_table(report, result.settings))
    for m, ls in result.results.items():
        for d in ls.values():
            console.print(layer_table(m, d, top))
    if out is not None:
        console.print(f"wrote {out / 'report.json'} and {out / 'index.html'}")


def register(app: typer.Typer) -> None:
    app.command("dissect")(dissect_cmd)
