"""Folding an ablation exactly into the generator's own weights, and which rule applied.

An ablation (α = 1 on the units, k = 0, everywhere) makes those channels of the layer's output exactly
zero. That can be written into the weights, with no mask left over, when the output is produced by:

- `conv-linear-rows`: a Conv/Linear (zero its output rows and bias entries) or a ConvTranspose
  (zero its output columns and bias entries), either as the ablated layer itself or feeding it
  through element-wise modules with f(0) = 0 (ReLU, LeakyReLU, GELU, Tanh, Identity, eval Dropout, …);
- `norm-affine`: an affine BatchNorm/GroupNorm/InstanceNorm in eval mode (γ = 0, β = 0 for those
  channels), itself or through such activations (exact for the norm output and for a following ReLU);
- `progan-block`: a ProGAN block act(scale·conv(x) + b) with act(0) = 0 (zero conv rows and b).

The producing module is found from the data flow of one forward pass (which module's output tensor is
the ablated layer's output, which module's output feeds each activation), never from declaration
order, and every fold is verified numerically against the hooked generator; when it does not hold
(a skip connection also reads the zeroed tensor, tied weights, …) the patch keeps its unit mask as
buffers instead (`mask-buffers`). Partial α, insertion (k ≠ 0) and spatial masks never fold.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import torch
from torch import nn

ROW_LAYERS = (nn.Linear, nn.Conv1d, nn.Conv2d, nn.Conv3d)
COLUMN_LAYERS = (nn.ConvTranspose1d, nn.ConvTranspose2d, nn.ConvTranspose3d)
NORM_LAYERS = (nn.BatchNorm1d, nn.BatchNorm2d, nn.BatchNorm3d, nn.GroupNorm,
               nn.InstanceNorm1d, nn.InstanceNorm2d, nn.InstanceNorm3d)
# Element-wise modules with f(0) = 0 (Dropout: identity in eval mode).
ZERO_PRESERVING = (nn.ReLU, nn.ReLU6, nn.LeakyReLU, nn.PReLU, nn.GELU, nn.SiLU, nn.Mish, nn.ELU, nn.CELU, nn.SELU,
                   nn.Tanh, nn.Softsign, nn.Hardswish, nn.Identity, nn.Dropout, nn.Dropout1d, nn.Dropout2d,
                   nn.Dropout3d, nn.AlphaDropout)


@dataclass
class FoldPlan:
    """How the patch reaches the exported weights. `edits` maps parameter names to their folded values."""

    folded: bool
    rule: str  # conv-linear-rows | norm-affine | progan-block | mask-buffers
    detail: str
    module: str | None = None  # the module whose weights were changed
    via: list[str] = field(default_factory=list)  # the element-wise modules between it and the layer
    edits: dict[str, torch.Tensor] = field(default_factory=dict, repr=False)
    max_abs_diff: dict[int, float] | None = None  # folded vs hooked, per verification batch size

    def to_json(self) -> dict:
        return {"folded": self.folded, "rule": self.rule, "detail": self.detail, "module": self.module,
                "via": self.via, "edited": sorted(self.edits), "max_abs_diff": _keys_to_str(self.max_abs_diff)}


def _keys_to_str(d: dict | None) -> dict | None:
    return None if d is None else {str(k): v for k, v in d.items()}


def not_folded(detail: str) -> FoldPlan:
    return FoldPlan(False, "mask-buffers", detail)


def _zeroed(t: torch.Tensor, idx: torch.Tensor, dim: int = 0) -> torch.Tensor:
    out = t.detach().clone()
    out.index_fill_(dim, idx.to(out.device), 0)
    return out


def _param_name(prefix: str, name: str) -> str:
    return f"{prefix}.{name}" if prefix else name


def direct_rule(name: str, module: nn.Module, units: list[int], channels: int) -> tuple[str, dict, str] | None:
    """(rule, edits, sentence) when `module`'s own output channels can be zeroed in its weights."""
    idx = torch.tensor(units)
    if isinstance(module, ROW_LAYERS) and module.weight.shape[0] == channels:
        edits = {_param_name(name, "weight"): _zeroed(module.weight, idx)}
        if module.bias is not None:
            edits[_param_name(name, "bias")] = _zeroed(module.bias, idx)
        return "conv-linear-rows", edits, f"zeroed output rows {units} of {name}.weight" + ("/bias" if module.bias is not None else "")
    if isinstance(module, COLUMN_LAYERS) and module.groups == 1 and module.weight.shape[1] == channels:
        edits = {_param_name(name, "weight"): _zeroed(module.weight, idx, dim=1)}
        if module.bias is not None:
            edits[_param_name(name, "bias")] = _zeroed(module.bias, idx)
        return "conv-linear-rows", edits, f"zeroed output channels {units} of {name}.weight" + ("/bias" if module.bias is not None else "")
    if isinstance(module, NORM_LAYERS) and module.weight is not None and module.bias is not None \
            and module.weight.shape[0] == channels:
        edits = {_param_name(name, "weight"): _zeroed(module.weight, idx), _param_name(name, "bias"): _zeroed(module.bias, idx)}
        return "norm-affine", edits, f"set γ = 0 and β = 0 of {name} ({type(module).__name__}) for channels {units}"
    conv, wscale = getattr(module, "conv", None), getattr(module, "wscale", None)
    if isinstance(conv, ROW_LAYERS) and conv.bias is None and isinstance(getattr(wscale, "b", None), torch.Tensor) \
            and conv.weight.shape[0] == channels:
        edits = {_param_name(name, "conv.weight"): _zeroed(conv.weight, idx), _param_name(name, "wscale.b"): _zeroed(wscale.b, idx)}
        return "progan-block", edits, f"zeroed {name}.conv.weight rows and {name}.wscale.b entries {units} (act(0) = 0)"
    return None


class _Flow:
    """First call of every submodule in one forward pass: order of start/end, first input, output."""

    def __init__(self, root: nn.Module, z: torch.Tensor):
        self.start: dict[str, int] = {}
        self.end: dict[str, int] = {}
        self.inp: dict[str, object] = {}
        self.out: dict[str, object] = {}
        self.leaf = {n: not any(True for _ in m.children()) for n, m in root.named_modules()}
        clock = [0]
        handles = []

        def pre(name):
            def hook(_m, args):
                if name not in self.start:
                    self.start[name] = clock[0]
                    clock[0] += 1
                    self.inp[name] = args[0] if args else None
            return hook

        def post(name):
            def hook(_m, _args, output):
                if name not in self.end:
                    self.end[name] = clock[0]
                    clock[0] += 1
                    self.out[name] = output
            return hook

        for name, sub in root.named_modules():
            if name and not isinstance(sub, torch.jit.ScriptModule):
                handles += [sub.register_forward_pre_hook(pre(name)), sub.register_forward_hook(post(name))]
        try:
            with torch.no_grad():
                root(z)
        finally:
            for h in handles:
                h.remove()

    def leaf_producing(self, tensor: object, after: int, before: int, exclude: str | None = None) -> str | None:
        """The last leaf module that returned this very tensor object within (after, before)."""
        found = [n for n, o in self.out.items() if o is tensor and n != exclude and self.leaf.get(n)
                 and self.start[n] > after and self.end[n] < before]
        return max(found, key=self.end.__getitem__) if found else None

    def producer(self, tensor: object, before: int) -> str | None:
        """Who computed `tensor` before `before`: the last leaf returning it, else the innermost module."""
        leaf = self.leaf_producing(tensor, -1, before)
        if leaf is not None:
            return leaf
        found = [n for n, o in self.out.items() if o is tensor and self.end[n] < before]
        return min(found, key=self.end.__getitem__) if found else None


def find_fold(root: nn.Module, layer: str, units: list[int], z: torch.Tensor) -> FoldPlan:
    """Walk from the ablated layer back through f(0) = 0 element-wise modules to weights that can be zeroed."""
    flow = _Flow(root, z)
    if layer not in flow.out or not isinstance(flow.out[layer], torch.Tensor):
        return not_folded(f"{layer} produced no tensor output to trace; unit mask kept as buffers")
    shape = flow.out[layer].shape
    channels = shape[1]
    current, via = layer, []
    for _ in range(len(flow.out) + 1):
        module = root.get_submodule(current)
        out = flow.out.get(current)
        if not isinstance(out, torch.Tensor) or out.shape != shape:
            break
        hit = direct_rule(current, module, units, channels)
        if hit is not None:
            rule, edits, sentence = hit
            kinds = " then ".join(type(root.get_submodule(n)).__name__ for n in reversed(via))
            through = f"; {layer} is {kinds} of that output, f(0) = 0" if via else ""
            return FoldPlan(True, rule, sentence + through, current, via, edits)
        if flow.leaf.get(current) and isinstance(module, ZERO_PRESERVING):
            via.append(current)
            nxt = flow.producer(flow.inp.get(current), flow.start[current])
        elif not flow.leaf.get(current):  # a container: who inside it computed its output?
            nxt = flow.leaf_producing(out, flow.start[current], flow.end[current] + 1, exclude=current)
        else:
            nxt = None
        if nxt is None or nxt == current:
            break
        current = nxt
    if type(root.get_submodule(layer)).__name__ == "InterpreterModule":
        return not_folded(f"{layer} is part of a loaded torch.export program (graph modules, no weights to zero "
                          "by rule); unit mask kept as buffers")
    stop = f" (stopped at {current}: {type(root.get_submodule(current)).__name__})" if current != layer else ""
    return not_folded(f"{layer}'s output does not come from conv/linear/norm weights through f(0) = 0 "
                      f"activations{stop}; unit mask kept as buffers")
