"""What kind of module each layer is, and which layers a normalization follows.

Ablating (zeroing) a unit just before a normalization does not switch it off: BatchNorm (in eval mode)
maps the zeroed channel to its bias-shifted constant, InstanceNorm/LayerNorm re-normalize. Patches on
such layers are warned about, pointing to the post-activation layer after the normalization, where a
zero is a zero that the next layer sees.
"""
from __future__ import annotations

import re

from torch import nn

NORM_TYPES = (nn.modules.batchnorm._BatchNorm, nn.modules.instancenorm._InstanceNorm, nn.LayerNorm, nn.GroupNorm)
# Purely divisive norms keep a zeroed channel at zero (ProGAN's PixelNorm x/√mean(x²), LocalResponseNorm):
# ablating before them does switch the unit off (GAN Dissection ablates ProGAN's layer4 right before one).
ZERO_PRESERVING_NORMS = {"PixelNorm", "LocalResponseNorm"}
ACTIVATION_TYPES = (nn.ReLU, nn.LeakyReLU, nn.PReLU, nn.ELU, nn.SELU, nn.GELU, nn.SiLU, nn.Tanh, nn.Sigmoid,
                    nn.Softplus, nn.Mish, nn.Hardtanh, nn.ReLU6)


def _module(gen, name: str) -> nn.Module | None:
    try:
        return gen.module.get_submodule(name)
    except AttributeError:
        return None


def module_type(gen, name: str) -> str:
    m = _module(gen, name)
    if m is None:
        return "?"
    inner = getattr(m, "inner", None)  # ganfix's wrapper around a scripted stage
    m = inner if isinstance(inner, nn.Module) else m
    return getattr(m, "original_name", None) or type(m).__name__


def _is(gen, name: str, types) -> bool:
    m = _module(gen, name)
    # Scripted or custom norms (PixelNorm, BatchNorm2d in a TorchScript file) are known by their class name.
    # A .pt2 export's modules carry their recorded class name (ganfix.loaders.pt2) as original_name.
    if types is NORM_TYPES and module_type(gen, name) in ZERO_PRESERVING_NORMS:
        return False
    return isinstance(m, types) or (types is NORM_TYPES and re.search(r"Norm(\d+d)?$", module_type(gen, name)) is not None) \
        or (m is not None and getattr(m, "original_name", None) in {t.__name__ for t in types})


def _after(gen, name: str) -> list[str]:
    """Layers that run after `name`, in execution order, without its ancestors (containers finish later)."""
    names = list(gen.layers)
    if name not in names:
        return []
    return [n for n in names[names.index(name) + 1:] if not name.startswith(n + ".")]


def norm_after(gen, name: str) -> str | None:
    """The normalization layer that directly follows `name`, if one does."""
    if _is(gen, name, NORM_TYPES):
        return None
    nxt = _after(gen, name)
    return nxt[0] if nxt and _is(gen, nxt[0], NORM_TYPES) else None


def post_activation(gen, norm: str) -> str | None:
    """The first activation layer after the normalization `norm` (where ablation switches a unit off)."""
    nxt = _after(gen, norm)
    for n in nxt[:3]:
        if _is(gen, n, ACTIVATION_TYPES):
            return n
    return None


def layer_note(gen, name: str) -> str:
    norm = norm_after(gen, name)
    if norm is None:
        return ""
    act = post_activation(gen, norm)
    return f"before {module_type(gen, norm)} ({norm})" + (f": ablate {act} instead" if act else "")


def patch_warning(gen, layer: str) -> str | None:
    """A warning for a patch on a layer that a normalization follows, or None."""
    norm = norm_after(gen, layer)
    if norm is None:
        return None
    act = post_activation(gen, norm)
    return (f"warning: {layer} is followed by {module_type(gen, norm)} ({norm}), which re-normalizes its units, so "
            f"ablating them does not switch them off" + (f"; patch the post-activation layer {act} instead" if act else ""))
