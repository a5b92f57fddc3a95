"""A generator and segmenter with known answers, for tests and benchmarks.

`SyntheticBlobs`: layer1 [B, U, 8, 8] where unit `door_unit` is a Gaussian blob field F ∈ (0, 1]
(position and size from z), unit `tree_unit` another blob, the rest noise in [0, 1); layer2 is an
identity 1×1 conv (a later layer for tracing); `output` renders channel 0 = tanh(20·(up(F_door) − ½)),
channel 1 likewise for tree, with up = bilinear ×4 (the same upsampling dissection uses).
`BlobSegmenter`: door where channel 0 > 0, else tree where channel 1 > 0, else sky. So the door
mask is exactly [up(F_door) > ½], and ablating the door unit wherever door is present removes every
door pixel (F ≥ 0 and bilinear weights are non-negative, so no neighbour can push a pixel back over ½).
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn


class _Fields(nn.Module):
    def __init__(self, z_dim: int, units: int, size: int, door_unit: int, tree_unit: int):
        super().__init__()
        g = torch.Generator().manual_seed(1234)
        self.register_buffer("proj", torch.randn(z_dim, units * size * size, generator=g) / z_dim ** 0.5)
        self.units, self.size, self.door_unit, self.tree_unit = units, size, door_unit, tree_unit

    def _blob(self, z: torch.Tensor, k: int) -> torch.Tensor:
        s = self.size
        cy, cx = torch.sigmoid(z[:, k]) * s, torch.sigmoid(z[:, k + 1]) * s
        r = 0.8 + torch.sigmoid(z[:, k + 2]) * 1.6
        yy = torch.arange(s, dtype=z.dtype, device=z.device).view(1, s, 1) + 0.5
        xx = torch.arange(s, dtype=z.dtype, device=z.device).view(1, 1, s) + 0.5
        d2 = (yy - cy.view(-1, 1, 1)) ** 2 + (xx - cx.view(-1, 1, 1)) ** 2
        return torch.exp(-d2 / (2 * r.view(-1, 1, 1) ** 2))

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        b = z.shape[0]
        noise = torch.sigmoid(z @ self.proj).view(b, self.units, self.size, self.size)
        door, tree = self._blob(z, 0), self._blob(z, 3)
        out = noise.clone()
        out[:, self.door_unit] = door
        out[:, self.tree_unit] = tree
        return out


class _Render(nn.Module):
    def __init__(self, door_unit: int, tree_unit: int, scale: int):
        super().__init__()
        self.door_unit, self.tree_unit, self.scale = door_unit, tree_unit, scale

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        up = F.interpolate(x[:, [self.door_unit, self.tree_unit]], scale_factor=self.scale, mode="bilinear",
                           align_corners=False)
        rgb = torch.tanh(20 * (up - 0.5))
        return torch.cat([rgb, torch.zeros_like(rgb[:, :1])], 1)


class SyntheticBlobs(nn.Module):
    def __init__(self, z_dim: int = 16, units: int = 8, size: int = 8, scale: int = 4, door_unit: int = 3,
                 tree_unit: int = 5):
        super().__init__()
        self.z_dim = z_dim
        self.door_unit, self.tree_unit = door_unit, tree_unit
        self.layer1 = _Fields(z_dim, units, size, door_unit, tree_unit)
        self.layer2 = nn.Conv2d(units, units, 1, bias=False)
        with torch.no_grad():
            self.layer2.weight.copy_(torch.eye(units).view(units, units, 1, 1))
        self.output = _Render(door_unit, tree_unit, scale)

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return self.output(self.layer2(self.layer1(z)))


class BlobSegmenter:
    class_names = ["sky", "door", "tree"]
    fingerprint = "synthetic-blob-segmenter-v1"

    def scores(self, images: torch.Tensor) -> torch.Tensor:
        door, tree = images[:, 0], images[:, 1]
        sky = torch.zeros_like(door)
        return torch.stack([sky, door * 8, torch.minimum(tree, -door) * 8], 1)  # argmax = segment()

    def segment(self, images: torch.Tensor) -> torch.Tensor:
        door, tree = images[:, 0] > 0, images[:, 1] > 0
        return torch.where(door, 1, torch.where(tree, 2, 0)).long()


def synthetic_generator():
    from ..generator import Generator

    return Generator(SyntheticBlobs(), (16,), (-1.0, 1.0), name="synthetic-blobs", device="cpu")
