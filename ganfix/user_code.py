"""Loading user code named as `path/to/file.py:factory` (generators, segmenters, feature extractors).

This imports and runs that file, with the user's privileges: it is meant for the user's own code
(the README and --help say so). Checkpoints, by contrast, never run code unless --trust-pickle."""
from __future__ import annotations

import hashlib
import importlib.util
from pathlib import Path

from .errors import UsageError


def _one_line(exc: BaseException, limit: int = 400) -> str:
    text = "; ".join(p.strip() for p in str(exc).splitlines() if p.strip())
    return text if len(text) <= limit else text[:limit] + "…"


def is_factory_spec(spec: str) -> bool:
    if ":" not in spec:
        return False
    file_part, name = spec.rsplit(":", 1)
    return file_part.endswith(".py") and name.isidentifier()


def factory_identity(spec: str) -> str:
    """What a file.py:factory spec's code is: the sha256 of the file's bytes and the factory's name
    (not its path: the same file elsewhere is the same model)."""
    file_part, factory_name = spec.rsplit(":", 1)
    try:
        digest = hashlib.sha256(Path(file_part).read_bytes()).hexdigest()
    except OSError as exc:
        raise UsageError(f"cannot read {file_part}: {exc.strerror or exc}") from None
    return f"factory {factory_name} in file sha256 {digest}"


def call_factory(spec: str, what: str = "generator") -> object:
    """Import file.py (under a unique module name) and return factory(); every failure is one line."""
    file_part, factory_name = spec.rsplit(":", 1)
    path = Path(file_part)
    if not path.is_file():
        raise UsageError(f"{what} file not found: {path}")
    mod_name = f"ganfix_user_{what}_{abs(hash(str(path.resolve())))}"
    loader_spec = importlib.util.spec_from_file_location(mod_name, path)
    if loader_spec is None or loader_spec.loader is None:
        raise UsageError(f"cannot import {path} as a Python module")
    user_mod = importlib.util.module_from_spec(loader_spec)
    try:
        loader_spec.loader.exec_module(user_mod)
    except Exception as exc:
        raise UsageError(f"importing {path} failed: {type(exc).__name__}: {_one_line(exc)}") from None
    factory = getattr(user_mod, factory_name, None)
    if factory is None or not callable(factory):
        callables = [n for n, v in vars(user_mod).items() if callable(v) and not n.startswith("_")
                     and getattr(v, "__module__", None) == mod_name]
        raise UsageError(f"factory {factory_name!r} not found in {path}; callables there: {', '.join(callables) or 'none'}")
    try:
        return factory()
    except Exception as exc:
        raise UsageError(f"{path}:{factory_name}() failed: {type(exc).__name__}: {_one_line(exc)}") from None
