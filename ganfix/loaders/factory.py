"""`path/to/file.py:factory` generators (the user's own code, imported and run) and latent-shape inference."""
from __future__ import annotations

import inspect
from pathlib import Path

import torch
from torch import nn

from ..errors import UsageError
from ..user_code import call_factory
from .checkpoint import load_strict, read_state, unwrap_state_dict


def infer_z_shape(module: nn.Module) -> tuple[int, ...] | None:
    module.eval()  # probe as ganfix runs it: in train mode the probe would update BatchNorm running statistics
    for attr in ("z_shape", "latent_shape"):
        if hasattr(module, attr):
            return tuple(int(s) for s in getattr(module, attr))
    dim = None
    for attr in ("z_dim", "latent_dim", "nz", "dim_z", "zdim"):
        if isinstance(getattr(module, attr, None), int):
            dim = getattr(module, attr)
            break
    if dim is None:
        first = next((m for m in module.modules() if isinstance(m, (nn.Linear, nn.Conv2d, nn.ConvTranspose2d))), None)
        if first is None:
            return None
        dim = first.in_features if isinstance(first, nn.Linear) else first.in_channels
    failures = []
    with torch.no_grad():
        for shape in ((dim,), (dim, 1, 1)):
            try:
                module(torch.zeros(1, *shape))
                return shape
            except Exception as exc:  # noqa: BLE001 - the user's forward may raise anything
                failures.append((shape, exc))
    if failures:  # every guess failed: say what the forward said, so a broken module is not blamed on the shape
        from ..generator import exception_line

        tried = "; ".join(f"{[1, *s]}: {exception_line(e, 150)}" for s, e in failures)
        raise UsageError(f"the forward pass failed for every latent shape tried ({tried}); "
                         "fix the module, or pass z_shape= if none of these shapes is right")
    return None


def check_single_input(module: nn.Module, spec: str) -> None:
    """ganfix calls forward(z) with one latent tensor: a forward that needs more (class labels of a
    conditional generator, a noise tensor) is refused in one line saying how to adapt it."""
    try:
        params = list(inspect.signature(module.forward).parameters.values())
    except (TypeError, ValueError):
        return
    required = [p.name for p in params if p.default is inspect.Parameter.empty
                and p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY)]
    if len(required) > 1:
        raise UsageError(f"{spec}: {type(module).__name__}.forward({', '.join(required)}) needs {len(required)} inputs, "
                         "but ganfix calls forward(z) with one latent tensor; return a subclass whose forward(z) calls it "
                         "with the others (e.g. fixed class labels), so the checkpoint still loads")


def load_factory(spec: str, weights: str | None, weights_key: str | None = None, strip_prefix: str | None = None,
                 notes: list[str] | None = None, trust_pickle: bool = False) -> nn.Module:
    module = call_factory(spec, "generator")
    if not isinstance(module, nn.Module):
        raise UsageError(f"{spec}() returned {type(module).__name__}, not a torch.nn.Module")
    check_single_input(module, spec)
    if weights is None and (weights_key or strip_prefix):
        raise UsageError("weights_key= and strip_prefix= read the checkpoint given with weights=; add weights=CKPT")
    if weights is not None:
        wpath = Path(weights)
        state = unwrap_state_dict(read_state(wpath, trust_pickle), wpath, weights_key, strip_prefix, notes)
        load_strict(module, state, wpath)
    return module
