"""`ganfix repair --sequential L1,L2,…`: parse, call ganfix.repair.sequential, render (table / JSON / report.json)."""
from __future__ import annotations

from pathlib import Path

from rich.table import Table

from ..atomic import atomic_write_json
from ..errors import UsageError
from ..real_sets import real_source_for
from .common import console_for, err_console, print_json


def run_sequential(g, layers: str, out: Path, features: str, real: str, real_seed: int, inception_weights, by: str,
                   per_layer: int, samples: int, seed: int, eval_seed, artifact_fraction: float, random_draws: int,
                   batch_size: int, json_output: bool) -> None:
    from ..ranking.automatic import check_by
    from ..repair.sequential import check_layers, sequential_repair

    check_by(by)
    names = check_layers(g, [s.strip() for s in layers.split(",") if s.strip()])
    if samples < 10:
        raise UsageError(f"--samples must be at least 10, got {samples}")
    real_src = real_source_for(g, real, real_seed, samples=samples)
    result = sequential_repair(g, names, real_src, features, by, per_layer, samples, seed, samples,
                               seed + 1 if eval_seed is None else eval_seed, artifact_fraction, random_draws,
                               inception_weights, batch_size, on_stage=lambda s: err_console.print(f"[dim]{s}[/dim]"))
    data = {"generator": g.describe(), **result.to_dict()}
    atomic_write_json(out / "report.json", data)
    if json_output:
        print_json(data)
        return
    console = console_for(json_output)
    for s in result.steps:
        console.print(f"{s['layer']}: ablate {', '.join(map(str, s['units']))}")
    v = result.variants
    table = Table(title=f"{g.name} · sequential ablation {', '.join(names)} · eval {result.settings['eval_samples']} samples "
                        f"(seed {result.settings['eval_seed']}) · FD in {result.settings['features']} space")
    for col in ["variant", "FD artifact samples", "FD all", "normal: feature change", "normal: pixel change"]:
        table.add_column(col, justify="right" if col != "variant" else "left")
    for name in ("original", "sequential", "one-layer", "random"):
        m = v[name]
        sd = (lambda k: f" ± {m[k + '_std']:.3f}") if name == "random" else (lambda k: "")
        table.add_row(name, f"{m['fd_artifact_samples']:.3f}{sd('fd_artifact_samples')}", f"{m['fd_all']:.3f}{sd('fd_all')}",
                      f"{m['normal_feature_change']:.3f}", f"{m['normal_pixel_change']:.4f}")
    console.print(table)
    console.print(f"artifact samples: the {result.settings['artifact_samples']} least realistic of the evaluation samples "
                  f"(original generator); normal: the {result.settings['normal_samples']} most realistic. wrote {out / 'report.json'}")
