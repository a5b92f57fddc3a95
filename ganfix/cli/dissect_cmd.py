"""`ganfix dissect GEN --layer L …`: unit/class IoU dissection, layer and model comparison, report."""
from __future__ import annotations

from pathlib import Path
from typing import List, Optional

import typer
from rich.table import Table

from ..errors import UsageError
from ..stats.tally import check_sample_args
from .common import (GenArg, GenOptions, JsonOpt, SeedOpt, console_for, err_console, generator_options, handle_errors,
                     print_json)
from ..progress import progress_bar


def spatial_layers(gen) -> list[str]:
    """Top-level layers with spatial maps, without the final one (the image itself)."""
    top = gen.top_layers() or gen.layers
    names = [n for n, info in top.items() if info.spatial]
    if names and names[-1] == list(top)[-1]:
        names = names[:-1]
    return names


def register(app: typer.Typer) -> None:
    @app.command("dissect")
    @handle_errors
    @generator_options
    def dissect_cmd(
        gen: str = GenArg,
        layer: Optional[List[str]] = typer.Option(None, "--layer", "-l", help="Layer(s) to dissect; repeat for several."),
        all_layers: bool = typer.Option(False, "--all-layers", help="Dissect every top-level spatial layer."),
        segmenter: str = typer.Option("toyscenes", "--segmenter", help="Built-in segmenter name or path/to/file.py:factory."),
        samples: int = typer.Option(1000, "--samples", "-n", help="Seeded samples in the pass."),
        seed: int = SeedOpt,
        batch_size: int = typer.Option(32, "--batch-size", "-b", help="Batch size (results do not depend on it)."),
        levels: int = typer.Option(100, "--levels", help="Threshold levels per unit (quantiles 1−f, f=logspace(-3,0))."),
        compare: Optional[str] = typer.Option(None, "--compare", help="A second generator spec, dissected side by side."),
        iou_min: float = typer.Option(0.05, "--iou-min", help="Interpretable: IoU above this …"),
        agreement_min: float = typer.Option(0.75, "--agreement-min", help="… and pixel agreement above this."),
        min_class_frac: float = typer.Option(1e-3, "--min-class-frac", help="Skip classes covering fewer pixels than this fraction."),
        iqr_convention: str = typer.Option("reference", "--iqr-convention",
                                           help="reference: thresholds from quantiles of the upsampled maps, positively "
                                                "correlated levels only (threshold > 0, agreement > 0.8), label by IQR, "
                                                "interpretable also needs IQR > --iqr-min; unconstrained: maximise IQR over "
                                                "all levels, label by IoU (docs/dissection.md)."),
        iqr_min: float = typer.Option(0.01, "--iqr-min", help="reference convention: interpretable needs IQR above this."),
        top: int = typer.Option(10, "--top", help="Units per layer shown in the table."),
        tiles: int = typer.Option(8, "--tiles", help="Units per layer drawn as mask images in the HTML report."),
        out: Optional[Path] = typer.Option(None, "--out", help="Write report.json, index.html and plots here."),
        no_cache: bool = typer.Option(False, "--no-cache", help="Recompute even if cached passes exist."),
        gen_opts: GenOptions = None,
        json_output: bool = JsonOpt,
    ) -> None:
        """Which units match which segmentation classes (IoU at IQR-optimal thresholds), per layer."""
        from ..preflight import check_at_least, check_cache_writable, check_output_dir, check_output_file  # noqa: F401
        check_output_dir(out)
        check_cache_writable(not no_cache)
        from ..dissect import Criteria, dissect
        from ..dissect.report import comparison_rows, write_dissect_report
        from ..segmenters import load_segmenter

        check_sample_args(samples, batch_size)
        if levels < 2:
            raise UsageError(f"--levels must be at least 2, got {levels}")
        if not layer and not all_layers:
            raise UsageError("give --layer L (repeatable) or --all-layers")
        g = gen_opts.load(gen)
        gens = {g.name: g}
        if compare is not None:
            g2 = gen_opts.load(compare)
            if g2.name == g.name:
                g2.name = g.name + " (2)"
            gens[g2.name] = g2
        layers_of = {}
        for name, gg in gens.items():
            names = spatial_layers(gg) if all_layers else list(layer)
            for l in names:
                gg.layer(l)
            layers_of[name] = names
        seg = load_segmenter(segmenter)
        crit = Criteria(iou_min, agreement_min, min_class_frac, convention=iqr_convention, iqr_min=iqr_min)
        crit.check()
        results = {}
        for name, gg in gens.items():
            total = samples * (len(layers_of[name]) + 1)
            with progress_bar(f"dissect {name}", total, err_console) as bar:
                task = bar.add_task("dissect", total=total)
                results[name] = dissect(gg, layers_of[name], seg, samples, seed, batch_size, levels, crit,
                                        use_cache=not no_cache, on_batch=lambda n: bar.advance(task, n))
        settings = {"segmenter": segmenter, "samples": samples, "seed": seed, "batch_size": batch_size,
                    "levels": levels, "criteria": vars(crit)}
        if out is not None:
            report = write_dissect_report(out, gens, results, settings, tiles=tiles)
        else:
            report = {"settings": settings, "models": {m: gens[m].describe() for m in gens},
                      "comparison": comparison_rows(results),
                      "layers": {m: {l: d.to_json() for l, d in ls.items()} for m, ls in results.items()}}
        if json_output:
            print_json(report)
            return
        console = console_for(json_output)
        extra = f", IQR > {iqr_min}" if iqr_convention == "reference" else ""
        table = Table(title=f"interpretable units (IoU > {iou_min}, agreement > {agreement_min}{extra}; {iqr_convention} IQR "
                            f"convention) · {samples} samples, seed {seed}")
        for col in ("model", "layer", "units", "interpretable", "top classes"):
            table.add_column(col)
        for r in report["comparison"]:
            table.add_row(r["model"], r["layer"], str(r["units"]), str(r["interpretable"]),
                          ", ".join(f"{k} {v}" for k, v in list(r["by_class"].items())[:6]))
        console.print(table)
        for m, ls in results.items():
            for l, d in ls.items():
                t = Table(title=f"{m} · {l} · top {top} units by IoU")
                for col in ("unit", "label", "IoU", "IQR", "agreement", "threshold", "interp."):
                    t.add_column(col, justify="right")
                for u in d.to_json(top)["units"]:
                    t.add_row(str(u["unit"]), str(u["label"]), f"{u['iou']:.3f}", f"{u['iqr']:.3f}",
                              "" if u["agreement"] is None else f"{u['agreement']:.3f}",
                              "" if u["threshold"] is None else f"{u['threshold']:.3f}", "yes" if u["interpretable"] else "")
                console.print(t)
        if out is not None:
            console.print(f"wrote {out / 'report.json'} and {out / 'index.html'}")
