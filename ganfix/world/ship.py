"""Copy trained world networks into the package assets, recording the generator's fingerprint.

    python -m ganfix.world.ship --gan runs/toygan --seg runs/toyseg

Writes ganfix/world/assets/toyscenes_generator.{pt,json} (the EMA generator as a plain float32 state
dict in the GAN Dissection layout + its recipe with `fingerprint`) and toyscenes_segmenter.{pt,json}.
The fingerprint must then be pasted into ganfix/world/builtin.py (GENERATOR_FINGERPRINT); the
asset tests check that the three agree.
"""
from __future__ import annotations

import argparse
import io
import json
from pathlib import Path

import torch

from ..atomic import atomic_write_bytes, atomic_write_json
from .builtin import ASSETS


def ship_generator(run: Path, assets: Path = ASSETS) -> str:
    from ..fingerprint import fingerprint_module
    from ..models.progan import progan_from_state_dict

    state = torch.load(run / "generator_ema.pt", weights_only=True, map_location="cpu")
    state = {k: v.float().contiguous() for k, v in state.items()}
    fp = fingerprint_module(progan_from_state_dict(state).eval())
    buf = io.BytesIO()
    torch.save(state, buf)
    atomic_write_bytes(assets / "toyscenes_generator.pt", buf.getvalue())
    recipe = json.loads((run / "recipe.json").read_text())
    recipe["fingerprint"] = fp
    atomic_write_json(assets / "toyscenes_generator.json", recipe)
    return fp


def ship_segmenter(run: Path, assets: Path = ASSETS) -> None:
    atomic_write_bytes(assets / "toyscenes_segmenter.pt", (run / "segmenter.pt").read_bytes())
    atomic_write_json(assets / "toyscenes_segmenter.json", json.loads((run / "recipe.json").read_text()))


def main(argv=None) -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--gan", type=Path, help="train_generator run folder")
    p.add_argument("--seg", type=Path, help="train_segmenter run folder")
    args = p.parse_args(argv)
    if args.seg:
        ship_segmenter(args.seg)
        print(f"shipped segmenter from {args.seg}")
    if args.gan:
        print(f"shipped generator from {args.gan}; fingerprint {ship_generator(args.gan)} "
              "(set GENERATOR_FINGERPRINT in ganfix/world/builtin.py)")


if __name__ == "__main__":
    main()
