"""A loaded generator: module + deterministic latent sampler + output range + named layers + fingerprint.

`load_generator(spec)` accepts a built-in name, a TorchScript file, a ProGAN state dict in the GAN
Dissection layout, or `path/to/file.py:factory` (with `weights=`). Checkpoints load with
`torch.load(..., weights_only=True)`; unpickling code requires `trust_pickle=True`.
"""
from __future__ import annotations

import warnings
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable, Sequence

import torch
from torch import nn

from .errors import UsageError
from .fingerprint import fingerprint_module
from .user_code import call_factory, is_factory_spec
from .latents import sample_latents
from .models.progan import looks_like_progan, progan_from_state_dict


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
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
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


# ---------------------------------------------------------------------------------------------
# Loading specs
# ---------------------------------------------------------------------------------------------

def _read_state(path: Path, trust_pickle: bool = False) -> object:
    if not path.exists():
        raise UsageError(f"checkpoint not found: {path}")
    if not path.is_file():
        raise UsageError(f"checkpoint is not a file: {path}")
    try:
        return torch.load(path, map_location="cpu", weights_only=not trust_pickle)
    except Exception as exc:  # torch raises many types for corrupt or foreign files
        reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        if "weights_only" in str(exc) or "Unsupported global" in str(exc):
            raise UsageError(f"{path} needs code to unpickle; re-run with --trust-pickle only if you trust this file") from None
        raise UsageError(f"could not read checkpoint {path}: {reason[:200]} (is it a torch .pt file?)") from None


def _unwrap_state_dict(obj: object, path: Path) -> dict:
    if isinstance(obj, dict):
        for key in ("state_dict", "g_ema", "G_ema", "generator", "G", "model"):
            if key in obj and isinstance(obj[key], dict):
                return obj[key]
        if all(isinstance(v, torch.Tensor) for v in obj.values()) and obj:
            return obj
    raise UsageError(f"{path} does not hold a state dict of tensors (keys: {list(obj)[:8] if isinstance(obj, dict) else type(obj).__name__})")


def _is_torchscript(path: Path) -> bool:
    if not zipfile.is_zipfile(path):
        return False
    with zipfile.ZipFile(path) as zf:
        return any(n.endswith("constants.pkl") or "/code/" in n for n in zf.namelist())


class _Stage(nn.Module):
    """Python wrapper around one scripted child, so forward hooks can be attached to it."""

    def __init__(self, inner: nn.Module):
        super().__init__()
        self.inner = inner

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.inner(x)


class ScriptChain(nn.Module):
    """Runs a TorchScript module's children one by one from Python so their outputs can be hooked.

    Only used after checking numerically that the chain reproduces the scripted forward."""

    def __init__(self, script: nn.Module, reshape_input: bool):
        super().__init__()
        for name, child in script.named_children():
            self.add_module(name, _Stage(child))
        self.reshape_input = reshape_input

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        x = z.reshape(z.shape[0], -1, 1, 1) if self.reshape_input else z
        for stage in self.children():
            x = stage(x)
        return x


def _load_torchscript(path: Path, z_shape, device) -> tuple[nn.Module, tuple[int, ...]]:
    try:
        with warnings.catch_warnings():  # TorchScript is deprecated upstream but still the portable format
            warnings.simplefilter("ignore", FutureWarning)
            script = torch.jit.load(str(path), map_location="cpu")
    except Exception as exc:
        raise UsageError(f"could not load TorchScript {path}: {str(exc).splitlines()[0][:200]}") from None
    z_shape = tuple(z_shape) if z_shape else _script_z_shape(script)
    if z_shape is None:
        raise UsageError(f"cannot tell the latent shape of {path}; pass --z-shape (e.g. --z-shape 512)")
    # Expose intermediate layers when the module is a plain chain of children (verified).
    z = sample_latents([0, 1], 0, z_shape)
    with torch.no_grad():
        ref = script(z)
        for reshape in (False, True):
            try:
                chain = ScriptChain(script, reshape)
                if torch.allclose(chain(z), ref, atol=1e-5, rtol=1e-5):
                    return chain, z_shape
            except Exception:
                continue
    return script, z_shape


def _script_z_shape(script) -> tuple[int, ...] | None:
    for attr in ("z_shape", "z_dim", "latent_dim", "nz"):
        if hasattr(script, attr):
            v = getattr(script, attr)
            return tuple(v) if isinstance(v, (list, tuple)) else (int(v),)
    return None


def _infer_z_shape(module: nn.Module) -> tuple[int, ...] | None:
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
    with torch.no_grad():
        for shape in ((dim,), (dim, 1, 1)):
            try:
                module(torch.zeros(1, *shape))
                return shape
            except Exception:
                continue
    return None


def _load_factory(spec: str, weights: str | None) -> nn.Module:
    module = call_factory(spec, "generator")
    if not isinstance(module, nn.Module):
        raise UsageError(f"{spec}() returned {type(module).__name__}, not a torch.nn.Module")
    if weights is not None:
        wpath = Path(weights)
        state = _unwrap_state_dict(_read_state(wpath), wpath)
        _load_strict(module, state, wpath)
    return module


def _load_strict(module: nn.Module, state: dict, path: Path) -> None:
    own = module.state_dict()
    missing = [k for k in own if k not in state]
    unexpected = [k for k in state if k not in own]
    shape_bad = [f"{k} {tuple(state[k].shape)}≠{tuple(own[k].shape)}" for k in own
                 if k in state and tuple(state[k].shape) != tuple(own[k].shape)]
    if missing or unexpected or shape_bad:
        def few(xs):
            return ", ".join(xs[:6]) + (f" (+{len(xs) - 6} more)" if len(xs) > 6 else "")
        parts = []
        if missing:
            parts.append(f"missing keys: {few(missing)}")
        if unexpected:
            parts.append(f"unexpected keys: {few(unexpected)}")
        if shape_bad:
            parts.append(f"shape mismatch: {few(shape_bad)}")
        raise UsageError(f"state dict {path} does not fit the module; " + "; ".join(parts))
    module.load_state_dict(state, strict=True)


class _StyleGANAdapter(nn.Module):
    """Calls a StyleGAN2-ADA style G(z, c) with an empty class label."""

    def __init__(self, g: nn.Module):
        super().__init__()
        self.g = g
        self.z_shape = (int(g.z_dim),)

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        c = torch.zeros(z.shape[0], int(getattr(self.g, "c_dim", 0)), device=z.device)
        return self.g(z, c)


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
    from .registry import builtin_generators, get_builtin_generator

    dev = resolve_device(device)
    out_range = tuple(output_range) if output_range else None
    builtin = get_builtin_generator(spec)
    if builtin is not None:
        module = builtin.build()
        return Generator(module, z_shape or builtin.z_shape, out_range or builtin.output_range, name=spec, device=dev)

    if is_factory_spec(spec):
        module = _load_factory(spec, weights)
        shape = tuple(z_shape) if z_shape else _infer_z_shape(module)
        if shape is None:
            raise UsageError(f"cannot tell the latent shape of {spec}; pass --z-shape (e.g. --z-shape 128,1,1)")
        return Generator(module, shape, out_range or (-1.0, 1.0), name=spec, device=dev)

    path = Path(spec)
    if weights is not None:
        raise UsageError("--weights is only for file.py:factory specs; a checkpoint path is the GEN itself")
    if not path.exists():
        names = ", ".join(sorted(builtin_generators())) or "none"
        raise UsageError(f"generator {spec!r} is neither a file nor a built-in name (built-in: {names}; or file.py:factory)")
    if path.suffix == ".pkl":
        if not trust_pickle:
            raise UsageError(f"{path} is a pickle that runs code when loaded; re-run with --trust-pickle only if you trust it")
        obj = _read_state(path, trust_pickle=True)
        g = obj.get("G_ema") or obj.get("g_ema") if isinstance(obj, dict) else obj
        if not isinstance(g, nn.Module):
            raise UsageError(f"{path} holds no generator module (expected a dict with G_ema, or a module)")
        module = _StyleGANAdapter(g) if hasattr(g, "z_dim") and hasattr(g, "c_dim") else g
        shape = tuple(z_shape) if z_shape else _infer_z_shape(module)
        if shape is None:
            raise UsageError(f"cannot tell the latent shape of {spec}; pass --z-shape")
        return Generator(module, shape, out_range or (-1.0, 1.0), name=spec, device=dev)
    if path.is_file() and _is_torchscript(path):
        module, shape = _load_torchscript(path, z_shape, dev)
        return Generator(module, shape, out_range or (-1.0, 1.0), name=spec, device=dev)

    state = _unwrap_state_dict(_read_state(path, trust_pickle), path)
    if not looks_like_progan(state):
        raise UsageError(f"{path} is not a ProGAN state dict in the GAN Dissection layout (layer1…, output_RxR); "
                         "for other architectures use path/to/model.py:factory --weights ckpt")
    try:
        module = progan_from_state_dict(state)
    except (ValueError, RuntimeError, KeyError) as exc:
        raise UsageError(f"{path}: ProGAN state dict is inconsistent: {str(exc).splitlines()[0][:200]}") from None
    shape = tuple(z_shape) if z_shape else (module.z_dim,)
    return Generator(module, shape, out_range or (-1.0, 1.0), name=spec, device=dev)
