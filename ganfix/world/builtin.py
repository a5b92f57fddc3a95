"""Register the embedded toy world's generator, segmenter and feature extractor as built-ins named `toyscenes`.

Imported lazily by ganfix.registry on the first built-in lookup.  Weights live in
ganfix/world/assets and load with `torch.load(weights_only=True)`; the generator's fingerprint is
recorded here so a corrupted or swapped asset is caught (tests compare it).
"""
from __future__ import annotations

import json
from pathlib import Path

import torch

from ..errors import UsageError
from ..registry import (BuiltinExtractor, BuiltinGenerator, BuiltinSegmenter, register_extractor, register_generator,
                        register_segmenter)

ASSETS = Path(__file__).parent / "assets"
GENERATOR_WEIGHTS = ASSETS / "toyscenes_generator.pt"
GENERATOR_RECIPE = ASSETS / "toyscenes_generator.json"
SEGMENTER_WEIGHTS = ASSETS / "toyscenes_segmenter.pt"

# ProGAN(64, z_dim=128, widths=[128, 64, 32, 16, 8]); see toyscenes_generator.json for the recipe.
Z_SHAPE = (128,)
GENERATOR_FINGERPRINT: str | None = "65805351f6d0f766"  # ganfix.fingerprint.fingerprint_module of the shipped weights
# and the ProGAN classes' code (ganfix/models/progan.py: a code change there changes it; comments and docstrings do not).
# The shipped annotation sets (annotations/toyscenes/*.json, assets/toyscenes-artifacts.json) are bound to it.


def _missing(path: Path) -> UsageError:
    return UsageError(f"the embedded toy-world asset {path.name} is missing from {path.parent}; reinstall ganfix "
                      "or rebuild it with python -m ganfix.world.train_generator / train_segmenter")


def build_generator() -> torch.nn.Module:
    from ..models.progan import progan_from_state_dict

    if not GENERATOR_WEIGHTS.is_file():
        raise _missing(GENERATOR_WEIGHTS)
    state = torch.load(GENERATOR_WEIGHTS, weights_only=True, map_location="cpu")
    state = {k: v.float() for k, v in state.items()}
    return progan_from_state_dict(state).eval()


def build_segmenter():
    from .toy_segmenter import ToySegmenter, load_segnet

    if not SEGMENTER_WEIGHTS.is_file():
        raise _missing(SEGMENTER_WEIGHTS)
    return ToySegmenter(load_segnet(SEGMENTER_WEIGHTS))


def ensure_extractor() -> None:
    from .toy_extractor import ensure_registered

    ensure_registered()


def extractor_digest() -> str | None:
    """The toyscenes extractor is the segmenter's encoder: its weights file names its identity."""
    import hashlib

    return hashlib.sha256(SEGMENTER_WEIGHTS.read_bytes()).hexdigest()[:16] if SEGMENTER_WEIGHTS.is_file() else None


def check_ssl_extractor() -> None:
    from .toy_ssl import SSL_WEIGHTS

    if not SSL_WEIGHTS.is_file():
        raise UsageError(f"the toyscenes-ssl weights {SSL_WEIGHTS} are missing; rebuild them with "
                         "python -m ganfix.world.train_ssl --out runs/toyssl --ship")


def ensure_ssl_extractor() -> None:
    from .toy_ssl import ensure_registered

    check_ssl_extractor()
    ensure_registered()


def ssl_extractor_digest() -> str | None:
    import hashlib

    from .toy_ssl import SSL_WEIGHTS

    return hashlib.sha256(SSL_WEIGHTS.read_bytes()).hexdigest()[:16] if SSL_WEIGHTS.is_file() else None


def generator_recipe() -> dict:
    return json.loads(GENERATOR_RECIPE.read_text()) if GENERATOR_RECIPE.is_file() else {}


register_generator(BuiltinGenerator(
    name="toyscenes",
    build=build_generator,
    z_shape=Z_SHAPE,
    output_range=(-1.0, 1.0),
    description="toy ProGAN 64×64 trained on ganfix's procedural scenes (offline world)",
    fingerprint=GENERATOR_FINGERPRINT,
    default_real="world",
    default_segmenter="toyscenes",
    offline_features="toyscenes",
))
register_segmenter(BuiltinSegmenter(
    name="toyscenes",
    build=build_segmenter,
    description="small U-Net segmenter for the procedural scenes: " + ", ".join(
        ["sky", "ground", "road", "building", "window", "door", "tree"]),
))
register_extractor(BuiltinExtractor(
    name="toyscenes",
    ensure_registered=ensure_extractor,
    weights_digest=extractor_digest,
    feature_layer="pool",  # toy_extractor.FEATURE_LAYER (a test checks they agree)
    description="the toy world's 128-d features (offline; Fréchet distances in it are not Inception FID)",
))
register_extractor(BuiltinExtractor(
    name="toyscenes-ssl",
    ensure_registered=ensure_ssl_extractor,
    weights_digest=ssl_extractor_digest,
    feature_layer="pool",  # toy_ssl.FEATURE_LAYER (a test checks they agree)
    check=check_ssl_extractor,
    description="the toy world's second, independent feature space: a self-supervised encoder (world/toy_ssl.py)",
))
