"""Small user generators that ganfix never saw (random weights): a 1-channel DCGAN and an MLP with flat
[N, 784] outputs; a feature extractor given as file.py:factory; helpers to write grey real images."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
from PIL import Image
from torch import nn


class DCGAN(nn.Module):
    """PyTorch-tutorial style DCGAN generator, 1 channel, 32×32 (BatchNorm after each deconvolution)."""

    def __init__(self, nz: int = 16, ngf: int = 16, nc: int = 1):
        super().__init__()
        self.nz = nz
        self.main = nn.Sequential(
            nn.ConvTranspose2d(nz, ngf * 4, 4, 1, 0, bias=False), nn.BatchNorm2d(ngf * 4), nn.ReLU(True),
            nn.ConvTranspose2d(ngf * 4, ngf * 2, 4, 2, 1, bias=False), nn.BatchNorm2d(ngf * 2), nn.ReLU(True),
            nn.ConvTranspose2d(ngf * 2, ngf, 4, 2, 1, bias=False), nn.BatchNorm2d(ngf), nn.ReLU(True),
            nn.ConvTranspose2d(ngf, nc, 4, 2, 1, bias=False), nn.Tanh())

    def forward(self, z):
        return self.main(z.view(z.shape[0], -1, 1, 1))


class MLP(nn.Module):
    """An MNIST-style MLP generator: z → [N, 784] (a flat 28×28 image)."""

    def __init__(self, nz: int = 16):
        super().__init__()
        self.z_dim = nz
        self.fc1 = nn.Linear(nz, 64)
        self.act1 = nn.ReLU()
        self.fc2 = nn.Linear(64, 128)
        self.act2 = nn.ReLU()
        self.out = nn.Linear(128, 784)
        self.tanh = nn.Tanh()

    def forward(self, z):
        return self.tanh(self.out(self.act2(self.fc2(self.act1(self.fc1(z))))))


def dcgan():
    torch.manual_seed(0)
    g = DCGAN()
    g.eval()
    return g


def mlp():
    torch.manual_seed(1)
    return MLP()


class TinyFeatures(nn.Module):
    """A fixed random conv net: uint8 grey [N, 1, 28, 28] → [N, 24] (declared by attributes)."""
    input_channels = 1
    input_size = 28

    def __init__(self):
        super().__init__()
        torch.manual_seed(5)
        self.net = nn.Sequential(nn.Conv2d(1, 12, 3, 2, 1), nn.ReLU(), nn.Conv2d(12, 24, 3, 2, 1), nn.ReLU(),
                                 nn.AdaptiveAvgPool2d(1), nn.Flatten())

    def forward(self, x):
        assert x.dtype == torch.uint8 and x.shape[1:] == (1, 28, 28), x.shape
        return self.net(x.float() / 127.5 - 1)


def features():
    return TinyFeatures().eval()


def write_grey_images(folder: Path, n: int, size: int, seed: int = 0) -> Path:
    """n grey PNGs of blobs on a dark background (a stand-in real set)."""
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[:size, :size]
    for i in range(n):
        cx, cy, r = rng.uniform(size * 0.3, size * 0.7, 2).tolist() + [rng.uniform(size * 0.15, size * 0.35)]
        img = np.clip(255 * np.exp(-((xx - cx) ** 2 + (yy - cy) ** 2) / (2 * r * r)) + rng.normal(0, 8, (size, size)), 0, 255)
        Image.fromarray(img.astype(np.uint8), "L").save(folder / f"{i:04d}.png")
    return folder
