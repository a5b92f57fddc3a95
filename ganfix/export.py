"""Export a patched generator that works without ganfix.

1. TorchScript: a copy of the generator in which the patched layer is wrapped by `MaskedLayer`
   (α and k are buffers); loads with plain `torch.jit.load` and is verified at export against the
   hooked generator (max abs difference ≤ 1e-5 on a test batch).
2. Weights (safetensors) + patch.json. An ablation folds exactly into the layer's own weights when
   the layer is a conv/linear, or a block whose output is act(scale·conv(x) + b) with act(0) = 0
   (ProGAN blocks): zeroing the unit's weight rows and bias makes the unit output exactly 0.
   (Folding into the *next* ProGAN conv is not exact: the next block starts with a pixel norm, which
   mixes all units.) Folding is always verified numerically; when it does not hold, the unit mask
   is kept as buffers in the exported weights and patch.json says so.
"""
from __future__ import annotations

import copy
import warnings
from dataclasses import dataclass
from pathlib import Path

import torch
from torch import nn

from .atomic import atomic_write_bytes, atomic_write_json, atomic_torch_save
from .errors import UsageError
from .fingerprint import fingerprint_module
from .generator import Generator
from .patch import Patch

EXPORT_TOLERANCE = 1e-5


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
        a = self.alpha.view(shape)
        if self.has_spatial:
            a = a * self.spatial.view(1, 1, self.spatial.shape[0], self.spatial.shape[1])
        return out * (1 - a) + a * self.value.view(shape)


def _set_submodule(root: nn.Module, path: str, new: nn.Module) -> None:
    parent_path, _, name = path.rpartition(".")
    parent = root.get_submodule(parent_path) if parent_path else root
    setattr(parent, name, new)  # keeps the child's name and position (Module.__setattr__ → _modules)


class ExportChain(nn.Sequential):
    """A scriptable chain of named stages (what ganfix's ScriptChain runs from Python), so a generator
    loaded from TorchScript can be patched and exported again with its layer names."""

    def __init__(self, stages: "list[tuple[str, nn.Module]]", reshape_input: bool):
        super().__init__()
        for name, stage in stages:
            self.add_module(name, stage)
        self.reshape_input = reshape_input

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        x = z.reshape(z.shape[0], -1, 1, 1) if self.reshape_input else z
        for stage in self:
            x = stage(x)
        return x


def masked_copy(gen: Generator, patch: Patch) -> nn.Module:
    """A standalone module computing the patched generator (no hooks)."""
    from .loaders.torchscript import ScriptChain

    module = copy.deepcopy(gen.module).cpu().eval()
    if isinstance(module, ScriptChain):
        module = ExportChain([(n, getattr(c, "inner", c)) for n, c in module.named_children()], module.reshape_input)
    alpha, value = patch.dense(gen.layer(patch.layer).units)
    _set_submodule(module, patch.layer, MaskedLayer(module.get_submodule(patch.layer), alpha, value, patch.spatial_tensor()))
    if not isinstance(module, torch.jit.ScriptModule):
        module.z_shape = [int(s) for s in gen.z_shape]  # kept by torch.jit.script: the reload needs no --z-shape
    return module


@torch.no_grad()
def hooked_output(gen: Generator, patch: Patch, z: torch.Tensor) -> torch.Tensor:
    with patch.applied(gen):
        return gen.module(z.to(gen.device)).cpu()


def _to_torchscript(module: nn.Module, z: torch.Tensor) -> torch.jit.ScriptModule:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            return torch.jit.script(module)
        except Exception:  # user modules that script cannot compile: trace on example latents
            return torch.jit.trace(module, (z,), check_trace=False)


@dataclass
class FoldResult:
    folded: bool
    how: str
    state_dict: dict
    max_abs_diff: float | None


def _fold_own_weights(module: nn.Module, layer: str, units: list[int]) -> str | None:
    """Zero the units' output rows and bias in the layer's own weights; return how, or None."""
    target = module.get_submodule(layer)
    idx = torch.tensor(units)
    if isinstance(target, (nn.Conv2d, nn.Linear)):
        target.weight.data[idx] = 0
        if target.bias is not None:
            target.bias.data[idx] = 0
        return f"zeroed output rows {units} of {layer}.weight/bias"
    if isinstance(target, nn.ConvTranspose2d):
        target.weight.data[:, idx] = 0
        if target.bias is not None:
            target.bias.data[idx] = 0
        return f"zeroed output channels {units} of {layer}.weight/bias"
    conv = getattr(target, "conv", None)
    if isinstance(conv, (nn.Conv2d, nn.Linear)) and conv.bias is None and hasattr(getattr(target, "wscale", None), "b"):
        conv.weight.data[idx] = 0
        target.wscale.b.data[idx] = 0
        return f"zeroed {layer}.conv.weight rows and {layer}.wscale.b entries {units} (act(0) = 0)"
    if isinstance(target, nn.Sequential):
        # e.g. (Upsample, Conv, ReLU): zero the last conv's rows; only exact when what follows maps
        # 0 to 0 per channel (ReLU/LeakyReLU/Tanh) — the numerical check decides.
        for i in range(len(target) - 1, -1, -1):
            if isinstance(target[i], (nn.Conv2d, nn.Linear, nn.ConvTranspose2d)):
                out_dim = target[i].weight.shape[1 if isinstance(target[i], nn.ConvTranspose2d) else 0]
                return _fold_own_weights(module, f"{layer}.{i}", units) if max(units) < out_dim else None
    return None


@torch.no_grad()
def fold_ablation(gen: Generator, patch: Patch, z: torch.Tensor, reference: torch.Tensor) -> FoldResult:
    if not patch.is_ablation:
        return FoldResult(False, "insertion (k ≠ 0) cannot be folded into weights; unit mask kept as buffers", {}, None)
    if patch.spatial is not None:
        return FoldResult(False, "a spatially masked patch cannot be folded into conv weights; unit and spatial masks kept as buffers", {}, None)
    module = copy.deepcopy(gen.module).cpu().eval()
    how = _fold_own_weights(module, patch.layer, patch.units)
    if how is None:
        return FoldResult(False, f"{patch.layer} has no own conv/linear weights to fold into; unit mask kept as buffers", {}, None)
    diff = float((module(z) - reference).abs().max())
    if diff > EXPORT_TOLERANCE:
        return FoldResult(False, f"folding into {patch.layer} is not exact here (max diff {diff:.2e}); unit mask kept as buffers", {}, diff)
    return FoldResult(True, how, {k: v.detach().clone().contiguous() for k, v in module.state_dict().items()}, diff)


@dataclass
class ExportResult:
    torchscript: Path
    weights: Path
    patch_json: Path
    state_dict_pt: Path | None
    folded: bool
    fold_how: str
    torchscript_max_abs_diff: float
    weights_max_abs_diff: float | None
    patched_fingerprint: str

    def to_dict(self) -> dict:
        return {k: (str(v) if isinstance(v, Path) else v) for k, v in self.__dict__.items()}


def export_patched(gen: Generator, patch: Patch, out_dir: str | Path, seed: int = 0, test_samples: int = 8) -> ExportResult:
    """Write patched_generator.ts (TorchScript), patched_weights.safetensors (+ .pt in the original
    layout when folded) and patch.json into out_dir; every artifact verified against the hook."""
    from safetensors.torch import save as safetensors_save

    out_dir = Path(out_dir)
    patch.check(gen, force=True)
    z = gen.latents(range(test_samples), seed).cpu()
    reference = hooked_output(gen, patch, z)

    module = masked_copy(gen, patch)
    script = _to_torchscript(module, z)
    diff_ts = float((script(z) - reference).abs().max())
    if diff_ts > EXPORT_TOLERANCE:
        raise UsageError(f"exported TorchScript differs from the hooked generator by {diff_ts:.2e} (> {EXPORT_TOLERANCE}); not written")
    import io
    buf = io.BytesIO()
    with warnings.catch_warnings():  # "torch.jit.save is deprecated": still the portable format plain torch loads
        warnings.simplefilter("ignore", FutureWarning)
        torch.jit.save(script, buf)
    ts_path = atomic_write_bytes(out_dir / "patched_generator.ts", buf.getvalue())

    fold = fold_ablation(gen, patch, z, reference)
    state = fold.state_dict if fold.folded else {k: v.detach().clone().contiguous() for k, v in module.state_dict().items()}
    weights_path = atomic_write_bytes(out_dir / "patched_weights.safetensors", safetensors_save(state))
    pt_path = None
    if fold.folded:  # same layout as the input, so ganfix (or the user's own code) loads it directly
        pt_path = atomic_torch_save(out_dir / "patched_state_dict.pt", state)
    patched_fp = fingerprint_module(module)
    result = ExportResult(ts_path, weights_path, out_dir / "patch.json", pt_path, fold.folded, fold.how, diff_ts,
                          fold.max_abs_diff, patched_fp)
    atomic_write_json(out_dir / "patch.json", {
        **patch.to_json(),
        "export": {
            "torchscript": ts_path.name, "torchscript_max_abs_diff": diff_ts,
            "weights": weights_path.name, "weights_folded": fold.folded, "weights_note": fold.how,
            "weights_max_abs_diff": fold.max_abs_diff, "state_dict_pt": pt_path.name if pt_path else None,
            "verified_on": {"seed": seed, "samples": test_samples, "tolerance": EXPORT_TOLERANCE},
            "z_shape": list(gen.z_shape), "output_range": list(gen.output_range),
            "load": "torch.jit.load('patched_generator.ts')(z) with z ~ N(0, 1) of shape [N, *z_shape]",
        },
    })
    return result
