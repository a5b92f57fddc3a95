"""A loaded generator: module + deterministic latent sampler + output range + named layers + fingerprint.

Loading specs (built-in names, checkpoints, .pt2, TorchScript, file.py:factory) lives in `ganfix.loaders`;
`load_generator` is re-exported here for convenience.
"""
from __future__ import annotations

import contextlib
from dataclasses import dataclass
from typing import Iterable, Sequence

import torch
from torch import nn

from .errors import GanfixError, UsageError
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
        raise UsageError(f"device={device}: no CUDA GPU is available here; use device=cpu")
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
        code_identity: str | None = None,
        image_shape: Sequence[int] | None = None,
    ):
        self.device = resolve_device(device)
        self.module = module.to(self.device).eval()
        for p in self.module.parameters():
            p.requires_grad_(False)
        self.z_shape = tuple(int(s) for s in z_shape)
        lo, hi = (float(v) for v in output_range)
        if not hi > lo:
            raise UsageError(f"output_range must be lo,hi with lo < hi, got {lo},{hi}")
        self.output_range = (lo, hi)
        self.name = name
        self.code_identity = code_identity  # extra code identity for the fingerprint (a factory file's hash)
        # Flat outputs ([N, 784]) are viewed as images of this shape; the module (and its fingerprint) is untouched.
        self.reshape = tuple(int(v) for v in image_shape) if image_shape else None
        if self.reshape is not None and (len(self.reshape) != 3 or min(self.reshape) < 1):
            raise UsageError(f"image_shape must be C,H,W (e.g. 1,28,28), got {','.join(map(str, self.reshape))}")
        self._image_shape: tuple[int, int, int] | None = None
        self.notes: list[str] = []  # what loading chose (e.g. an EMA copy), for the user to read
        self.weights_file: str | None = None  # checkpoint the weights came from (part of the model's identity)
        self._fingerprint: str | None = None
        self._layers: dict[str, LayerInfo] | None = None

    # -- identity -------------------------------------------------------------------------------
    @property
    def fingerprint(self) -> str:
        if self._fingerprint is None:
            self._fingerprint = fingerprint_module(self.module, extra_code=self.code_identity)
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

    def as_images(self, output: torch.Tensor) -> torch.Tensor:
        """The module's output as images [N, C, H, W] (flat outputs reshaped by --image-shape)."""
        if self.reshape is None:
            return output
        n = output.shape[0]
        if output[0].numel() != self.reshape[0] * self.reshape[1] * self.reshape[2]:
            raise UsageError(f"image_shape={','.join(map(str, self.reshape))} does not fit the output "
                             f"{list(output.shape[1:])} ({output[0].numel()} values per sample)")
        return output.reshape(n, *self.reshape)

    def to_signed(self, images: torch.Tensor) -> torch.Tensor:
        """Map the output range to [-1, 1] (clamped): the convention of segmenters and sheets."""
        lo, hi = self.output_range
        return ((self.as_images(images) - lo) / (hi - lo) * 2 - 1).clamp(-1, 1)

    def to_uint8(self, images: torch.Tensor) -> torch.Tensor:
        lo, hi = self.output_range
        return ((self.as_images(images) - lo) / (hi - lo) * 255).round().clamp(0, 255).to(torch.uint8)

    def _shapes_key(self, kind: str) -> str:
        from .cache import cache_key

        return cache_key(kind, fingerprint=self.fingerprint, z_shape=list(self.z_shape), device=self.device.type,
                         reshape=list(self.reshape) if self.reshape else None)

    @property
    def image_shape(self) -> tuple[int, int, int]:
        """(C, H, W) of one output image, checked once on sample 0: 1 or 3 channels, at least 16×16
        (remembered with the fingerprint, so a later command skips the forward pass)."""
        if self._image_shape is None:
            known = _recall("image_shape", self._shapes_key("image_shape"))
            if isinstance(known, list) and len(known) == 3 and all(isinstance(v, int) for v in known):
                self._image_shape = (known[0], known[1], known[2])
                return self._image_shape
            with torch.no_grad(), forward_errors(self):
                out = self.module(self.latents([0], 0))
            if not isinstance(out, torch.Tensor):
                raise UsageError(f"{self.name} returned {type(out).__name__}, not an image tensor")
            shape = tuple(self.as_images(out).shape[1:])
            if len(shape) != 3:
                n = int(out[0].numel())
                side = int(round(n ** 0.5))
                hint = f" (e.g. image_shape=1,{side},{side})" if side * side == n else ""
                raise UsageError(f"{self.name} outputs {list(shape)} per sample, not an image [C, H, W]; "
                                 f"pass image_shape=C,H,W{hint}")
            if shape[0] not in (1, 3):
                raise UsageError(f"{self.name} outputs {shape[0]} channels per image; ganfix handles 1 (grey) or 3 (RGB)")
            if min(shape[1:]) < 16:
                raise UsageError(f"{self.name} outputs {shape[1]}×{shape[2]} images; ganfix needs at least 16×16")
            finite = out[torch.isfinite(out)].float()
            lo, hi = self.output_range
            far = 10 * (hi - lo)  # unclamped outputs overshoot a little (an untrained ProGAN: −2.3…3.4); 0…255 does not
            if finite.numel() and (float(finite.min()) < lo - far or float(finite.max()) > hi + far):
                raise UsageError(f"{self.name} outputs values in {float(finite.min()):.4g}…{float(finite.max()):.4g}, far outside "
                                 f"the output range {lo:g},{hi:g}; pass the range its images use as output_range= "
                                 "(e.g. output_range=0,255)")
            self._image_shape = (int(shape[0]), int(shape[1]), int(shape[2]))
            _remember("image_shape", self._shapes_key("image_shape"), list(self._image_shape))
        return self._image_shape

    # -- layers ---------------------------------------------------------------------------------
    @property
    def layers(self) -> dict[str, LayerInfo]:
        """Every named submodule with a tensor output, in execution order (probed once on sample 0, and
        remembered with the fingerprint, so a later command on the same model skips the probe)."""
        if self._layers is None:
            key = self._shapes_key("layer_shapes")
            known = _recall("layer_shapes", key)
            if isinstance(known, list) and all(isinstance(r, list) and len(r) == 3 and isinstance(r[0], str)
                                               and isinstance(r[1], list) and len(r[1]) in (1, 3) for r in known):
                self._layers = {n: LayerInfo(n, tuple(int(v) for v in shape), bool(top)) for n, shape, top in known}
            else:
                with forward_errors(self):
                    self._layers = probe_layers(self.module, self.latents([0], 0))
                _remember("layer_shapes", key, [[i.name, list(i.shape), i.top_level] for i in self._layers.values()])
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
                "output_range": list(self.output_range), "device": str(self.device),
                **({"image_shape": list(self.reshape)} if self.reshape else {})}


def _recall(kind: str, key: str):
    """A remembered shape (JSON), or None. Only a speed-up: any problem reading it means probing again."""
    import json

    from .cache import cache_path, decode_entry

    try:
        obj = decode_entry(cache_path(kind, key).read_bytes())
        return json.loads(obj["json"])
    except Exception:  # noqa: BLE001 — missing, damaged or unreadable: probe
        return None


def _remember(kind: str, key: str, value) -> None:
    import json

    from .atomic import atomic_write_bytes
    from .cache import cache_path, encode_entry

    try:
        atomic_write_bytes(cache_path(kind, key), encode_entry({"json": json.dumps(value)}))
    except OSError:
        pass  # an unwritable cache: probed again next time


@contextlib.contextmanager
def forward_errors(gen: "Generator"):
    """The first forward pass of a user's generator: an exception there is bad input (a wrong --z-shape,
    a checkpoint that does not fit the code), one line and exit 2 before any work — not a ganfix crash."""
    try:
        yield
    except GanfixError:
        raise
    except Exception as exc:  # noqa: BLE001 - the user's module may raise anything
        raise UsageError(f"{gen.name}: the forward pass on a latent of shape {list(gen.z_shape)} failed "
                         f"({exception_line(exc)}); check z_shape= and that the weights fit the code") from None


def exception_line(exc: BaseException, limit: int = 300) -> str:
    """`Type: message` on one line; for TorchScript's interpreter errors, only the error at the end of its trace."""
    lines = [p.strip() for p in str(exc).splitlines() if p.strip()]
    if any("Traceback" in l for l in lines):
        lines = lines[-1:]
    text = "; ".join(lines)
    text = text if len(text) <= limit else text[:limit] + "…"
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


def output_resolution(g) -> int:
    """Side (width) of the generator's output images, for rendering a matching real set."""
    return int(g.image_shape[-1])


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
