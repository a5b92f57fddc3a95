"""Checked inputs shared by the workflows: the real images a generator is scored against, its feature
extractor, sample counts. Each raises UsageError naming the Python parameter (`samples=0 …`); the CLI
turns those names into its flags."""
from __future__ import annotations

from typing import Optional

from . import defaults
from .errors import UsageError
from .generator import Generator, output_resolution
from .real_data import RealSource


def at_least(name: str, value: int, minimum: int) -> int:
    if value < minimum:
        raise UsageError(f"{name}={value} must be at least {minimum}")
    return value


def features_name(gen: Generator, features: Optional[str]) -> str:
    """The extractor's name: as given, else the generator's default (see ganfix.defaults.features_for)."""
    return features if features is not None else defaults.features_for(gen)


def check_features(gen: Generator, features: Optional[str], inception_weights: Optional[str] = None) -> str:
    """Resolve the extractor now, so a missing weights file fails before any work."""
    from .extractors import resolve_extractor

    name = features_name(gen, features)
    resolve_extractor(name, inception_weights)
    return name


def open_real(gen: Generator, real: Optional[str], real_seed: int, samples: int, param: str = "samples") -> RealSource:
    """The real images (rendered 'world' or a folder) at the generator's output size, with at least `samples`."""
    spec = real if real is not None else defaults.real_for(gen)
    if spec is None:
        raise UsageError(f"name the real images to score {gen.name!r} against: real=<folder of images>")
    src = RealSource.from_spec(spec, seed=real_seed, resolution=output_resolution(gen))
    have = src.available()
    if have is not None and have < samples:
        raise UsageError(f"{spec} has {have} images, fewer than {param}={samples}")
    return src
