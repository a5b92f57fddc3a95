"""Registries of built-in generators and segmenters, looked up by name.

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


@dataclass
class BuiltinSegmenter:
    name: str
    build: Callable[[], "object"]  # returns a ganfix.segmenters.Segmenter
    description: str = ""


_generators: dict[str, BuiltinGenerator] = {}
_segmenters: dict[str, BuiltinSegmenter] = {}
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


def register_generator(entry: BuiltinGenerator) -> None:
    _generators[entry.name] = entry


def register_segmenter(entry: BuiltinSegmenter) -> None:
    _segmenters[entry.name] = entry


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
