"""A second, independent feature space for the toy world: a self-supervised scene encoder.

The `toyscenes` features are the segmenter's encoder, and the segmenter is also what dissection
uses, so selecting artifact units and judging them in that one space shares a metric. This
encoder is trained independently of it (ganfix.world.train_ssl): another objective (contrastive
instance discrimination, SimCLR's NT-Xent, no labels at all), another scene stream (500, which no
other asset used), another architecture (plain strided convolutions, no U-Net), and augmentations
that keep colour (crops, flips, noise, blur — no hue or saturation jitter), so a colour blotch
moves the features. Registered with torch-fidelity as `toyscenes-ssl` (feature `pool`, 128-d).
"""
from __future__ import annotations

from pathlib import Path

import torch
from torch import nn

ASSETS = Path(__file__).parent / "assets"
SSL_WEIGHTS = ASSETS / "toyscenes_ssl.pt"
NAME = "toyscenes-ssl"
FEATURE_LAYER = "pool"
NATIVE_RESOLUTION = 64


def _conv(c_in: int, c_out: int, stride: int) -> nn.Sequential:
    return nn.Sequential(nn.Conv2d(c_in, c_out, 3, stride, 1, bias=False), nn.BatchNorm2d(c_out), nn.ReLU(inplace=True))


class SceneEncoder(nn.Module):
    """64×64 → 4×4 by four stride-2 convolutions (each followed by one stride-1); GAP gives `pool`."""

    def __init__(self, widths: tuple[int, ...] = (16, 32, 64, 128), proj_dim: int = 64):
        super().__init__()
        layers, c = [], 3
        for w in widths:
            layers += [_conv(c, w, 2), _conv(w, w, 1)]
            c = w
        self.body = nn.Sequential(*layers)
        self.proj = nn.Sequential(nn.Linear(c, c), nn.ReLU(inplace=True), nn.Linear(c, proj_dim))
        self.widths = tuple(widths)

    def features(self, x: torch.Tensor) -> torch.Tensor:
        return self.body(x).mean(dim=(2, 3))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.proj(self.features(x))


def encoder_state_dict(net: SceneEncoder) -> dict[str, torch.Tensor]:
    state = {k: v.detach().clone() for k, v in net.state_dict().items() if not k.startswith("proj.")}
    state["_widths"] = torch.tensor(list(net.widths))
    return state


def load_encoder(path: str | Path | None = None) -> SceneEncoder:
    path = Path(path) if path is not None else SSL_WEIGHTS
    if not path.is_file():
        from ..errors import UsageError

        raise UsageError(f"the toyscenes-ssl weights {path} are missing; rebuild them with "
                         "python -m ganfix.world.train_ssl --out runs/toyssl --ship")
    state = torch.load(path, weights_only=True, map_location="cpu")
    widths = tuple(int(v) for v in state.pop("_widths").tolist())
    net = SceneEncoder(widths)
    missing, unexpected = net.load_state_dict(state, strict=False)
    if unexpected or any(not k.startswith("proj.") for k in missing):
        raise ValueError(f"{path}: not a toyscenes-ssl encoder (missing {missing}, unexpected {unexpected})")
    return net.eval().requires_grad_(False)


def _extractor_class():
    from .toy_extractor import ToyWorldExtractor  # imports torch-fidelity: only when registering

    class FeatureExtractorToyScenesSSL(ToyWorldExtractor):
        PROVIDED = (FEATURE_LAYER,)
        DEFAULT = FEATURE_LAYER
        LABEL = "toyscenes-ssl"

        def load(self, path):
            return load_encoder(path)

        def features(self, x) -> tuple:
            return (self.net.features(x).float(),)

    return FeatureExtractorToyScenesSSL


def ensure_registered() -> None:
    """Register `toyscenes-ssl` with torch-fidelity once."""
    from torch_fidelity.registry import FEATURE_EXTRACTORS_REGISTRY, register_feature_extractor

    if NAME not in FEATURE_EXTRACTORS_REGISTRY:
        register_feature_extractor(NAME, _extractor_class())
