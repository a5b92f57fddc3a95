"""`ganfix score GEN`: FID/KID of a generator (optionally patched by an annotation set)."""
from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer
from rich.table import Table

from .. import defaults
from .common import (GenArg, GenOptions, JsonOpt, NoCacheOpt, SeedOpt, console_for, generator_options, handle_errors,
                     print_json)
from .common import cli_progress, warn_if_near_constant
from .repair_cmd import FeaturesOpt, InceptionOpt, OfflineOpt, RealOpt, warn_about_layer


def load_with_set(gen_opts, gen: str, annotations: Optional[Path], layer: Optional[str]):
    """The generator, and the annotation set to score it with (checked against --layer and the model's layers)."""
    from ..annotations import AnnotationSet

    ann = AnnotationSet.load(annotations) if annotations is not None else None
    if ann is not None and layer is not None:
        ann.check_layer(layer)
    g = gen_opts.load(gen)
    if ann is not None:
        g.layer(ann.layer)
        warn_about_layer(g, ann.layer)
    return g, ann


def score_table(result: dict) -> Table:
    patched = " (patched)" if result["patched_units"] else ""
    table = Table(title=f"{result['generator']['name']}{patched} · {result['samples']} samples · {result['features']}")
    table.add_column(f"{result['metric']} vs {result['real_label']}", justify="right")
    table.add_column("KID", justify="right")
    table.add_row(f"{result['fid']:.3f}", f"{result['kid_mean']:.4f} ± {result['kid_std']:.4f}")
    return table


@handle_errors
@generator_options
def score(
    gen: str = GenArg,
    annotations: Optional[Path] = typer.Option(None, "--annotations", "-a", help="Score with this set's units ablated."),
    force: bool = typer.Option(False, "--force", help="Apply a set made for another model fingerprint."),
    layer: Optional[str] = typer.Option(None, "--layer", "-l", help="Expected layer of the set; refused if it differs."),
    samples: int = typer.Option(defaults.SCORE_SAMPLES, "--samples", "-n"),
    seed: int = SeedOpt,
    features: Optional[str] = FeaturesOpt,
    real: Optional[str] = RealOpt,
    real_seed: int = typer.Option(defaults.REAL_SEED, "--real-seed"),
    inception_weights: Optional[str] = InceptionOpt,
    offline: bool = OfflineOpt,
    kid_subset_size: Optional[int] = typer.Option(defaults.KID_SUBSET_SIZE, "--kid-subset-size"),
    batch_size: int = typer.Option(defaults.BATCH_SIZE, "--batch-size", "-b"),
    out: Optional[Path] = typer.Option(None, "--out", help="Write score.json here."),
    no_cache: bool = NoCacheOpt,
    gen_opts: GenOptions = None,
    json_output: bool = JsonOpt,
) -> None:
    """FID/KID (torch-fidelity) of GEN's samples 0…N−1 against N real images."""
    from ..atomic import atomic_write_json
    from ..workflow.score import score as run_score

    g, ann = load_with_set(gen_opts, gen, annotations, layer)
    result = run_score(g, ann, real=real, features=features, samples=samples, seed=seed,
                       real_seed=real_seed, inception_weights=inception_weights, kid_subset_size=kid_subset_size,
                       batch_size=batch_size, force=force, offline=offline or None, use_cache=not no_cache,
                       progress=cli_progress).to_json()
    warn_if_near_constant(g)
    if out is not None:
        atomic_write_json(out / "score.json", result)
    if json_output:
        return print_json(result)
    console_for(False).print(score_table(result))


def register(app: typer.Typer) -> None:
    app.command("score")(score)
