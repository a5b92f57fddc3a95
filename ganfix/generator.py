"""A loaded generator: module + deterministic latent sampler + output range + named layers + fingerprint.

Loading specs (built-in names, checkpoints, TorchScript, file.py:factory) lives in `ganfix.loaders`;
`load_generator` is re-exported here for convenience.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Iterable, Sequence

import torch
from torch import nn

from .errors import UsageError
from .fingerprint import fingerprint_module
from .latents import sample_latents


@dataclass(frozen=True)
class LayerInfo:
    name: str
    shape: tuple[int, ...]  # per-sample output shape: (C, H, W) for feature maps, (C,) for vectors
    top_level: bool = False

    @property
    def units(self) -> int:
        return self.shape[0]

    @property
    def spatial(self) -> bool:
        return len(self.shape) == 3


def resolve_device(device: str | torch.device | None) -> torch.device:
    if device is None or device == "":
        if not torch.cuda.is_available():
            return torch.device("cpu")
        # under torchrun each process takes the GPU of its local rank
        from .distributed import launched, local_rank

        return torch.device(f"cuda:{local_rank()}" if launched() else "cuda")
    try:
        dev = torch.device(device)
    except (RuntimeError, TypeError):
        raise UsageError(f"unknown device {device!r}; use cpu or cuda[:index]") from None
    if dev.type == "cuda" and not torch.cuda.is_available():
        raise UsageError(f"--device {device}: no CUDA GPU is available here; use --device cpu")
    return dev


class Generator:
    """A generator ready for analysis. Call it on latents; address samples by (seed, id)."""

    def __init__(
        self,
        module: nn.Module,
        z_shape: Sequence[int],
        output_range: Sequence[float] = (-1.0, 1.0),
        name: str = "generator",
        device: str | torch.device | None = "cpu",
    ):
        self.device = resolve_device(device)
        self.module = module.to(self.device).eval()
        for p in self.module.parameters():
            p.requires_grad_(False)
        self.z_shape = tuple(int(s) for s in z_shape)
        lo, hi = (float(v) for v in output_range)
        if not hi > lo:
            raise UsageError(f"--output-range must be lo,hi with lo < hi, got {lo},{hi}")
        self.output_range = (lo, hi)
        self.name = name
        self._fingerprint: str | None = None
        self._layers: dict[str, LayerInfo] | None = None

    # -- identity -------------------------------------------------------------------------------
    @property
    def fingerprint(self) -> str:
        if self._fingerprint is None:
            self._fingerprint = fingerprint_module(self.module)
        return self._fingerprint

    # -- sampling -------------------------------------------------------------------------------
    def latents(self, ids: Iterable[int] | torch.Tensor, seed: int) -> torch.Tensor:
        return sample_latents(ids, seed, self.z_shape).to(self.device)

    @torch.no_grad()
    def __call__(self, z: torch.Tensor) -> torch.Tensor:
        return self.module(z)

    @torch.no_grad()
    def generate(self, ids: Sequence[int], seed: int, batch_size: int = 64) -> torch.Tensor:
        ids = list(ids)
        outs = [self.module(self.latents(ids[i : i + batch_size], seed)) for i in range(0, len(ids), batch_size)]
        return torch.cat(outs) if outs else torch.empty(0)

    def to_signed(self, images: torch.Tensor) -> torch.Tensor:
        """Map the output range to [-1, 1] (clamped): the convention of segmenters and sheets."""
        lo, hi = self.output_range
        return ((images - lo) / (hi - lo) * 2 - 1).clamp(-1, 1)

    def to_uint8(self, images: torch.Tensor) -> torch.Tensor:
        lo, hi = self.output_range
        return ((images - lo) / (hi - lo) * 255).round().clamp(0, 255).to(torch.uint8)

    # -- layers ---------------------------------------------------------------------------------
    @property
    def layers(self) -> dict[str, LayerInfo]:
        """Every named submodule with a tensor output, in execution order (probed once on sample 0)."""
        if self._layers is None:
            self._layers = probe_layers(self.module, self.latents([0], 0))
        return self._layers

    def top_layers(self) -> dict[str, LayerInfo]:
        return {k: v for k, v in self.layers.items() if v.top_level}

    def layer(self, name: str) -> LayerInfo:
        layers = self.layers
        if name not in layers:
            valid = list(self.top_layers()) or list(layers)
            raise UsageError(f"unknown layer {name!r}; valid layers: {', '.join(valid)} (see `ganfix layers`)")
        return layers[name]

    def check_units(self, layer: str, units: Iterable[int]) -> list[int]:
        info = self.layer(layer)
        units = [int(u) for u in units]
        bad = [u for u in units if u < 0 or u >= info.units]
        if bad:
            raise UsageError(f"unit index out of range for {layer} ({info.units} units, 0…{info.units - 1}): {', '.join(map(str, bad))}")
        return units

    def describe(self) -> dict:
        return {"name": self.name, "fingerprint": self.fingerprint, "z_shape": list(self.z_shape),
                "output_range": list(self.output_range), "device": str(self.device)}


def output_resolution(g) -> int:
    """Side of the generator's square output (its last layer's map), for rendering a matching real set; 64 if unknown."""
    out = list(g.layers.values())[-1].shape if g.layers else None
    return int(out[-1]) if out and len(out) == 3 else 64


def _top_level_names(module: nn.Module) -> set[str]:
    """Children of the root; a lone container child (e.g. DCGAN's `main`) is descended into."""
    prefix, current = "", module
    while True:
        children = list(current.named_children())
        if len(children) == 1 and list(children[0][1].children()):
            prefix += children[0][0] + "."
            current = children[0][1]
            continue
        return {prefix + n for n, _ in children}


@torch.no_grad()
def probe_layers(module: nn.Module, z: torch.Tensor) -> dict[str, LayerInfo]:
    if isinstance(module, torch.jit.ScriptModule):
        return {}  # an opaque scripted graph: only its output can be used
    top = _top_level_names(module)
    found: dict[str, tuple[int, ...]] = {}
    handles = []

    def make_hook(name: str):
        def hook(_mod, _inp, out):
            if isinstance(out, torch.Tensor) and name not in found and out.dim() >= 2:
                found[name] = tuple(out.shape[1:])
        return hook

    for name, sub in module.named_modules():
        if name and not isinstance(sub, torch.jit.ScriptModule):  # scripted internals cannot be hooked
            handles.append(sub.register_forward_hook(make_hook(name)))
    try:
        module(z)
    finally:
        for h in handles:
            h.remove()
    return {n: LayerInfo(n, s, n in top) for n, s in found.items() if len(s) in (1, 3)}


def load_generator(spec: str, **kwargs) -> Generator:
    """Load a generator from a spec string; see `ganfix.loaders.load_generator`."""
    from .loaders import load_generator as _load

    return _load(spec, **kwargs)
