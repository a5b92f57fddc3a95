"""ProGAN generator in the GAN Dissection layout (`layer1…layerN`, `output_RxR`).

Block order (each `layer{i}`): pixel-norm of the block input → [nearest ×2 upsample] → conv
(no bias) → weight scale (× sqrt(2)/sqrt(k·k·c_in)) + bias → LeakyReLU(0.2).
`layer1` maps z, reshaped to [N, z, 1, 1], to 4×4 with a 4×4 kernel and padding 3; upsampling
blocks (`layer3`, `layer5`, …) alternate with plain 3×3 blocks; `output_RxR` is pixel-norm →
1×1 conv to RGB → weight scale (gain 1) + bias.  State-dict keys are exactly
`layer{i}.conv.weight`, `layer{i}.wscale.b`, `output_RxR.conv.weight`, `output_RxR.wscale.b`.
"""
from __future__ import annotations

import math
import re
from collections import OrderedDict

import torch
from torch import nn
import torch.nn.functional as F


class PixelNorm(nn.Module):
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x / torch.sqrt(x.pow(2).mean(dim=1, keepdim=True) + 1e-8)


class WScale(nn.Module):
    """Runtime weight scaling (equalised learning rate) plus the per-channel bias `b`."""

    def __init__(self, channels: int, fan_in: int, gain: float = math.sqrt(2.0)):
        super().__init__()
        self.b = nn.Parameter(torch.zeros(channels))
        # Not part of the layout's state dict: computed from the shapes, as the issue specifies.
        self.register_buffer("scale", torch.tensor(gain / math.sqrt(fan_in)), persistent=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x * self.scale + self.b.view(1, -1, 1, 1)


class NormConvBlock(nn.Module):
    def __init__(self, c_in: int, c_out: int, kernel_size: int, padding: int, upsample: bool = False):
        super().__init__()
        self.upsample = upsample
        self.norm = PixelNorm()
        self.conv = nn.Conv2d(c_in, c_out, kernel_size, padding=padding, bias=False)
        self.wscale = WScale(c_out, c_in * kernel_size * kernel_size)
        nn.init.normal_(self.conv.weight)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.norm(x)
        if self.upsample:
            x = F.interpolate(x, scale_factor=2.0, mode="nearest")
        return F.leaky_relu(self.wscale(self.conv(x)), 0.2)


class OutputBlock(nn.Module):
    def __init__(self, c_in: int):
        super().__init__()
        self.norm = PixelNorm()
        self.conv = nn.Conv2d(c_in, 3, 1, bias=False)
        self.wscale = WScale(3, c_in, gain=1.0)
        nn.init.normal_(self.conv.weight)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.wscale(self.conv(self.norm(x)))


def progan_default_widths(resolution: int, z_dim: int = 512, max_width: int = 512) -> list[int]:
    """Paper widths: 512 up to 32×32, then halving (64→256, 128→128, …)."""
    widths = []
    r = 4
    while r <= resolution:
        widths.append(min(max_width, 16384 // r))
        r *= 2
    return widths


class ProGAN(nn.Sequential):
    """ProGAN generator. `widths[j]` is the channel count at resolution 4·2^j."""

    def __init__(self, resolution: int = 64, z_dim: int = 512, widths: list[int] | None = None):
        if resolution < 8 or resolution > 1024 or resolution & (resolution - 1):
            raise ValueError(f"ProGAN resolution must be a power of two in 8…1024, got {resolution}")
        n_res = int(math.log2(resolution)) - 1  # 4×4 … R×R
        widths = list(widths) if widths is not None else progan_default_widths(resolution)
        if len(widths) != n_res:
            raise ValueError(f"ProGAN {resolution}×{resolution} needs {n_res} widths, got {len(widths)}")
        blocks: "OrderedDict[str, nn.Module]" = OrderedDict()
        blocks["layer1"] = NormConvBlock(z_dim, widths[0], 4, 3)
        blocks["layer2"] = NormConvBlock(widths[0], widths[0], 3, 1)
        for j in range(1, n_res):
            blocks[f"layer{2 * j + 1}"] = NormConvBlock(widths[j - 1], widths[j], 3, 1, upsample=True)
            blocks[f"layer{2 * j + 2}"] = NormConvBlock(widths[j], widths[j], 3, 1)
        blocks[f"output_{resolution}x{resolution}"] = OutputBlock(widths[-1])
        super().__init__(blocks)
        self.resolution = resolution
        self.z_dim = z_dim
        self.widths = widths

    def forward(self, z: torch.Tensor) -> torch.Tensor:  # type: ignore[override]
        x = z.reshape(z.shape[0], z.shape[1], 1, 1)
        for block in self:
            x = block(x)
        return x

    def extra_repr(self) -> str:
        return f"resolution={self.resolution}, z_dim={self.z_dim}, widths={self.widths}"


_LAYER_KEY = re.compile(r"^layer(\d+)\.conv\.weight$")
_OUTPUT_KEY = re.compile(r"^output_(\d+)x(\d+)\.conv\.weight$")


def looks_like_progan(state_dict: dict) -> bool:
    return any(_OUTPUT_KEY.match(k) for k in state_dict) and "layer1.conv.weight" in state_dict


def progan_from_state_dict(state_dict: dict) -> ProGAN:
    """Infer resolution, z size and widths from tensor shapes, build and load (strict)."""
    outputs = [m for m in map(_OUTPUT_KEY.match, state_dict) if m]
    if len(outputs) != 1:
        raise ValueError("ProGAN state dict needs exactly one output_RxR.conv.weight")
    resolution = int(outputs[0].group(1))
    n_layers = max(int(m.group(1)) for m in map(_LAYER_KEY.match, state_dict) if m)
    expected_layers = 2 * (int(math.log2(resolution)) - 1)
    if n_layers != expected_layers:
        raise ValueError(
            f"ProGAN output is {resolution}×{resolution}, which needs layer1…layer{expected_layers}, "
            f"found up to layer{n_layers}"
        )
    z_dim = state_dict["layer1.conv.weight"].shape[1]
    widths = [state_dict[f"layer{2 * j + 2}.conv.weight"].shape[0] for j in range(expected_layers // 2)]
    model = ProGAN(resolution, z_dim=z_dim, widths=widths)
    state = {k: v for k, v in state_dict.items() if not k.endswith("wscale.scale")}
    model.load_state_dict(state, strict=True)
    for key, value in state_dict.items():  # honour an explicitly stored scale
        if key.endswith("wscale.scale"):
            model.get_submodule(key.rsplit(".", 1)[0]).scale.copy_(value.reshape(()))
    return model
