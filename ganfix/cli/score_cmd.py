"""`ganfix score GEN`: FID/KID of a generator (optionally patched by an annotation set)."""
from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer
from rich.table import Table

from ..annotations import AnnotationSet
from ..atomic import atomic_write_json
from ..errors import UsageError
from ..patch import Patch
from ..real_sets import real_source_for
from ..scoring import check_kid_subset, score_generator
from .common import (GenArg, GenOptions, JsonOpt, SeedOpt, console_for, err_console, generator_options, handle_errors,
                     output_resolution, print_json)
from ..progress import progress_bar
from .repair_cmd import FeaturesOpt, InceptionOpt, OfflineOpt, RealOpt


def register(app: typer.Typer) -> None:
    @app.command("score")
    @handle_errors
    @generator_options
    def score(
        gen: str = GenArg,
        annotations: Optional[Path] = typer.Option(None, "--annotations", "-a", help="Score with this set's units ablated."),
        force: bool = typer.Option(False, "--force", help="Apply a set made for another model fingerprint."),
        layer: Optional[str] = typer.Option(None, "--layer", "-l", help="Expected layer of the set; refused if it differs."),
        samples: int = typer.Option(1000, "--samples", "-n"),
        seed: int = SeedOpt,
        features: str = FeaturesOpt,
        real: str = RealOpt,
        real_seed: int = typer.Option(1, "--real-seed"),
        inception_weights: Optional[str] = InceptionOpt,
        offline: bool = OfflineOpt,
        kid_subset_size: Optional[int] = typer.Option(None, "--kid-subset-size"),
        batch_size: int = typer.Option(64, "--batch-size", "-b"),
        out: Optional[Path] = typer.Option(None, "--out", help="Write score.json here."),
        no_cache: bool = typer.Option(False, "--no-cache", help="Recompute everything instead of reading cached features/statistics (results are the same; caches are checksummed)."),
        gen_opts: GenOptions = None,
        json_output: bool = JsonOpt,
    ) -> None:
        """FID/KID (torch-fidelity) of GEN's samples 0…N−1 against N real images."""
        from ..preflight import check_at_least, check_cache_writable, check_output_dir, check_output_file  # noqa: F401
        check_at_least(batch_size, "--batch-size", 1)
        check_output_dir(out)
        check_cache_writable(not no_cache)
        if samples < 1:
            raise UsageError(f"--samples must be at least 1, got {samples}")
        check_kid_subset(samples, kid_subset_size)
        patch = None
        g = gen_opts.load(gen)
        if annotations is not None:
            ann = AnnotationSet.load(annotations)
            if layer is not None:
                ann.check_layer(layer)
            g.layer(ann.layer)
            patch = Patch.from_annotations(ann, g, force=force)
            from ..layer_kinds import patch_warning
            if patch_warning(g, patch.layer):
                err_console.print(patch_warning(g, patch.layer), highlight=False, soft_wrap=True)
        real_src = real_source_for(g, real, real_seed, samples=samples)
        with progress_bar("scoring", samples, err_console) as bar:
            task = bar.add_task("score", total=samples)
            result = score_generator(g, real_src, features, samples, seed, patch, inception_weights, kid_subset_size,
                                     batch_size, use_cache=not no_cache, on_batch=lambda n: bar.advance(task, n),
                                     offline=offline or None)
        result = {"generator": g.describe(), "patched_units": patch.units if patch else None,
                  "layer": patch.layer if patch else None, **result}
        if out is not None:
            atomic_write_json(out / "score.json", result)
        if json_output:
            print_json(result)
            return
        table = Table(title=f"{g.name}{' (patched)' if patch else ''} · {samples} samples · {result['features']}")
        table.add_column(f"{result['metric']} vs {result['real_label']}", justify="right")
        table.add_column("KID", justify="right")
        table.add_row(f"{result['fid']:.3f}", f"{result['kid_mean']:.4f} ± {result['kid_std']:.4f}")
        console_for(False).print(table)
