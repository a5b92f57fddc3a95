"""A small DCGAN for 28×28 Fashion-MNIST, laid out like the PyTorch DCGAN tutorial
(https://pytorch.org/tutorials/beginner/dcgan_faces_tutorial.html): `self.main = nn.Sequential(...)`.

ganfix loads it as `examples/fashion_mnist/models.py:generator --weights assets/dcgan_fmnist.pt
--weights-key netG_state_dict`; its hookable layers are `main.0` … `main.10` (ConvTranspose2d,
BatchNorm2d and ReLU of each block; the post-ReLU layers are the ones to ablate, since a unit
zeroed before BatchNorm is shifted back on by the norm's bias).

This file is imported by ganfix under its own module name, so it imports nothing from its folder.
"""
from __future__ import annotations

import torch
from torch import nn

NZ = 64    # latent size
NGF = 64   # generator width
NDF = 32   # discriminator width


class Generator(nn.Module):
    """z [N, nz, 1, 1] (or [N, nz]) → image [N, 1, 28, 28] in [-1, 1]."""

    def __init__(self, nz: int = NZ, ngf: int = NGF):
        super().__init__()
        self.nz = nz
        self.z_shape = (nz, 1, 1)
        self.main = nn.Sequential(
            nn.ConvTranspose2d(nz, ngf * 2, 7, 1, 0, bias=False),       # 7×7
            nn.BatchNorm2d(ngf * 2),
            nn.ReLU(True),
            nn.ConvTranspose2d(ngf * 2, ngf, 4, 2, 1, bias=False),      # 14×14
            nn.BatchNorm2d(ngf),
            nn.ReLU(True),
            nn.ConvTranspose2d(ngf, ngf // 2, 4, 2, 1, bias=False),     # 28×28
            nn.BatchNorm2d(ngf // 2),
            nn.ReLU(True),
            nn.Conv2d(ngf // 2, 1, 3, 1, 1, bias=False),                # 28×28, 1 channel
            nn.Tanh(),
        )

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        if z.dim() == 2:
            z = z[:, :, None, None]
        return self.main(z)


class Discriminator(nn.Module):
    """image [N, 1, 28, 28] → logit [N]."""

    def __init__(self, ndf: int = NDF):
        super().__init__()
        self.main = nn.Sequential(
            nn.Conv2d(1, ndf, 4, 2, 1, bias=False),                     # 14×14
            nn.LeakyReLU(0.2, inplace=True),
            nn.Conv2d(ndf, ndf * 2, 4, 2, 1, bias=False),               # 7×7
            nn.BatchNorm2d(ndf * 2),
            nn.LeakyReLU(0.2, inplace=True),
            nn.Conv2d(ndf * 2, 1, 7, 1, 0, bias=False),                 # 1×1
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.main(x).view(-1)


def weights_init(m: nn.Module) -> None:
    """The DCGAN tutorial's initialisation: N(0, 0.02) convs, N(1, 0.02) BatchNorm scales."""
    name = type(m).__name__
    if "Conv" in name:
        nn.init.normal_(m.weight, 0.0, 0.02)
    elif "BatchNorm" in name:
        nn.init.normal_(m.weight, 1.0, 0.02)
        nn.init.zeros_(m.bias)


def generator() -> Generator:
    """ganfix factory: the untrained generator (weights come from --weights)."""
    return Generator()


def discriminator() -> Discriminator:
    return Discriminator()
