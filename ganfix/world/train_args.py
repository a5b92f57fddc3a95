"""Command-line arguments the toy world's training scripts share (run folder, seeds, scene count, loop)."""
from __future__ import annotations

import argparse


def training_parser(doc: str, *, scene_seed: int, n_scenes: int, out_help: str = "run folder",
                    seed_help: str = "training seed", scene_seed_help: str = "seed of the rendered training scenes"
                    ) -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(description=doc.split("\n")[0])
    p.add_argument("--out", required=True, help=out_help)
    p.add_argument("--seed", type=int, default=0, help=seed_help)
    p.add_argument("--scene-seed", type=int, default=scene_seed, help=scene_seed_help)
    p.add_argument("--n-scenes", type=int, default=n_scenes)
    return p


def add_loop_args(p: argparse.ArgumentParser, *, batch: int, lr: float, batch_help: str | None = None) -> None:
    p.add_argument("--batch", type=int, default=batch, help=batch_help)
    p.add_argument("--lr", type=float, default=lr)
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--log-every", type=int, default=50)
