"""The patched generator as a plain module (no ganfix hooks needed at run time), built in place.

`patched_in_place(module, patch, plan)` changes the user's module only inside the `with` block and
always restores it: with a folded plan the edited weights are swapped in; otherwise the unit mask
becomes buffers of the patched layer (`<layer>.ganfix_alpha`, `.ganfix_value`, `.ganfix_spatial`) and a
forward hook on that layer computes r' = r·(1 − α) + α·k there. torch.export records the hook's
operations inside the layer, so the exported program keeps every original layer name (the layer's
output is the patched one, as under `patch.applied`). TorchScript cannot compile Python hooks, so
`wrapped_in_place` puts the layer inside a scriptable `MaskedLayer` instead (its name gains `.inner`).
"""
from __future__ import annotations

from contextlib import contextmanager
from typing import Iterator

import torch
from torch import nn

from ..patch import Patch
from .fold import FoldPlan


class MaskedLayer(nn.Module):
    """Wraps a layer: out·(1 − α) + α·k with per-unit α, k buffers (broadcast over positions)."""

    def __init__(self, inner: nn.Module, alpha: torch.Tensor, value: torch.Tensor, spatial: torch.Tensor | None = None):
        super().__init__()
        self.inner = inner
        self.register_buffer("alpha", alpha.clone().float())
        self.register_buffer("value", value.clone().float())
        # [H, W] spatial mask; all ones when the patch acts everywhere (one code path for script).
        self.has_spatial = spatial is not None
        self.register_buffer("spatial", spatial.clone().float() if spatial is not None else torch.ones(1, 1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.inner(x)
        shape = [1, -1] + [1] * (out.dim() - 2)
        a = self.alpha.view(shape).to(out.dtype)
        if self.has_spatial:
            a = a * self.spatial.view(1, 1, self.spatial.shape[0], self.spatial.shape[1]).to(out.dtype)
        return out * (1 - a) + a * self.value.view(shape).to(out.dtype)


def set_submodule(root: nn.Module, path: str, new: nn.Module) -> None:
    parent_path, _, name = path.rpartition(".")
    parent = root.get_submodule(parent_path) if parent_path else root
    setattr(parent, name, new)  # keeps the child's name and position (Module.__setattr__ → _modules)


def _free_name(module: nn.Module, base: str) -> str:
    name, i = base, 1
    while hasattr(module, name):  # a re-export of an already patched export: keep both masks
        name, i = f"{base}_{i}", i + 1
    return name


@contextmanager
def _swapped(module: nn.Module, edits: dict[str, torch.Tensor]) -> Iterator[None]:
    tensors = dict(module.named_parameters())
    tensors.update(module.named_buffers())
    saved = {}
    try:
        for name, value in edits.items():
            t = tensors[name]
            saved[name] = t.data
            t.data = value.to(t.device, t.dtype)
        yield
    finally:
        for name, data in saved.items():
            tensors[name].data = data


@contextmanager
def _masked(module: nn.Module, patch: Patch, num_units: int) -> Iterator[None]:
    layer = module.get_submodule(patch.layer)
    alpha, value = patch.dense(num_units)
    spatial = patch.spatial_tensor()
    names = {"alpha": _free_name(layer, "ganfix_alpha"), "value": _free_name(layer, "ganfix_value")}
    device = next((t.device for t in module.state_dict().values()), torch.device("cpu"))
    layer.register_buffer(names["alpha"], alpha.to(device))
    layer.register_buffer(names["value"], value.to(device))
    if spatial is not None:
        names["spatial"] = _free_name(layer, "ganfix_spatial")
        layer.register_buffer(names["spatial"], spatial.to(device))

    def hook(mod, _inp, out):  # the arithmetic of ganfix.hooks.Intervention, from buffers
        view = [1, out.shape[1]] + [1] * (out.dim() - 2)
        a = getattr(mod, names["alpha"]).to(out.dtype).view(view)
        if "spatial" in names:
            sp = getattr(mod, names["spatial"]).to(out.dtype)
            a = a * sp.view(1, 1, sp.shape[0], sp.shape[1])
        return out * (1 - a) + a * getattr(mod, names["value"]).to(out.dtype).view(view)

    handle = layer.register_forward_hook(hook)
    try:
        yield
    finally:
        handle.remove()
        for name in names.values():
            delattr(layer, name)


@contextmanager
def patched_in_place(module: nn.Module, patch: Patch, plan: FoldPlan, num_units: int) -> Iterator[nn.Module]:
    """`module` computing the patched generator inside the block (folded weights, or mask buffers + hook)."""
    ctx = _swapped(module, plan.edits) if plan.folded else _masked(module, patch, num_units)
    with ctx:
        yield module


@contextmanager
def wrapped_in_place(module: nn.Module, patch: Patch, plan: FoldPlan, num_units: int) -> Iterator[nn.Module]:
    """For TorchScript: folded weights, or the patched layer wrapped in a `MaskedLayer`."""
    if plan.folded:
        with _swapped(module, plan.edits):
            yield module
        return
    original = module.get_submodule(patch.layer)
    alpha, value = patch.dense(num_units)
    set_submodule(module, patch.layer, MaskedLayer(original, alpha, value, patch.spatial_tensor()))
    try:
        yield module
    finally:
        set_submodule(module, patch.layer, original)
