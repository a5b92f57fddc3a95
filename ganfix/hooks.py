"""Hooks on named layers, as context managers that always unhook (even on error).

- `Trace` retains named layers' outputs; with `stop=True` the forward pass is cut short as soon as
  every requested layer has been seen, so a statistics pass never pays for the layers after it.
- `Intervention` rewrites a layer's output as r' = r·(1 − α) + α·k, with α = unit mask ⊗ spatial
  mask (both in [0, 1]) and k a scalar or per-unit value. Ablation is k = 0; insertion k > 0.
"""
from __future__ import annotations

from contextlib import ExitStack
from typing import Iterable, Sequence

import torch
from torch import nn

from .errors import UsageError


class _StopForward(Exception):
    """Raised inside a hook to end the forward pass early; caught by Trace.run."""


def _get_layer(module: nn.Module, name: str) -> nn.Module:
    try:
        return module.get_submodule(name)
    except AttributeError:
        names = [n for n, _ in module.named_children()]
        raise UsageError(f"unknown layer {name!r}; valid layers: {', '.join(names)}") from None


class Trace:
    """Retain the outputs of `layers` during a forward pass.

        with Trace(gen.module, ["layer4"]) as trace:
            acts = trace.run(z)["layer4"]

    Bare use works too: `with Trace(gen.module, ["layer4"]) as tr: gen(z)` ends the block when
    layer4 has run (stop=True) and `tr["layer4"]` holds its output.
    """

    def __init__(self, module: nn.Module, layers: Sequence[str] | str, stop: bool = True, detach: bool = True):
        self.module = module
        self.layers = [layers] if isinstance(layers, str) else list(layers)
        self.stop = stop
        self.detach = detach
        self.outputs: dict[str, torch.Tensor] = {}
        self._handles: list = []

    def __enter__(self) -> "Trace":
        try:
            for name in self.layers:
                self._handles.append(_get_layer(self.module, name).register_forward_hook(self._hook(name)))
        except BaseException:
            self.close()
            raise
        return self

    def _hook(self, name: str):
        def hook(_mod, _inp, out):
            if name in self.outputs:  # a module called twice: keep its first output
                return
            self.outputs[name] = out.detach() if self.detach else out
            if self.stop and len(self.outputs) == len(self.layers):
                raise _StopForward
        return hook

    def run(self, *inputs, **kwargs) -> dict[str, torch.Tensor]:
        """Forward `inputs`; returns {layer: output}. With stop=True, the model's output is not computed."""
        self.outputs = {}
        try:
            self.output = self.module(*inputs, **kwargs)
        except _StopForward:
            self.output = None
        missing = [n for n in self.layers if n not in self.outputs]
        if missing:
            raise UsageError(f"layer(s) {', '.join(missing)} produced no output in the forward pass")
        return self.outputs

    def __getitem__(self, name: str) -> torch.Tensor:
        return self.outputs[name]

    def close(self) -> None:
        for h in self._handles:
            h.remove()
        self._handles = []

    def __exit__(self, exc_type, exc, tb) -> bool:
        self.close()
        # Used bare (`with Trace(m, ["layer4"]): m(z)`), the early stop ends the block quietly
        # and the retained outputs stay readable; the private exception never leaks.
        return exc_type is not None and issubclass(exc_type, _StopForward)


def unit_mask(units: Iterable[int] | torch.Tensor, num_units: int, device=None) -> torch.Tensor:
    """[num_units] float mask with 1 at the given unit indices (or pass a float mask through)."""
    if isinstance(units, torch.Tensor) and units.dtype.is_floating_point:
        if units.shape != (num_units,):
            raise UsageError(f"unit mask must have {num_units} entries, got {tuple(units.shape)}")
        return units.to(device)
    idx = torch.as_tensor(list(units) if not isinstance(units, torch.Tensor) else units, dtype=torch.long)
    if idx.numel() and (idx.min() < 0 or idx.max() >= num_units):
        bad = [int(u) for u in idx if u < 0 or u >= num_units]
        raise UsageError(f"unit index out of range (0…{num_units - 1}): {', '.join(map(str, bad))}")
    mask = torch.zeros(num_units, device=device)
    mask[idx.to(mask.device)] = 1.0
    return mask


class Intervention:
    """Rewrite one layer's output: r' = r·(1 − α) + α·k.

    units:   unit indices or a float mask [d] in [0, 1] (soft masks are allowed, e.g. for optimising).
    value:   k, a scalar or a per-unit tensor [d] (ablation: 0).
    spatial: optional mask broadcastable to [N, 1, H, W] (or [H, W]) in [0, 1] at the layer's resolution.
    """

    def __init__(self, module: nn.Module, layer: str, units, value: float | torch.Tensor = 0.0,
                 spatial: torch.Tensor | None = None):
        self.module = module
        self.layer = layer
        self.units = units
        self.value = value
        self.spatial = spatial
        self._handle = None

    def _alpha_and_value(self, out: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        d = out.shape[1]
        extra = out.dim() - 2
        alpha = unit_mask(self.units, d, out.device).to(out.dtype).view(1, d, *([1] * extra))
        if self.spatial is not None:
            if extra != 2:
                raise UsageError(f"layer {self.layer} has no spatial maps (output shape {tuple(out.shape[1:])}); "
                                 "a spatial mask needs a [N, C, H, W] layer")
            sp = self.spatial.to(out.device, out.dtype)
            if sp.dim() == 2:
                sp = sp[None, None]
            elif sp.dim() == 3:
                sp = sp[:, None]
            if sp.shape[-2:] != out.shape[-2:]:
                raise UsageError(f"spatial mask is {tuple(sp.shape[-2:])} but {self.layer} is {tuple(out.shape[-2:])}")
            alpha = alpha * sp
        value = torch.as_tensor(self.value, dtype=out.dtype, device=out.device)
        if value.dim() == 1:
            value = value.view(1, d, *([1] * extra))
        return alpha, value

    def apply(self, out: torch.Tensor) -> torch.Tensor:
        alpha, value = self._alpha_and_value(out)
        return out * (1 - alpha) + alpha * value

    def __enter__(self) -> "Intervention":
        self._handle = _get_layer(self.module, self.layer).register_forward_hook(lambda _m, _i, out: self.apply(out))
        return self

    def __exit__(self, *exc) -> None:
        if self._handle is not None:
            self._handle.remove()
            self._handle = None


class Interventions:
    """Several interventions at once (one context manager)."""

    def __init__(self, interventions: Iterable[Intervention]):
        self.items = list(interventions)
        self._stack: ExitStack | None = None

    def __enter__(self) -> "Interventions":
        self._stack = ExitStack()
        try:
            for item in self.items:
                self._stack.enter_context(item)
        except BaseException:
            self._stack.close()
            raise
        return self

    def __exit__(self, *exc) -> None:
        if self._stack is not None:
            self._stack.close()
            self._stack = None
