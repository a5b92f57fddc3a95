"""The toy-world segmenter: a small U-Net over rendered scenes, and its Segmenter-protocol wrapper.

`SceneSegNet` is fully convolutional (three poolings, so any size divisible by 8 works).  The
wrapper `ToySegmenter` resizes any input to the training resolution first — scenes rendered at
another size have objects at another pixel scale, and the net only knows 64×64 scale — then
upsamples the class logits back.  `SceneSegNet.encode` exposes the encoder for the feature
extractor (ganfix.world.toy_extractor).
"""
from __future__ import annotations

from pathlib import Path

import torch
from torch import nn
import torch.nn.functional as F

from .scenes import CLASS_NAMES

ASSETS = Path(__file__).parent / "assets"
SEGMENTER_WEIGHTS = ASSETS / "toyscenes_segmenter.pt"
NATIVE_RESOLUTION = 64


def _block(c_in: int, c_out: int) -> nn.Sequential:
    return nn.Sequential(
        nn.Conv2d(c_in, c_out, 3, padding=1, bias=False), nn.BatchNorm2d(c_out), nn.ReLU(inplace=True),
        nn.Conv2d(c_out, c_out, 3, padding=1, bias=False), nn.BatchNorm2d(c_out), nn.ReLU(inplace=True),
    )


class SceneSegNet(nn.Module):
    def __init__(self, n_classes: int = len(CLASS_NAMES), widths: tuple[int, ...] = (16, 32, 64, 128)):
        super().__init__()
        w1, w2, w3, w4 = widths
        self.enc1, self.enc2, self.enc3, self.bottleneck = _block(3, w1), _block(w1, w2), _block(w2, w3), _block(w3, w4)
        self.dec3, self.dec2, self.dec1 = _block(w4 + w3, w3), _block(w3 + w2, w2), _block(w2 + w1, w1)
        self.head = nn.Conv2d(w1, n_classes, 1)

    def encode(self, x: torch.Tensor) -> dict[str, torch.Tensor]:
        e1 = self.enc1(x)
        e2 = self.enc2(F.max_pool2d(e1, 2))
        e3 = self.enc3(F.max_pool2d(e2, 2))
        b = self.bottleneck(F.max_pool2d(e3, 2))
        return {"enc1": e1, "enc2": e2, "enc3": e3, "bottleneck": b}

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        f = self.encode(x)
        up = lambda t: F.interpolate(t, scale_factor=2.0, mode="nearest")  # noqa: E731
        d3 = self.dec3(torch.cat([up(f["bottleneck"]), f["enc3"]], 1))
        d2 = self.dec2(torch.cat([up(d3), f["enc2"]], 1))
        d1 = self.dec1(torch.cat([up(d2), f["enc1"]], 1))
        return self.head(d1)


def load_segnet(path: str | Path | None = None) -> SceneSegNet:
    path = Path(path) if path is not None else SEGMENTER_WEIGHTS
    state = torch.load(path, weights_only=True, map_location="cpu")
    widths = tuple(int(v) for v in state.pop("_widths").tolist()) if "_widths" in state else (16, 32, 64, 128)
    net = SceneSegNet(widths=widths)
    net.load_state_dict(state)
    return net.eval().requires_grad_(False)


def segnet_state_dict(net: SceneSegNet, widths: tuple[int, ...]) -> dict[str, torch.Tensor]:
    """State dict to ship: float32 weights plus the widths, so loading needs no side file."""
    state = {k: v.detach().clone() for k, v in net.state_dict().items()}
    state["_widths"] = torch.tensor(list(widths))
    return state


class ToySegmenter:
    """Segmenter protocol: `.class_names`, `.segment(images [N,3,H,W] in [-1,1]) -> [N,H,W] long`."""

    def __init__(self, net: SceneSegNet | None = None, batch_size: int = 64):
        self.net = net if net is not None else load_segnet()
        self.class_names = list(CLASS_NAMES)
        self.batch_size = batch_size

    def to(self, device) -> "ToySegmenter":
        self.net.to(device)
        return self

    def logits(self, images: torch.Tensor) -> torch.Tensor:
        """Class logits [N, C, H, W]; differentiable w.r.t. the images when grad is enabled."""
        if images.dim() != 4 or images.shape[1] != 3:
            raise ValueError(f"segmenter expects images [N,3,H,W], got {tuple(images.shape)}")
        device = next(self.net.parameters()).device
        h, w = images.shape[-2:]
        outs = []
        for chunk in images.split(self.batch_size):
            x = chunk.to(device=device, dtype=torch.float32)
            if (h, w) != (NATIVE_RESOLUTION, NATIVE_RESOLUTION):
                x = F.interpolate(x, size=(NATIVE_RESOLUTION, NATIVE_RESOLUTION), mode="bilinear",
                                  align_corners=False, antialias=True)
            # channels_last input: the same numbers (to float rounding), ~1.5× faster convolutions on a CPU
            y = self.net(x.contiguous(memory_format=torch.channels_last))
            if (h, w) != (NATIVE_RESOLUTION, NATIVE_RESOLUTION):
                y = F.interpolate(y, size=(h, w), mode="bilinear", align_corners=False)
            outs.append(y)
        return torch.cat(outs).to(images.device)

    @torch.no_grad()
    def segment(self, images: torch.Tensor) -> torch.Tensor:
        return self.logits(images).argmax(dim=1)


def confusion(pred: torch.Tensor, target: torch.Tensor, n_classes: int = len(CLASS_NAMES)) -> torch.Tensor:
    """Pixel confusion matrix [true, pred] (int64), summed over all images."""
    idx = target.reshape(-1).long() * n_classes + pred.reshape(-1).long()
    return torch.bincount(idx, minlength=n_classes * n_classes).reshape(n_classes, n_classes)


def iou_from_confusion(conf: torch.Tensor) -> dict[str, float]:
    tp = conf.diag().double()
    union = conf.sum(0).double() + conf.sum(1).double() - tp
    ious = (tp / union.clamp(min=1)).tolist()
    return {name: ious[i] for i, name in enumerate(CLASS_NAMES)}
