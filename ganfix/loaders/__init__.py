"""Generator specs → Generator, one module per format.

`load_generator(spec)` accepts a built-in name, a TorchScript file, a ProGAN state dict in the GAN
Dissection layout, a StyleGAN-style pickle (only with trust_pickle) or `path/to/file.py:factory`
(with `weights=`). Checkpoints load with `torch.load(..., weights_only=True)`.
"""
from __future__ import annotations

from pathlib import Path
from typing import Sequence

import torch
from torch import nn

from ..errors import UsageError
from ..generator import Generator, resolve_device
from ..models.progan import looks_like_progan, progan_from_state_dict
from ..user_code import factory_identity, is_factory_spec
from .checkpoint import one_line, read_state, unwrap_state_dict
from .factory import infer_z_shape, load_factory
from .stylegan_pickle import StyleGANAdapter
from .torchscript import is_torchscript, load_torchscript

__all__ = ["load_generator"]


def load_generator(
    spec: str,
    *,
    weights: str | None = None,
    z_shape: Sequence[int] | None = None,
    output_range: Sequence[float] | None = None,
    device: str | torch.device | None = None,
    trust_pickle: bool = False,
) -> Generator:
    """Load a generator from a spec string (see module docstring)."""
    from ..registry import builtin_generators, get_builtin_generator

    dev = resolve_device(device)
    out_range = tuple(output_range) if output_range else None
    builtin = get_builtin_generator(spec)
    if builtin is not None:
        module = builtin.build()
        return Generator(module, z_shape or builtin.z_shape, out_range or builtin.output_range, name=spec, device=dev)

    if is_factory_spec(spec):
        module = load_factory(spec, weights, trust_pickle)
        shape = tuple(z_shape) if z_shape else infer_z_shape(module)
        if shape is None:
            raise UsageError(f"cannot tell the latent shape of {spec}; pass --z-shape (e.g. --z-shape 128,1,1)")
        return Generator(module, shape, out_range or (-1.0, 1.0), name=spec, device=dev,
                         code_identity=factory_identity(spec))

    path = Path(spec)
    if weights is not None:
        raise UsageError("--weights is only for file.py:factory specs; a checkpoint path is the GEN itself")
    if not path.exists():
        names = ", ".join(sorted(builtin_generators())) or "none"
        raise UsageError(f"generator {spec!r} is neither a file nor a built-in name (built-in: {names}; or file.py:factory)")
    if path.suffix == ".pkl":
        if not trust_pickle:
            raise UsageError(f"{path} is a pickle that runs code when loaded; re-run with --trust-pickle only if you trust it")
        obj = read_state(path, trust_pickle=True)
        g = obj.get("G_ema") or obj.get("g_ema") if isinstance(obj, dict) else obj
        if not isinstance(g, nn.Module):
            raise UsageError(f"{path} holds no generator module (expected a dict with G_ema, or a module)")
        module = StyleGANAdapter(g) if hasattr(g, "z_dim") and hasattr(g, "c_dim") else g
        shape = tuple(z_shape) if z_shape else infer_z_shape(module)
        if shape is None:
            raise UsageError(f"cannot tell the latent shape of {spec}; pass --z-shape")
        return Generator(module, shape, out_range or (-1.0, 1.0), name=spec, device=dev)
    if path.is_file() and is_torchscript(path):
        module, shape = load_torchscript(path, z_shape, dev)
        return Generator(module, shape, out_range or (-1.0, 1.0), name=spec, device=dev)

    state = unwrap_state_dict(read_state(path, trust_pickle), path)
    if not looks_like_progan(state):
        raise UsageError(f"{path} is not a ProGAN state dict in the GAN Dissection layout (layer1…, output_RxR); "
                         "for other architectures use path/to/model.py:factory --weights ckpt")
    try:
        module = progan_from_state_dict(state)
    except (ValueError, RuntimeError, KeyError, IndexError, TypeError) as exc:
        raise UsageError(f"{path}: ProGAN state dict is inconsistent: {one_line(exc)}") from None
    shape = tuple(z_shape) if z_shape else (module.z_dim,)
    return Generator(module, shape, out_range or (-1.0, 1.0), name=spec, device=dev)
