"""`ganfix repair GEN --annotations FILE --out DIR`: patch, export, score against random ablation."""
from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer
from rich.table import Table

from ..annotations import AnnotationSet
from ..errors import UsageError
from ..export import export_patched
from ..patch import Patch
from ..real_data import RealSource
from ..repair.report import table_rows, write_outputs
from ..scoring import DEFAULT_RANDOM_DRAWS, check_kid_subset, score_repair, verdict
from .common import (GenArg, GenOptions, JsonOpt, SeedOpt, console_for, err_console, generator_options, handle_errors,
                     output_resolution, print_json)
from ..progress import progress_bar

# Standard FID (Inception) unless told otherwise; offline, its missing weights file is a one-line
# error that names --features toyscenes (the embedded extractor).
FeaturesOpt = typer.Option("inception", "--features", help="Feature extractor: inception (standard FID; needs torch-fidelity's weights file) or a registered one, e.g. toyscenes (offline).")
RealOpt = typer.Option("world", "--real", help="Real images: 'world' (the embedded renderer) or a folder of images.")
InceptionOpt = typer.Option(None, "--inception-weights", help="Path to torch-fidelity's Inception weights file (pt_inception-2015-12-05).")


def results_table(report: dict, title: str) -> Table:
    table = Table(title=title)
    table.add_column("generator")
    features = report.get("settings", {}).get("features", "")
    # Fréchet distance in another feature space than Inception's is not FID: say which one it is.
    table.add_column("FID" if features.startswith("inception") else f"FD ({features})", justify="right")
    table.add_column("KID", justify="right")
    for row in table_rows(report):
        table.add_row(*row)
    return table


def register(app: typer.Typer) -> None:
    @app.command("repair")
    @handle_errors
    @generator_options
    def repair(
        gen: str = GenArg,
        annotations: Path = typer.Option(..., "--annotations", "-a", help="Annotation set JSON (units to ablate)."),
        out: Path = typer.Option(..., "--out", help="Output folder: exports, report.json, report.md, before_after.png."),
        force: bool = typer.Option(False, "--force", help="Apply a set made for another model fingerprint."),
        layer: Optional[str] = typer.Option(None, "--layer", "-l", help="Expected layer; refused if the set is for another one."),
        samples: int = typer.Option(1000, "--samples", "-n", help="Generated (and real) samples per score."),
        seed: int = SeedOpt,
        random_draws: int = typer.Option(DEFAULT_RANDOM_DRAWS, "--random-draws", help="Random patches of the same size (baseline); the patched − random interval resamples them too."),
        select: str = typer.Option("all", "--select", help="all: ids 0…N−1; top: the N of --pool where the units fire most (paper)."),
        pool: Optional[int] = typer.Option(None, "--pool", help="Pool size M for --select top (default 5·N)."),
        bootstrap: Optional[int] = typer.Option(None, "--bootstrap", help="Bootstrap resamples for the intervals (0: none; default 200, or 10 for features wider than 512-d, e.g. Inception, where each FID costs seconds)."),
        features: str = FeaturesOpt,
        real: str = RealOpt,
        real_seed: int = typer.Option(1, "--real-seed", help="Seed of the rendered real set (world)."),
        inception_weights: Optional[str] = InceptionOpt,
        kid_subset_size: Optional[int] = typer.Option(None, "--kid-subset-size", help="KID subset size (default min(1000, N/2))."),
        no_score: bool = typer.Option(False, "--no-score", help="Only export the patched generator."),
        batch_size: int = typer.Option(64, "--batch-size", "-b"),
        gen_opts: GenOptions = None,
        json_output: bool = JsonOpt,
    ) -> None:
        """Ablate the annotated units, export the patched generator and score it against random ablation."""
        ann = AnnotationSet.load(annotations)  # malformed → one line, file untouched
        if layer is not None:
            ann.check_layer(layer)
        if samples < 1:
            raise UsageError(f"--samples must be at least 1, got {samples}")
        if not no_score:
            check_kid_subset(samples, kid_subset_size)
        g = gen_opts.load(gen)
        g.layer(ann.layer)
        patch = Patch.from_annotations(ann, g, force=force)
        real_src = RealSource.from_spec(real, seed=real_seed, resolution=output_resolution(g)) if not no_score else None
        if real_src is not None and real_src.available() is not None and real_src.available() < samples:
            raise UsageError(f"{real} has {real_src.available()} images, fewer than --samples {samples}")
        if not no_score:
            from ..extractors import resolve_extractor
            resolve_extractor(features, inception_weights)  # fail before any work when weights are missing
        console = console_for(json_output)
        # Score first, export after: on a failure nothing is left half-written in --out.
        report = None
        if not no_score:
            n_total = (2 + random_draws) * samples
            with progress_bar("scoring", n_total, err_console) as bar:
                task = bar.add_task("score", total=n_total)
                report = score_repair(g, patch, real_src, features, samples, seed, random_draws, select, pool, bootstrap,
                                      inception_weights, kid_subset_size, batch_size,
                                      progress=lambda name, n, total: bar.advance(task, n))
        export = export_patched(g, patch, out / "export", seed=seed).to_dict()
        if report is not None:
            write_outputs(out, report, g, patch, export)
        else:
            from ..atomic import atomic_write_json
            atomic_write_json(out / "report.json", {"export": export, "settings": {"generator": g.name, "layer": patch.layer, "units": patch.units}})
        if json_output:
            print_json({**(report or {}), "export": export})
            return
        if report is not None:
            console.print(results_table(report, f"{g.name} · {patch.layer} · {len(patch.units)} units · {samples} samples"))
            console.print(verdict(report))
        console.print(f"exported {export['torchscript']} (max diff {export['torchscript_max_abs_diff']:.1e}); "
                      f"weights {'folded' if export['folded'] else 'with unit mask buffers'}: {export['fold_how']}")
        console.print(f"wrote {out}")
