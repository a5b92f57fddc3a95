"""`ganfix repair --sequential L1,L2,…`: parse, call ganfix.repairing.sequential, render (table / JSON / report.json)."""
from __future__ import annotations

from pathlib import Path

from rich.table import Table

from .common import console_for, err_console, print_json


def run_sequential(g, layers: str, out: Path, features, real, real_seed: int, inception_weights, by: str,
                   per_layer: int, samples: int, seed: int, eval_seed, artifact_fraction: float, random_draws: int,
                   batch_size: int, json_output: bool) -> None:
    from ..repairing.sequential import run_sequential as sequential

    result = sequential(g, layers, out, real, features, real_seed, inception_weights, by, per_layer, samples, seed,
                        eval_seed, artifact_fraction, random_draws, batch_size,
                        on_stage=lambda s: err_console.print(f"[dim]{s}[/dim]"))
    if json_output:
        return print_json({"generator": g.describe(), **result.to_dict()})
    render(g, result, out)


def render(g, result, out: Path) -> None:
    names = [s["layer"] for s in result.steps]
    console = console_for(False)
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
