"""Plant known artifact units into a ProGAN-layout generator: ground truth for the automatic rankers.

`plant_artifacts(gen, layer, plants)` returns a new Generator in which K units of `layer` are
replaced by *artifact units*: each fires as a blob at a latent-dependent place in a chosen fraction
of samples (its firing rate), and wherever it fires the image gets an artifact painted in:

- ``blotch``  a saturated colour blotch;
- ``stripes`` black/white stripes (period 4 px);
- ``checker`` a pixel checkerboard;
- ``fringe``  a rainbow colour fringe around the blob's edge;
- ``border``  a flat bright patch that always sits on the image border.

The planted channel is an ordinary unit of the layer: downstream layers see it (so it perturbs the
image through the network too), hooks see it, and ablating it (k = 0) removes its painted artifact.
Gates and places are functions of the block *input* (random projections of its spatial mean), so
sample i under seed s is still a pure function of (s, i). Thresholds are calibrated on 512
calibration latents so that each unit fires in about `rate` of the samples.

Used by benchmarks/bench_artifact_rankers.py and the ranker tests; works on any generator whose
module is a ProGAN (`ganfix.models.progan.ProGAN`: z → layer1 … layerN → output_RxR).
"""
from __future__ import annotations

import math
from dataclasses import asdict, dataclass

import torch
import torch.nn.functional as F
from torch import nn

from ..errors import UsageError
from ..generator import Generator

KINDS = ("blotch", "stripes", "checker", "fringe", "border")


@dataclass(frozen=True)
class Plant:
    unit: int
    kind: str = "blotch"
    strength: float = 1.0  # 0…1: how strongly the artifact is painted (1 = replaces the pixels)
    rate: float = 0.1      # fraction of samples in which the unit fires

    def __post_init__(self):
        if self.kind not in KINDS:
            raise UsageError(f"unknown artifact kind {self.kind!r}; choose one of: {', '.join(KINDS)}")
        if not 0 < self.rate < 1:
            raise UsageError(f"firing rate must be in (0, 1), got {self.rate}")


class PlantedBlock(nn.Module):
    """The original block, with the planted units' channels replaced by gated blobs."""

    def __init__(self, inner: nn.Module, plants: list[Plant], c_in: int, hw: tuple[int, int], amp: float, seed: int):
        super().__init__()
        self.inner = inner
        self.units = [p.unit for p in plants]
        self.border = [p.kind == "border" for p in plants]
        g = torch.Generator().manual_seed(seed)
        k = len(plants)
        self.register_buffer("proj", torch.randn(c_in, 3 * k, generator=g) / math.sqrt(c_in))
        self.register_buffer("center", torch.zeros(3 * k))
        self.register_buffer("scale", torch.ones(3 * k))
        self.register_buffer("threshold", torch.zeros(k))
        self.register_buffer("amp", torch.tensor(float(amp)))
        self.hw = hw
        self.sigma = max(0.6, hw[0] / 10)

    def scores(self, x: torch.Tensor) -> torch.Tensor:
        return (x.flatten(2).mean(2) @ self.proj - self.center) / self.scale  # [N, 3K], standardised

    def maps(self, x: torch.Tensor) -> torch.Tensor:
        k = len(self.units)
        s = self.scores(x)
        gate = (s[:, :k] > self.threshold).to(x.dtype)
        h, w = self.hw
        cy = torch.sigmoid(s[:, k:2 * k] * 1.5) * (h - 1)
        cx = torch.sigmoid(s[:, 2 * k:] * 1.5) * (w - 1)
        for j, on_border in enumerate(self.border):
            if on_border:  # snap to the nearest edge: top/bottom or left/right, whichever is closer
                dy = torch.minimum(cy[:, j], (h - 1) - cy[:, j])
                dx = torch.minimum(cx[:, j], (w - 1) - cx[:, j])
                snap_y = dy <= dx
                cy[:, j] = torch.where(snap_y, torch.where(cy[:, j] < (h - 1) / 2, 0.0, h - 1.0), cy[:, j])
                cx[:, j] = torch.where(~snap_y, torch.where(cx[:, j] < (w - 1) / 2, 0.0, w - 1.0), cx[:, j])
        ys = torch.arange(h, dtype=x.dtype, device=x.device).view(1, 1, h, 1)
        xs = torch.arange(w, dtype=x.dtype, device=x.device).view(1, 1, 1, w)
        d2 = (ys - cy[:, :, None, None]) ** 2 + (xs - cx[:, :, None, None]) ** 2
        return self.amp * gate[:, :, None, None] * torch.exp(-d2 / (2 * self.sigma ** 2))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.inner(x).clone()
        out[:, self.units] = self.maps(x).to(out.dtype)
        return out


def _patterns(res: int) -> dict[str, torch.Tensor]:
    ys, xs = torch.meshgrid(torch.arange(res), torch.arange(res), indexing="ij")
    stripes = ((ys // 2) % 2).float() * 2 - 1
    checker = ((ys + xs) % 2).float() * 2 - 1
    phase = xs.float() / 3.0
    rainbow = torch.stack([torch.sin(phase), torch.sin(phase + 2.1), torch.sin(phase + 4.2)])
    return {"stripes": stripes.view(1, 1, res, res), "checker": checker.view(1, 1, res, res),
            "rainbow": rainbow.view(1, 3, res, res)}


_COLOURS = [(1.0, -1.0, 1.0), (-1.0, 1.0, 1.0), (1.0, 1.0, -1.0), (1.0, -0.6, -1.0), (-1.0, -1.0, 1.0)]


class PlantedGenerator(nn.Module):
    """A ProGAN whose `layer` carries planted artifact units; paints their artifacts on the output."""

    def __init__(self, base: nn.Module, layer: str, plants: list[Plant], c_in: int, hw: tuple[int, int], amp: float,
                 res: int, seed: int):
        super().__init__()
        self.layer_name = layer
        self.plants = list(plants)
        self.z_dim = getattr(base, "z_dim", None)  # lets the file.py:factory loader find the latent size
        for name, child in base.named_children():
            self.add_module(name, PlantedBlock(child, plants, c_in, hw, amp, seed) if name == layer else child)
        for name, t in _patterns(res).items():
            self.register_buffer(f"pattern_{name}", t)
        self.res = res

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        x = z.reshape(z.shape[0], z.shape[1], 1, 1)
        planted = None
        for name, block in self.named_children():
            x = block(x)
            if name == self.layer_name:
                planted = x[:, getattr(block, "units")]
        return self.paint(x, planted)

    def paint(self, img: torch.Tensor, planted: torch.Tensor) -> torch.Tensor:
        amp = float(getattr(self, self.layer_name).amp)
        m = F.interpolate(planted / amp, size=img.shape[-2:], mode="bilinear", align_corners=False).clamp(0, 1)
        m = (m * 1.6).clamp(0, 1)  # flat-topped blobs: the artifact covers a visible area
        for j, p in enumerate(self.plants):
            mj = m[:, j:j + 1] * p.strength
            if p.kind in ("blotch", "border"):
                colour = torch.tensor(_COLOURS[j % len(_COLOURS)] if p.kind == "blotch" else (0.9, 0.9, 0.95),
                                      dtype=img.dtype, device=img.device).view(1, 3, 1, 1)
                img = img * (1 - mj) + colour * mj
            elif p.kind in ("stripes", "checker"):
                img = img * (1 - mj) + getattr(self, f"pattern_{p.kind}") * mj
            else:  # fringe: a rainbow ring at the blob's edge
                ring = (m[:, j:j + 1] * (1 - m[:, j:j + 1]) * 4).clamp(0, 1) * p.strength
                img = img * (1 - ring) + self.pattern_rainbow * ring
        return img.clamp(-1, 1)


def _progan_parts(module: nn.Module, layer: str):
    from ..models.progan import ProGAN

    if not isinstance(module, ProGAN):
        raise UsageError("planting artifact units needs a ProGAN-layout generator (e.g. toyscenes)")
    names = [n for n, _ in module.named_children()]
    if layer not in names or not layer.startswith("layer"):
        raise UsageError(f"cannot plant into {layer!r}; choose one of: {', '.join(n for n in names if n.startswith('layer'))}")
    return names


@torch.no_grad()
def plant_artifacts(gen: Generator, layer: str, plants: list[Plant], seed: int = 0, strength_act: float = 1.5,
                    name: str | None = None, calibration: int = 512) -> Generator:
    """A copy of `gen` with `plants` planted at `layer` (the original module is not changed).

    Blob amplitude = strength_act × the layer's 99th percentile activation on calibration latents,
    so a planted unit fires about as strongly as the layer's strongest ordinary activity."""
    import copy

    _progan_parts(gen.module, layer)
    units = [p.unit for p in plants]
    gen.check_units(layer, units)
    if len(set(units)) != len(units):
        raise UsageError("each planted unit must be a different unit")
    base = copy.deepcopy(gen.module).cpu()
    info = gen.layer(layer)
    z = gen.latents(range(calibration), seed=0x9A11).cpu()
    from ..hooks import Trace

    names = [n for n, _ in base.named_children()]
    prev = names[names.index(layer) - 1] if names.index(layer) > 0 else None
    with Trace(base, [layer] + ([prev] if prev else []), stop=True) as tr:
        outs = tr.run(z)
    acts = outs[layer]
    x_in = outs[prev] if prev else z.reshape(z.shape[0], z.shape[1], 1, 1)
    amp = strength_act * float(torch.quantile(acts.flatten()[:: max(1, acts.numel() // 200_000)].float(), 0.99))
    res = int(list(gen.layers.values())[-1].shape[-1])
    module = PlantedGenerator(base, layer, plants, x_in.shape[1], tuple(info.shape[1:]), amp, res, seed)
    block = getattr(module, layer)
    raw = x_in.flatten(2).mean(2) @ block.proj
    block.center.copy_(raw.mean(0))
    block.scale.copy_(raw.std(0).clamp_min(1e-6))
    s = block.scores(x_in)
    for j, p in enumerate(plants):
        block.threshold[j] = torch.quantile(s[:, j], 1 - p.rate)
    return Generator(module, gen.z_shape, gen.output_range, name or f"{gen.name}+planted", device=gen.device)


def planted_units(gen: Generator) -> list[dict]:
    """The plants of a generator made by plant_artifacts (empty for any other generator)."""
    module = gen.module
    return [asdict(p) for p in getattr(module, "plants", [])]
