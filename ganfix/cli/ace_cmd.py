"""`ganfix ace GEN --layer L --class C`: causal unit sets, ACE, ablation curve, insertion context, tracing."""
from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer
from rich.table import Table

from .. import defaults
from .common import (GenArg, GenOptions, JsonOpt, NoCacheOpt, SeedOpt, console_for, generator_options, handle_errors,
                     parse_ints, print_json)
from .common import cli_progress


def render(result, out: Optional[Path], json_output: bool) -> None:
    if out is not None:
        result.save(out)
    if json_output:
        return print_json(result.to_json())
    console, r = console_for(False), result.report
    console.print(f"[bold]{r['generator']['name']} · {r['layer']} · {r['class']}[/]: units "
                  f"{', '.join(map(str, result.chosen))} ({r['settings']['select']})")
    for item in [ace_table(r), *sweep_lines(result)]:
        console.print(item)
    if out is not None:
        console.print(f"wrote {out / 'report.json'} and {out / 'index.html'}")


def ace_table(report: dict) -> Table:
    tab = Table(title=f"ACE over {report['settings']['samples']} samples (fractions of pixels; 95% bootstrap intervals "
                      "over samples)")
    for col in ("ACE", "original", "ablated", "inserted", "removed (of class)"):
        tab.add_column(col, justify="right")
    a = report["ace"]
    ci = a.get("ci95") or {}
    ace_txt = f"{a['ace']:.4f}" + (f" ({ci['ace'][0]:.4f} … {ci['ace'][1]:.4f})" if "ace" in ci else "")
    rem_txt = f"{a['removed_fraction_of_class']:.1%}" + (
        f" ({ci['removed_fraction_of_class'][0]:.0%} … {ci['removed_fraction_of_class'][1]:.0%})" if ci else "")
    tab.add_row(ace_txt, f"{a['original']:.4f}", f"{a['ablated']:.4f}", f"{a['inserted']:.4f}", rem_txt)
    return tab


def context_lines(result) -> list:
    """The insertion-context table with 95% intervals, and the orderings the intervals support."""
    ct = Table(title=f"insertion context: {result.report['class']} gain by location class")
    for col in ("location", "insertions", "mean gain", "95% CI"):
        ct.add_column(col, justify="right")
    civ = result.sweep.context_intervals()
    for r in civ.get("rows", []):
        ci = r.get("ci95")
        ct.add_row(r["location_class"], str(r["insertions"]), f"{r['mean_gain']:+.5f}", f"{ci[0]:+.5f} … {ci[1]:+.5f}" if ci else "")
    sup = civ.get("supported", [])
    return [ct, f"orderings the intervals support ({result.sweep.samples} samples): " + (", ".join(sup) or "none")]


def sweep_lines(result) -> list:
    lines = [f"ablation curve ({name}): " + ", ".join(f"{r['n']}→{r['removed_fraction_of_class']:.0%}" for r in rows)
             for name, rows in (result.curves or {}).items()]
    sweep = result.sweep
    if sweep is not None:
        lines += context_lines(result)
        if sweep.trace is not None:
            lines += [f"tracing ({grp}): " + ", ".join(f"{l} {v:.4f}" for l, v in vals.items() if v is not None)
                      for grp, vals in sweep.trace_curves().items()]
    return lines


@handle_errors
@generator_options
def ace_cmd(
    gen: str = GenArg,
    layer: str = typer.Option(..., "--layer", "-l", help="Layer to intervene on."),
    class_name: str = typer.Option(..., "--class", "-c", help="Segmentation class, e.g. door."),
    units: Optional[str] = typer.Option(None, "--units", help="Explicit unit set, e.g. 3,17,40 (skips selection)."),
    select: str = typer.Option(defaults.ACE_SELECT, "--select", help="Unit selection: iou (dissection rank), ace (single-unit ACE), optimize (soft mask)."),
    n: int = typer.Option(defaults.ACE_UNITS, "--n", help="Units in the causal set."),
    segmenter: Optional[str] = typer.Option(None, "--segmenter", help="Built-in segmenter name or path/to/file.py:factory; required except for built-in generators, which name their own (toyscenes for the toy generator)."),
    samples: int = typer.Option(defaults.ACE_SAMPLES, "--samples", "-n", help="Seeded samples for ACE and selection."),
    seed: int = SeedOpt,
    batch_size: int = typer.Option(defaults.DISSECT_BATCH_SIZE, "--batch-size", "-b"),
    insert_value: str = typer.Option(defaults.INSERT_VALUE, "--insert-value", help="mean (unit's mean where the class is present) or q<quantile>, e.g. q0.99."),
    candidates: int = typer.Option(defaults.ACE_CANDIDATES, "--candidates", help="--select ace: score the top units by IoU (0 = all units)."),
    ace_samples: int = typer.Option(defaults.ACE_UNIT_SAMPLES, "--ace-samples", help="--select ace: samples per single-unit ACE."),
    steps: int = typer.Option(defaults.ACE_STEPS, "--steps", help="--select optimize: optimiser steps."),
    l2: float = typer.Option(defaults.ACE_L2, "--l2", help="--select optimize: L2 penalty on the soft mask."),
    curve: bool = typer.Option(True, "--curve/--no-curve", help="Class pixels removed vs units ablated (Fig. 6)."),
    context: bool = typer.Option(False, "--context", help="Insertion context sweep (Fig. 8)."),
    trace: bool = typer.Option(False, "--trace", help="Downstream tracing of the sweep's insertions (Fig. 9)."),
    context_samples: int = typer.Option(defaults.CONTEXT_SAMPLES, "--context-samples", help="Samples in the context/tracing sweep (intervals are over samples)."),
    stride: int = typer.Option(1, "--stride", help="Sweep: grid stride in layer cells."),
    patch: int = typer.Option(1, "--patch", help="Sweep: inserted square size in layer cells."),
    out: Optional[Path] = typer.Option(None, "--out", help="Write report.json, index.html and plots here."),
    no_cache: bool = NoCacheOpt,
    gen_opts: GenOptions = None,
    json_output: bool = JsonOpt,
) -> None:
    """Average causal effect of a unit set on a class: ablate where present, insert where absent."""
    from ..workflow.ace import ace

    result = ace(gen_opts.load(gen), layer, class_name, segmenter=segmenter, units=parse_ints(units, "--units"),
                 select=select, n=n, samples=samples, seed=seed, batch_size=batch_size, insert_value=insert_value,
                 candidates=candidates, ace_samples=ace_samples, steps=steps, l2=l2, curve=curve, context=context,
                 trace=trace, context_samples=context_samples, stride=stride, patch=patch, use_cache=not no_cache,
                 progress=cli_progress)
    render(result, out, json_output)

def register(app: typer.Typer) -> None:
    app.command("ace")(ace_cmd)
