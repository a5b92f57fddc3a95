"""`ganfix repair GEN --annotations FILE --out DIR`: patch, export, score against random ablation."""
from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer
from rich.table import Table

from .. import defaults
from ..errors import UsageError
from .common import (GenArg, GenOptions, JsonOpt, NoCacheOpt, SeedOpt, cli_progress, console_for, err_console, generator_options,
                     handle_errors, print_json)

# Standard FID (Inception) unless the generator names its own offline features (the built-in toyscenes); offline,
# a missing weights file is a one-line error.
FEATURES_HELP = ("Feature extractor: inception (standard FID; the default except for built-ins that name their own, "
                 "e.g. toyscenes), vgg16, clip-…, dinov2-… (torch-fidelity's; need weights: --feature-weights, "
                 "torch-fidelity's cache, or a download unless --offline), toyscenes (offline, toy world), or your own "
                 "as path/to/extractor.py:factory (imports and runs that file; see docs/your-own-gan.md).")
FeaturesOpt = typer.Option(None, "--features", help=FEATURES_HELP)
RealOpt = typer.Option(None, "--real", help="Real images: a folder of images, or 'world' (the embedded renderer). Required except for built-in generators, which name their own.")
InceptionOpt = typer.Option(None, "--feature-weights", "--inception-weights", help="Local weights file of the named extractor (e.g. torch-fidelity's weights-inception-2015-12-05-6726825d.pth); read with weights_only=True and checked.")
OfflineOpt = typer.Option(False, "--offline", help="Never download extractor weights (also GANFIX_OFFLINE=1).")


def results_table(result, title: str) -> Table:
    table = Table(title=title)
    table.add_column("generator")
    # Fréchet distance in another feature space than Inception's is not FID: say which one it is.
    table.add_column(result.metric_name, justify="right")
    table.add_column("KID", justify="right")
    for row in result.rows():
        table.add_row(*row)
    return table


def show(result, out: Path, json_output: bool) -> None:
    if json_output:
        return print_json(result.to_json())
    s = result.report["settings"]
    title = f"{s['generator']} · {s['layer']} · {len(s['units'])} units · {s['samples']} samples"
    for line in (results_table(result, title), result.verdict(), result.exported.summary(), f"wrote {out}"):
        console_for(False).print(line)


def load_patch(gen_opts, gen: str, annotations: Path, layer: Optional[str], force: bool):
    from ..annotations import AnnotationSet
    from ..workflow.repair import as_patch

    ann = AnnotationSet.load(annotations)  # malformed → one line, file untouched
    if layer is not None:
        ann.check_layer(layer)
    g = gen_opts.load(gen)
    patch = as_patch(g, ann, force)
    warn_about_layer(g, patch.layer)
    return g, patch


def warn_about_layer(g, layer: str) -> None:
    """A patch on a layer whose ablation may not do what it says (e.g. after a normalisation): say so on stderr."""
    from ..layer_kinds import patch_warning

    warning = patch_warning(g, layer)
    if warning:
        err_console.print(warning, highlight=False, soft_wrap=True)


def export_only(g, patch, out: Path, seed: int, json_output: bool, formats=None) -> None:
    from ..workflow.export import export, write_export_report

    exported = export(g, patch, out / "export", seed=seed, formats=formats)
    write_export_report(out, g, patch, exported)
    if json_output:
        return print_json({"export": exported.to_json()})
    console_for(False).print(exported.summary())
    console_for(False).print(f"wrote {out}")


@handle_errors
@generator_options
def repair(
    gen: str = GenArg,
    annotations: Optional[Path] = typer.Option(None, "--annotations", "-a", help="Annotation set JSON (units to ablate); "
                                               "not with --sequential."),
    sequential: Optional[str] = typer.Option(None, "--sequential", help="Automatic sequential ablation over these layers, "
                                             "e.g. layer4,layer5,layer6: detect artifact units (--detect-by) at each layer "
                                             "on the generator patched so far, ablate --per-layer of them, move on; "
                                             "scored beside one-layer and random ablation on --eval-seed latents."),
    per_layer: int = typer.Option(4, "--per-layer", help="With --sequential: units ablated per layer."),
    detect_by: str = typer.Option("artifact", "--detect-by", help="With --sequential: automatic ranker used to detect units."),
    eval_seed: Optional[int] = typer.Option(None, "--eval-seed", help="With --sequential: seed of the evaluation latents "
                                            "(default --seed + 1: not the detection latents)."),
    artifact_fraction: float = typer.Option(0.2, "--artifact-fraction", help="With --sequential: share of evaluation "
                                            "samples (lowest realism) counted as artifact samples."),
    out: Path = typer.Option(..., "--out", help="Output folder: exports, report.json, report.md, before_after.png."),
    force: bool = typer.Option(False, "--force", help="Apply a set made for another model fingerprint."),
    layer: Optional[str] = typer.Option(None, "--layer", "-l", help="Expected layer; refused if the set is for another one."),
    samples: int = typer.Option(defaults.SCORE_SAMPLES, "--samples", "-n", help="Generated (and real) samples per score."),
    seed: int = SeedOpt,
    random_draws: int = typer.Option(defaults.RANDOM_DRAWS, "--random-draws", help="Random patches of the same size (baseline); the patched − random interval resamples them too."),
    select: str = typer.Option(defaults.SELECT, "--select", help="all: ids 0…N−1; top: the N of --pool where the units fire most (paper)."),
    pool: Optional[int] = typer.Option(None, "--pool", help="Pool size M for --select top (default 5·N)."),
    bootstrap: Optional[int] = typer.Option(defaults.BOOTSTRAP, "--bootstrap", help="Bootstrap resamples for the intervals (0: none; default 200, or 10 for features wider than 512-d, e.g. Inception, where each FID costs seconds)."),
    features: Optional[str] = FeaturesOpt,
    real: Optional[str] = RealOpt,
    real_seed: int = typer.Option(defaults.REAL_SEED, "--real-seed", help="Seed of the rendered real set (world)."),
    inception_weights: Optional[str] = InceptionOpt,
    offline: bool = OfflineOpt,
    kid_subset_size: Optional[int] = typer.Option(defaults.KID_SUBSET_SIZE, "--kid-subset-size", help="KID subset size (default min(1000, N/2))."),
    no_score: bool = typer.Option(False, "--no-score", help="Only export the patched generator."),
    export_format: Optional[str] = typer.Option(None, "--format", help="Export formats, comma-separated: pt2 (torch.export, the default) and/or torchscript (deprecated upstream). The weights (safetensors, + a state dict in your layout when the patch folds) are always written."),
    batch_size: int = typer.Option(defaults.BATCH_SIZE, "--batch-size", "-b"),
    no_cache: bool = NoCacheOpt,
    gen_opts: GenOptions = None,
    json_output: bool = JsonOpt,
) -> None:
    """Ablate the annotated units, export the patched generator and score it against random ablation
    (or, with --sequential, detect and ablate artifact units layer by layer)."""
    from ..workflow.repair import repair as run_repair

    if sequential is not None:
        if annotations is not None:
            raise UsageError("--sequential detects the units itself: drop --annotations (or drop --sequential)")
        from .sequential_view import run_sequential

        g = gen_opts.load(gen)
        return run_sequential(g, sequential, out, features, real, real_seed,
                              inception_weights, detect_by, per_layer, samples, seed, eval_seed, artifact_fraction,
                              random_draws, batch_size, json_output)
    if annotations is None:
        raise UsageError("give --annotations FILE (the units to ablate), or --sequential LAYERS for automatic detection")

    from ..exporting import parse_formats, resolve_formats

    formats = parse_formats(export_format) if export_format is not None else None
    g, patch = load_patch(gen_opts, gen, annotations, layer, force)
    resolve_formats(g, formats)  # e.g. pt2 asked for a TorchScript GEN: refused before any scoring
    if no_score:
        return export_only(g, patch, out, seed, json_output, formats)
    result = run_repair(g, patch, real=real, features=features, samples=samples, seed=seed, random_draws=random_draws,
                        select=select, pool=pool, bootstrap=bootstrap, real_seed=real_seed,
                        inception_weights=inception_weights, kid_subset_size=kid_subset_size, batch_size=batch_size,
                        offline=offline or None, use_cache=not no_cache, out=out, progress=cli_progress,
                        export_formats=formats)
    show(result, out, json_output)


def register(app: typer.Typer) -> None:
    app.command("repair")(repair)
