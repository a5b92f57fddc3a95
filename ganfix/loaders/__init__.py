"""Generator specs → Generator, one module per format.

`load_generator(spec)` accepts a built-in name, a torch.export `.pt2` archive, a TorchScript file, a ProGAN state dict in the GAN
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
from .pt2 import is_pt2, load_pt2
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
    weights_key: str | None = None,
    strip_prefix: str | None = None,
    image_shape: Sequence[int] | None = None,
) -> Generator:
    """Load a generator from a spec string (see module docstring).

    `weights_key` (dotted) and `strip_prefix` find the state dict inside a checkpoint (see
    `checkpoint.unwrap_state_dict`); `image_shape` (C, H, W) views flat outputs as images. What was chosen
    (e.g. an EMA copy) is listed in the generator's `notes`."""
    from ..registry import builtin_generators, get_builtin_generator

    from ..preflight import check_z_shape

    check_z_shape(z_shape)
    dev = resolve_device(device)
    out_range = tuple(output_range) if output_range else None
    notes: list[str] = []

    def make(module, shape, rng, weights_file=None) -> Generator:
        g = Generator(module, shape, rng, name=spec, device=dev, image_shape=image_shape)
        g.notes, g.weights_file = notes, weights_file
        return g

    builtin = get_builtin_generator(spec)
    if builtin is not None:
        module = builtin.build()
        return make(module, z_shape or builtin.z_shape, out_range or builtin.output_range)

    if is_factory_spec(spec):
        module = load_factory(spec, weights, weights_key, strip_prefix, notes, trust_pickle)
        shape = tuple(z_shape) if z_shape else infer_z_shape(module)
        if shape is None:
            raise UsageError(f"cannot tell the latent shape of {spec}; pass z_shape= (e.g. z_shape=128,1,1)")
        g = make(module, shape, out_range or (-1.0, 1.0), weights)
        g.code_identity = factory_identity(spec)
        return g

    path = Path(spec)
    if weights is not None:
        raise UsageError("weights= is only for file.py:factory specs; a checkpoint path is the generator spec itself")
    if not path.exists():
        names = ", ".join(sorted(builtin_generators())) or "none"
        raise UsageError(f"generator {spec!r} is neither a file nor a built-in name (built-in: {names}; or file.py:factory)")
    if path.suffix == ".pkl":
        if not trust_pickle:
            raise UsageError(f"{path} is a pickle that runs code when loaded; re-run with trust_pickle=True only if you trust it")
        obj = read_state(path, trust_pickle=True)
        g = obj.get("G_ema") or obj.get("g_ema") if isinstance(obj, dict) else obj
        if not isinstance(g, nn.Module):
            raise UsageError(f"{path} holds no generator module (expected a dict with G_ema, or a module)")
        module = StyleGANAdapter(g) if hasattr(g, "z_dim") and hasattr(g, "c_dim") else g
        shape = tuple(z_shape) if z_shape else infer_z_shape(module)
        if shape is None:
            raise UsageError(f"cannot tell the latent shape of {spec}; pass z_shape=")
        return make(module, shape, out_range or (-1.0, 1.0), spec)
    if path.is_file() and is_pt2(path):
        module, shape, recorded = load_pt2(path, z_shape, trust_pickle)
        g = make(module, shape, out_range or recorded.get("output_range") or (-1.0, 1.0), spec)
        g.code_identity = recorded["code_identity"]
        if g.reshape is None and recorded.get("image_shape"):  # a flat-output generator exported by ganfix
            g.reshape = recorded["image_shape"]
        return g
    if path.is_file() and is_torchscript(path):
        module, shape = load_torchscript(path, z_shape, dev)
        return make(module, shape, out_range or (-1.0, 1.0), spec)

    state = unwrap_state_dict(read_state(path, trust_pickle), path, weights_key, strip_prefix, notes)
    if not looks_like_progan(state):
        raise UsageError(f"{path} is not a ProGAN state dict in the GAN Dissection layout (layer1…, output_RxR); "
                         "for other architectures use path/to/model.py:factory with weights=CKPT")
    try:
        module = progan_from_state_dict(state)
    except (ValueError, RuntimeError, KeyError, IndexError, TypeError) as exc:
        raise UsageError(f"{path}: ProGAN state dict is inconsistent: {one_line(exc)}") from None
    shape = tuple(z_shape) if z_shape else (module.z_dim,)
    return make(module, shape, out_range or (-1.0, 1.0), spec)
