"""TorchScript generators: loaded with `torch.jit.load`; a plain chain of children is run from Python so its layers can be hooked."""
from __future__ import annotations

import warnings
import zipfile
from pathlib import Path

import torch
from torch import nn

from ..errors import UsageError
from ..latents import sample_latents


def is_torchscript(path: Path) -> bool:
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


class ScriptChain(nn.Sequential):
    """Runs a TorchScript module's children one by one from Python so their outputs can be hooked.

    Only used after checking numerically that the chain reproduces the scripted forward. It is itself
    scriptable, so a patched chain can be exported as TorchScript again with its stage names."""

    def __init__(self, script: nn.Module, reshape_input: bool):
        super().__init__()
        for name, child in script.named_children():
            # a scripted nn.Sequential runs its children in order: expand it, so nested layers
            # (a DCGAN's main.0 … main.13) stay hookable
            nested = getattr(child, "original_name", "") == "Sequential" and any(True for _ in child.children())
            self.add_module(name, ScriptChain(child, False) if nested else _Stage(child))
        self.reshape_input = reshape_input

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        x = z.reshape(z.shape[0], -1, 1, 1) if self.reshape_input else z
        for stage in self:
            x = stage(x)
        return x


def load_torchscript(path: Path, z_shape, device) -> tuple[nn.Module, tuple[int, ...]]:
    try:
        with warnings.catch_warnings():  # TorchScript is deprecated upstream but still the portable format
            warnings.simplefilter("ignore", FutureWarning)
            script = torch.jit.load(str(path), map_location="cpu")
    except Exception as exc:
        raise UsageError(f"could not load TorchScript {path}: {str(exc).splitlines()[0][:200]}") from None
    script.eval()  # saved in train mode, the probes below would update its BatchNorm running statistics
    z_shape = tuple(z_shape) if z_shape else _script_z_shape(script)
    if z_shape is None:
        raise UsageError(f"cannot tell the latent shape of {path}; pass z_shape= (e.g. z_shape=512)")
    # Expose intermediate layers when the module is a plain chain of children (verified).
    z = sample_latents([0, 1], 0, z_shape)
    with torch.no_grad():
        try:
            ref = script(z)
        except Exception as exc:  # noqa: BLE001 - the user's scripted code may raise anything
            from ..generator import exception_line

            raise UsageError(f"{path}: the forward pass on a latent of shape {list(z_shape)} failed "
                             f"({exception_line(exc)}); check z_shape=") from None
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
