"""Registries of built-in generators, segmenters and feature extractors, looked up by name.

Built-ins register themselves from the modules in BUILTIN_MODULES, imported on first lookup so
that `import ganfix` stays cheap.
"""
from __future__ import annotations

import importlib
from dataclasses import dataclass, field
from typing import Callable

from torch import nn

from .errors import UsageError

BUILTIN_MODULES = ["ganfix.world.builtin"]


@dataclass
class BuiltinGenerator:
    name: str
    build: Callable[[], nn.Module]  # returns the module with its weights loaded
    z_shape: tuple[int, ...]
    output_range: tuple[float, float] = (-1.0, 1.0)
    description: str = ""
    fingerprint: str | None = None  # recorded fingerprint of the shipped weights (verified in tests)
    default_real: str | None = None  # the real set scored against when --real is not given (e.g. "world")
    offline_features: str | None = None  # an extractor that fits it and needs no download (e.g. "toyscenes")
    default_segmenter: str | None = None  # the segmenter dissect/ace/iou use when none is given (e.g. "toyscenes")


@dataclass
class BuiltinSegmenter:
    name: str
    build: Callable[[], "object"]  # returns a ganfix.segmenters.Segmenter
    description: str = ""


@dataclass
class BuiltinExtractor:
    """A feature extractor that ships with ganfix and registers itself with torch-fidelity on first use."""
    name: str
    ensure_registered: Callable[[], None]          # registers it with torch-fidelity (idempotent)
    weights_digest: Callable[[], str | None] = lambda: None  # identity of its weights, part of feature cache keys
    description: str = ""
    # The feature FID/KID use, when known without torch-fidelity: then registration (which imports
    # torch-fidelity, torchvision and torch._dynamo, seconds) waits until features are really extracted.
    feature_layer: str | None = None
    check: Callable[[], None] = lambda: None  # raises UsageError when it cannot be built (e.g. weights missing)


_generators: dict[str, BuiltinGenerator] = {}
_segmenters: dict[str, BuiltinSegmenter] = {}
_extractors: dict[str, BuiltinExtractor] = {}
_loaded = False


def _load_builtins() -> None:
    global _loaded
    if _loaded:
        return
    _loaded = True
    for mod in BUILTIN_MODULES:
        try:
            importlib.import_module(mod)
        except ModuleNotFoundError as exc:  # a built-in module not present in this install
            if exc.name != mod:
                raise


def _add(table: dict, entry, kind: str) -> None:
    if entry.name in table:
        raise ValueError(f"a {kind} named {entry.name!r} is already registered")
    table[entry.name] = entry


def register_generator(entry: BuiltinGenerator) -> None:
    _add(_generators, entry, "generator")


def register_segmenter(entry: BuiltinSegmenter) -> None:
    _add(_segmenters, entry, "segmenter")


def register_extractor(entry: BuiltinExtractor) -> None:
    _add(_extractors, entry, "feature extractor")


def get_builtin_extractor(name: str) -> BuiltinExtractor | None:
    _load_builtins()
    return _extractors.get(name)


def builtin_extractors() -> dict[str, BuiltinExtractor]:
    _load_builtins()
    return dict(_extractors)


def builtin_generators() -> dict[str, BuiltinGenerator]:
    _load_builtins()
    return dict(_generators)


def builtin_segmenters() -> dict[str, BuiltinSegmenter]:
    _load_builtins()
    return dict(_segmenters)


def get_builtin_generator(name: str) -> BuiltinGenerator | None:
    _load_builtins()
    return _generators.get(name)


def get_builtin_segmenter(name: str) -> BuiltinSegmenter:
    _load_builtins()
    if name not in _segmenters:
        raise UsageError(f"unknown segmenter {name!r}; built-in: {', '.join(sorted(_segmenters)) or 'none'} (or give path/to/file.py:factory)")
    return _segmenters[name]
