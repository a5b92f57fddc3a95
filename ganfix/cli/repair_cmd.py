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
from ..real_sets import offline_features_for, real_source_for
from ..repair.report import table_rows, write_outputs
from ..scoring import DEFAULT_RANDOM_DRAWS, check_kid_subset, score_repair, verdict
from .common import (GenArg, GenOptions, JsonOpt, SeedOpt, console_for, err_console, generator_options, handle_errors,
                     output_resolution, print_json)
from ..progress import progress_bar

# Standard FID (Inception) unless told otherwise; offline, its missing weights file is a one-line
# error that names --features toyscenes (the embedded extractor).
FeaturesOpt = typer.Option("inception", "--features", help="Feature extractor: inception (standard FID), vgg16, clip-…, dinov2-… (torch-fidelity's; need weights: --feature-weights, torch-fidelity's cache, or a download unless --offline), toyscenes (offline, toy world), or your own as path/to/extractor.py:factory (imports and runs that file).")
RealOpt = typer.Option(None, "--real", help="Real images: a folder of images, or 'world' (the embedded renderer). Required except for built-in generators, which name their own.")
InceptionOpt = typer.Option(None, "--feature-weights", "--inception-weights", help="Local weights file of the named extractor (e.g. torch-fidelity's weights-inception-2015-12-05-6726825d.pth); read with weights_only=True and checked.")
OfflineOpt = typer.Option(False, "--offline", help="Never download extractor weights (also GANFIX_OFFLINE=1).")


def results_table(report: dict, title: str) -> Table:
    table = Table(title=title)
    table.add_column("generator")
    settings = report.get("settings", {})
    features = settings.get("features", "")
    # Fréchet distance in another feature space than Inception's is not FID: say which one it is, and against what.
    metric = "FID" if features.startswith("inception") else f"FD ({features} features)"
    real = settings.get("real_label")
    table.add_column(f"{metric} vs {real}" if real else metric, justify="right")
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
        offline: bool = OfflineOpt,
        kid_subset_size: Optional[int] = typer.Option(None, "--kid-subset-size", help="KID subset size (default min(1000, N/2))."),
        no_score: bool = typer.Option(False, "--no-score", help="Only export the patched generator."),
        batch_size: int = typer.Option(64, "--batch-size", "-b"),
        no_cache: bool = typer.Option(False, "--no-cache", help="Recompute everything instead of reading cached features/statistics (results are the same; caches are checksummed)."),
        gen_opts: GenOptions = None,
        json_output: bool = JsonOpt,
    ) -> None:
        """Ablate the annotated units, export the patched generator and score it against random ablation."""
        from ..preflight import check_at_least, check_cache_writable, check_output_dir, check_output_file  # noqa: F401
        check_at_least(batch_size, "--batch-size", 1)
        check_at_least(bootstrap, "--bootstrap", 0)
        check_at_least(random_draws, "--random-draws", 1)
        check_output_dir(out)
        check_cache_writable(not no_cache)
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
        from ..layer_kinds import patch_warning
        if patch_warning(g, patch.layer):
            err_console.print(patch_warning(g, patch.layer), highlight=False, soft_wrap=True)
        real_src = real_source_for(g, real, real_seed, samples=samples) if not no_score else None
        if not no_score:
            from ..extractors import resolve_extractor
            # fail before any work when weights are missing
            resolve_extractor(features, inception_weights, offline or None, offline_features_for(g))
        console = console_for(json_output)
        # Score first, export after: on a failure nothing is left half-written in --out.
        report = None
        if not no_score:
            n_total = (2 + random_draws) * samples
            with progress_bar("scoring", n_total, err_console) as bar:
                task = bar.add_task("score", total=n_total)
                report = score_repair(g, patch, real_src, features, samples, seed, random_draws, select, pool, bootstrap,
                                      inception_weights, kid_subset_size, batch_size, use_cache=not no_cache,
                                      progress=lambda name, n, total: bar.advance(task, n), offline=offline or None)
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
