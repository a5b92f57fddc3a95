"""`ganfix ace GEN --layer L --class C`: causal unit sets, ACE, ablation curve, insertion context, tracing."""
from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer
from rich.table import Table

from ..errors import UsageError
from ..stats.tally import check_sample_args
from .common import (GenArg, GenOptions, JsonOpt, SeedOpt, console_for, err_console, generator_options, handle_errors,
                     parse_ints, print_json)
from ..progress import progress_bar

SELECTIONS = ("iou", "ace", "optimize")
# Default sweep size (was 20). The report's bootstrap intervals say which location orderings this N
# supports; docs/reproduce.py measures how the ordering holds up across 3 seeds at 8…48 samples.
CONTEXT_SAMPLES = 64


def register(app: typer.Typer) -> None:
    @app.command("ace")
    @handle_errors
    @generator_options
    def ace_cmd(
        gen: str = GenArg,
        layer: str = typer.Option(..., "--layer", "-l", help="Layer to intervene on."),
        class_name: str = typer.Option(..., "--class", "-c", help="Segmentation class, e.g. door."),
        units: Optional[str] = typer.Option(None, "--units", help="Explicit unit set, e.g. 3,17,40 (skips selection)."),
        select: str = typer.Option("iou", "--select", help="Unit selection: iou (dissection rank), ace (single-unit ACE), optimize (soft mask)."),
        n: int = typer.Option(20, "--n", help="Units in the causal set."),
        segmenter: str = typer.Option("toyscenes", "--segmenter", help="Built-in segmenter name or path/to/file.py:factory."),
        samples: int = typer.Option(200, "--samples", "-n", help="Seeded samples for ACE and selection."),
        seed: int = SeedOpt,
        batch_size: int = typer.Option(32, "--batch-size", "-b"),
        insert_value: str = typer.Option("mean", "--insert-value", help="mean (unit's mean where the class is present) or q<quantile>, e.g. q0.99."),
        candidates: int = typer.Option(64, "--candidates", help="--select ace: score the top units by IoU (0 = all units)."),
        ace_samples: int = typer.Option(50, "--ace-samples", help="--select ace: samples per single-unit ACE."),
        steps: int = typer.Option(60, "--steps", help="--select optimize: optimiser steps."),
        l2: float = typer.Option(1e-3, "--l2", help="--select optimize: L2 penalty on the soft mask."),
        curve: bool = typer.Option(True, "--curve/--no-curve", help="Class pixels removed vs units ablated (Fig. 6)."),
        context: bool = typer.Option(False, "--context", help="Insertion context sweep (Fig. 8)."),
        trace: bool = typer.Option(False, "--trace", help="Downstream tracing of the sweep's insertions (Fig. 9)."),
        context_samples: int = typer.Option(CONTEXT_SAMPLES, "--context-samples",
                                            help="Samples in the context/tracing sweep (intervals are over samples)."),
        stride: int = typer.Option(1, "--stride", help="Sweep: grid stride in layer cells."),
        patch: int = typer.Option(1, "--patch", help="Sweep: inserted square size in layer cells."),
        out: Optional[Path] = typer.Option(None, "--out", help="Write report.json, index.html and plots here."),
        no_cache: bool = typer.Option(False, "--no-cache", help="Recompute everything instead of reading cached features/statistics (results are the same; caches are checksummed)."),
        gen_opts: GenOptions = None,
        json_output: bool = JsonOpt,
    ) -> None:
        """Average causal effect of a unit set on a class: ablate where present, insert where absent."""
        from ..preflight import check_at_least, check_cache_writable, check_output_dir, check_output_file  # noqa: F401
        check_output_dir(out)
        check_cache_writable(not no_cache)
        from ..dissect import (ablation_curve, average_causal_effect, dissect, insertion_sweep, insertion_values,
                               optimize_unit_mask, require_spatial, select_by_ace, select_by_iou, select_by_mask,
                               single_unit_ace)
        from ..dissect.report import write_ace_report
        from ..dissect.tiles import intervention_strip
        from ..segmenters import class_index, load_segmenter

        check_sample_args(samples, batch_size)
        if select not in SELECTIONS:
            raise UsageError(f"unknown --select {select!r}; choose one of: {', '.join(SELECTIONS)}")
        if n < 1:
            raise UsageError(f"--n must be at least 1, got {n}")
        if stride < 1 or patch < 1 or context_samples < 1:
            raise UsageError("--stride, --patch and --context-samples must be at least 1")
        g = gen_opts.load(gen)
        require_spatial(g, layer, "ACE")
        seg = load_segmenter(segmenter)
        cls = class_index(seg, class_name)
        d = g.layer(layer).units
        fixed = g.check_units(layer, parse_ints(units, "--units")) if units is not None else None
        n = min(n, d)
        with progress_bar("insertion values", samples, err_console) as bar:
            t = bar.add_task("v", total=samples)
            value = insertion_values(g, seg, layer, cls, samples, seed, batch_size, insert_value, use_cache=not no_cache)
            bar.advance(t, samples)
        dis = None
        if fixed is None or select == "iou":
            with progress_bar(f"dissect {layer}", 2 * samples, err_console) as bar:
                t = bar.add_task("d", total=2 * samples)
                dis = dissect(g, [layer], seg, samples, seed, batch_size, use_cache=not no_cache, on_batch=lambda k: bar.advance(t, k))[layer]
        scores_note = "iou"
        if fixed is not None:
            chosen, scores, scores_note = list(fixed), [None] * len(fixed), "given"
        elif select == "iou":
            chosen, scores = select_by_iou(dis, cls, n)
        elif select == "ace":
            cands = dis.class_ranking(cls)[: candidates or d]
            with progress_bar("single-unit ACE", len(cands), err_console) as bar:
                t = bar.add_task("a", total=len(cands))
                per_unit = single_unit_ace(g, seg, layer, cls, value, cands, min(ace_samples, samples), seed, batch_size,
                                           on_unit=lambda k: bar.advance(t, k))
            chosen, scores = select_by_ace(per_unit, n)
            scores_note = "single-unit ACE"
        else:
            with progress_bar("optimise unit mask", steps, err_console) as bar:
                t = bar.add_task("o", total=steps)
                alpha = optimize_unit_mask(g, seg, layer, cls, value, samples, seed, min(batch_size, 16), steps,
                                           l2=l2, on_step=lambda k: bar.advance(t, k))
            chosen, scores = select_by_mask(alpha, n)
            scores_note = "optimised α"
        with progress_bar("ACE", samples, err_console) as bar:
            t = bar.add_task("ace", total=samples)
            res = average_causal_effect(g, seg, layer, chosen, cls, samples, seed, batch_size, value=value,
                                        on_batch=lambda k: bar.advance(t, k))
        unit_rows = []
        for u, s in zip(chosen, scores):
            row = {"unit": u, "score": s}
            if dis is not None:
                lab = dis.units()[u]
                row.update(iou_label=lab["label"], iou=lab["iou"], iou_with_class=float(dis.iou_uc[u, cls]))
            unit_rows.append(row)
        curves = None
        if curve:
            with progress_bar("ablation curve", samples, err_console) as bar:
                t = bar.add_task("c", total=None)
                curves = {f"by {scores_note}": ablation_curve(g, seg, layer, chosen, cls, samples, seed, batch_size,
                                                             on_batch=lambda k: bar.advance(t, k))}
        sweep = None
        if context or trace:
            with progress_bar("insertion sweep", context_samples, err_console) as bar:
                t = bar.add_task("s", total=context_samples)
                sweep = insertion_sweep(g, seg, layer, chosen, value, cls, context_samples, seed, batch_size, stride,
                                        patch, trace=trace, on_sample=lambda k: bar.advance(t, k))
        report = {"generator": g.describe(), "layer": layer, "class": class_name,
                  "settings": {"segmenter": segmenter, "samples": samples, "seed": seed, "select": scores_note,
                               "n": len(chosen), "insert_value": insert_value},
                  "insert_values": [float(value[u]) for u in chosen],
                  "units": unit_rows, "ace": res.to_json(), "ablation_curve": curves,
                  "sweep": sweep.to_json() if sweep is not None else None}
        if out is not None:
            strip = "interventions.png"
            intervention_strip(g, seg, layer, chosen, value, cls, list(range(6)), seed, out / strip)
            write_ace_report(out, report, curves, sweep,
                             tiles=[(strip, "rows: original · ablated where present · inserted where absent")])
        if json_output:
            print_json(report)
            return
        console = console_for(json_output)
        console.print(f"[bold]{g.name} · {layer} · {class_name}[/]: units {', '.join(map(str, chosen))} ({scores_note})")
        tab = Table(title=f"ACE over {samples} samples (fractions of pixels; 95% bootstrap intervals over samples)")
        for col in ("ACE", "original", "ablated", "inserted", "removed (of class)"):
            tab.add_column(col, justify="right")
        a = res.to_json()
        ci = a.get("ci95") or {}
        ace_txt = f"{a['ace']:.4f}" + (f" ({ci['ace'][0]:.4f} … {ci['ace'][1]:.4f})" if "ace" in ci else "")
        rem_txt = f"{a['removed_fraction_of_class']:.1%}" + (
            f" ({ci['removed_fraction_of_class'][0]:.0%} … {ci['removed_fraction_of_class'][1]:.0%})" if ci else "")
        tab.add_row(ace_txt, f"{a['original']:.4f}", f"{a['ablated']:.4f}", f"{a['inserted']:.4f}", rem_txt)
        console.print(tab)
        if curves:
            for name, rows in curves.items():
                console.print(f"ablation curve ({name}): " + ", ".join(f"{r['n']}→{r['removed_fraction_of_class']:.0%}" for r in rows))
        if sweep is not None:
            ct = Table(title=f"insertion context: {class_name} gain by location class")
            for col in ("location", "insertions", "mean gain", "95% CI"):
                ct.add_column(col, justify="right")
            civ = sweep.context_intervals()
            for r in civ.get("rows", []):
                ci = r.get("ci95")
                ct.add_row(r["location_class"], str(r["insertions"]), f"{r['mean_gain']:+.5f}",
                           f"{ci[0]:+.5f} … {ci[1]:+.5f}" if ci else "")
            console.print(ct)
            sup = civ.get("supported", [])
            console.print(f"orderings the intervals support ({context_samples} samples): " + (", ".join(sup) if sup else "none"))
            if sweep.trace is not None:
                for grp, vals in sweep.trace_curves().items():
                    console.print(f"tracing ({grp}): " + ", ".join(f"{l} {v:.4f}" for l, v in vals.items() if v is not None))
        if out is not None:
            console.print(f"wrote {out / 'report.json'} and {out / 'index.html'}")
