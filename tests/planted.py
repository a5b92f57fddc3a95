"""A tiny generator with planted artifact units, and a small feature extractor, for repair tests.

`features` (the analysed layer) has 8 content units and 2 planted artifact units (8, 9). The
planted units fire as a blob at a latent-dependent place in ~31% of samples (z[0] > 0.5), and the
painter adds a checkerboard wherever they fire. With them ablated, images are exactly the clean
content. Loadable as a ganfix spec: `tests/planted.py:planted`.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

CONTENT_UNITS = list(range(8))
PLANTED_UNITS = [8, 9]
RES = 16


class Features(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(16, 8 * 8 * 8)

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        content = torch.tanh(self.fc(z)).view(-1, 8, 8, 8)
        gate = (z[:, 0] > 0.5).float()
        ys = torch.arange(8, dtype=z.dtype, device=z.device).view(1, 8, 1)
        xs = torch.arange(8, dtype=z.dtype, device=z.device).view(1, 1, 8)
        cy = (torch.sigmoid(z[:, 1]) * 5 + 1.5).view(-1, 1, 1)
        cx = (torch.sigmoid(z[:, 2]) * 5 + 1.5).view(-1, 1, 1)
        blob = torch.exp(-((ys - cy) ** 2 + (xs - cx) ** 2) / 1.5) * 3 * gate.view(-1, 1, 1)
        planted = blob.unsqueeze(1).expand(-1, 2, -1, -1)
        return torch.cat([content, planted], 1)


class Painter(nn.Module):
    def __init__(self):
        super().__init__()
        self.to_rgb = nn.Conv2d(8, 3, 3, padding=1)
        ys, xs = torch.meshgrid(torch.arange(RES), torch.arange(RES), indexing="ij")
        self.register_buffer("checker", (((ys + xs) % 2) * 2 - 1).float().view(1, 1, RES, RES))

    def forward(self, h: torch.Tensor) -> torch.Tensor:
        content, planted = h[:, :8], h[:, 8:]
        img = torch.tanh(self.to_rgb(F.interpolate(content, scale_factor=2.0)))
        art = F.interpolate(planted.sum(1, keepdim=True), scale_factor=2.0, mode="bilinear", align_corners=False)
        return (img + (art > 0.5).float() * self.checker * 0.9).clamp(-1, 1)


class PlantedGenerator(nn.Module):
    z_dim = 16

    def __init__(self, seed: int = 0):
        super().__init__()
        torch.manual_seed(seed)
        self.features = Features()
        self.paint = Painter()

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return self.paint(self.features(z))


def planted() -> PlantedGenerator:
    return PlantedGenerator(0)


def write_clean_images(gen, folder, ids, seed: int):
    """'Real' images for repair tests: the generator with the planted units off, as PNGs in folder."""
    from PIL import Image

    from ganfix.patch import Patch

    with Patch("features", PLANTED_UNITS).applied(gen):
        images = gen.to_uint8(gen.generate(ids, seed=seed)).permute(0, 2, 3, 1).numpy()
    for i, im in enumerate(images):
        Image.fromarray(im).save(folder / f"{i:04d}.png")
    return folder


class _TestFeatures(nn.Module):
    """Fixed random conv features (mean and std pooled): responsive to colour and texture."""

    def __init__(self):
        super().__init__()
        g = torch.Generator().manual_seed(1234)
        self.w = nn.Parameter(torch.randn(24, 3, 3, 3, generator=g) * 0.5, requires_grad=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = F.relu(F.conv2d(x, self.w, padding=1))
        return torch.cat([h.mean((2, 3)), h.std((2, 3)), x.mean((2, 3))], 1)


def register_test_extractor(name: str = "planted-test") -> str:
    from fidelity_helpers import register_net_extractor

    class Net(nn.Module):
        def __init__(self):
            super().__init__()
            self.features = _TestFeatures()

        def forward(self, x):
            return self.features(x.float() / 127.5 - 1).double().float()

    return register_net_extractor(name, Net, RES)
