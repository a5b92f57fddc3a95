"""`ganfix world …`: the embedded offline world — render scenes, (re)train its networks, measure it."""
from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

from ..errors import UsageError
from .common import JsonOpt, err_console, handle_errors, print_json

world_app = typer.Typer(help="The embedded offline world: procedural scenes, toy GAN, segmenter, features.",
                        no_args_is_help=True)


@world_app.command("render")
@handle_errors
def render(
    n: int = typer.Option(..., "--n", help="Number of scenes."),
    out: Path = typer.Option(..., "--out", help="Folder: images/NNNNNN.png and masks/NNNNNN.png (class index per pixel)."),
    seed: int = typer.Option(0, "--seed", help="Scene stream: scene i of seed s is always the same image."),
    start: int = typer.Option(0, "--start", help="Index of the first scene."),
    resolution: int = typer.Option(64, "--resolution", help="Image size in pixels (≥ 32)."),
    masks: bool = typer.Option(True, "--masks/--no-masks", help="Also write the class maps."),
    json_output: bool = JsonOpt,
) -> None:
    """Render N procedural scenes as PNG images (+ class-map PNGs), usable as the real set for scoring."""
    from ..progress import progress
    from ..world.scene_files import write_scene_files

    with progress("rendering", n, err_console) as step:
        meta = write_scene_files(out, n, seed, start, resolution, masks, on_progress=step)
    if json_output:
        print_json(meta)
    else:
        err_console.print(f"wrote {n} scenes to {out}/images" + (f" and class maps to {out}/masks" if masks else ""))


@world_app.command("train-generator")
@handle_errors
def train_generator(
    out: Path = typer.Option(..., "--out", help="Run folder (checkpoint.pt, generator_ema.pt, recipe.json, samples)."),
    seed: int = typer.Option(0, "--seed"),
    minutes: float = typer.Option(72.0, "--minutes", help="Wall-clock budget, counted across resumes."),
    max_steps: int = typer.Option(0, "--max-steps", help="Stop after this many steps (0: budget only)."),
    n_scenes: int = typer.Option(20000, "--n-scenes"),
    batch: int = typer.Option(32, "--batch"),
    widths: str = typer.Option("128,64,32,16,8", "--widths", help="Generator widths at 4,8,16,32,64 px."),
    z_dim: int = typer.Option(128, "--z-dim"),
    threads: int = typer.Option(1, "--threads"),
) -> None:
    """Train the toy ProGAN on rendered scenes (resumes from OUT/checkpoint.pt)."""
    from ..world import train_generator as tg

    if batch < 2 or n_scenes < 1 or minutes <= 0:
        raise UsageError("--batch must be ≥ 2, --n-scenes ≥ 1 and --minutes > 0")
    args = tg.parse_args(["--out", str(out), "--seed", str(seed), "--minutes", str(minutes), "--max-steps", str(max_steps),
                          "--n-scenes", str(n_scenes), "--batch", str(batch), "--widths", widths,
                          "--z-dim", str(z_dim), "--threads", str(threads)])
    try:
        r = tg.train(args)
    except ValueError as exc:  # bad widths etc.
        raise UsageError(str(exc)) from None
    err_console.print(f"{r['steps']} steps in {r['elapsed_minutes']} min → {out / 'generator_ema.pt'}")


@world_app.command("train-segmenter")
@handle_errors
def train_segmenter(
    out: Path = typer.Option(..., "--out", help="Run folder (segmenter.pt, recipe.json)."),
    seed: int = typer.Option(0, "--seed"),
    steps: int = typer.Option(1800, "--steps"),
    n_scenes: int = typer.Option(8000, "--n-scenes"),
    n_eval: int = typer.Option(500, "--n-eval"),
    batch: int = typer.Option(32, "--batch"),
    threads: int = typer.Option(1, "--threads"),
    json_output: bool = JsonOpt,
) -> None:
    """Train the toy-world segmenter (also the feature extractor's encoder) and report held-out IoU."""
    from ..world import train_segmenter as ts

    if steps < 1 or n_scenes < 1 or n_eval < 1 or batch < 2:
        raise UsageError("--steps, --n-scenes and --n-eval must be ≥ 1 and --batch ≥ 2")
    args = ts.parse_args(["--out", str(out), "--seed", str(seed), "--steps", str(steps), "--n-scenes", str(n_scenes),
                          "--n-eval", str(n_eval), "--batch", str(batch), "--threads", str(threads),
                          "--log-every", str(max(1, min(50, steps)))])
    r = ts.train(args)
    if json_output:
        print_json(r["held_out"])
    else:
        h = r["held_out"]
        err_console.print(f"held-out mIoU {h['miou']:.4f}: " + ", ".join(f"{k} {v:.3f}" for k, v in h["per_class_iou"].items()))


@world_app.command("report")
@handle_errors
def report(
    out: Path = typer.Option(Path("docs"), "--out", help="Folder for world.md and img/world_grid.png."),
    n: int = typer.Option(2000, "--n", help="Samples per set for FD/KID."),
    seed: int = typer.Option(0, "--seed"),
    generator: Optional[Path] = typer.Option(None, "--generator", help="ProGAN state dict (default: the shipped toyscenes)."),
) -> None:
    """Measure the shipped world (segmenter IoU, FD/KID, class frequencies) and write world.md."""
    from ..world import report as rep

    if n < 50:
        raise UsageError(f"--n must be at least 50 for stable distances, got {n}")
    rep.main(["--out", str(out), "--n", str(n), "--seed", str(seed)] + (["--generator", str(generator)] if generator else []))


def register(app: typer.Typer) -> None:
    app.add_typer(world_app, name="world")
