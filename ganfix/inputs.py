"""Checked inputs shared by the workflows: the real images a generator is scored against, its feature
extractor, sample counts. Each raises UsageError naming the Python parameter (`samples=0 …`); the CLI
turns those names into its flags."""
from __future__ import annotations

from typing import Optional

from . import defaults
from .errors import UsageError
from .generator import Generator
from .real_data import RealSource


def at_least(name: str, value: int, minimum: int) -> int:
    if value < minimum:
        raise UsageError(f"{name} must be at least {minimum}, got {value}")
    return value


def features_name(gen: Generator, features: Optional[str]) -> str:
    """The extractor's name: as given, else the generator's default (see ganfix.defaults.features_for)."""
    return features if features is not None else defaults.features_for(gen)


def check_features(gen: Generator, features: Optional[str], inception_weights: Optional[str] = None,
                   offline: Optional[bool] = None) -> str:
    """Resolve the extractor now, so a missing weights file fails before any work."""
    from .extractors import resolve_extractor
    from .real_sets import offline_features_for

    name = features_name(gen, features)
    resolve_extractor(name, inception_weights, offline, offline_features_for(gen))
    return name


def open_real(gen: Generator, real, real_seed: int, samples: int, param: str = "samples") -> RealSource:
    """The real images (a folder, 'world', or a RealSource) fitted to the generator's output, with at least
    `samples` of them; required for generators that do not name their own (see ganfix.real_sets)."""
    from .real_sets import real_source_for

    if isinstance(real, RealSource):
        have = real.available()
        if have is not None and have < samples:
            raise UsageError(f"{real.location} has {have} images, fewer than {param}={samples}")
        return real
    return real_source_for(gen, real, real_seed, samples=samples)
