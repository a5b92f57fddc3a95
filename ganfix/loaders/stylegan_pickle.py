"""StyleGAN2-ADA style pickles (code runs when they load: only with trust_pickle)."""
from __future__ import annotations

import torch
from torch import nn


class StyleGANAdapter(nn.Module):
    """Calls a StyleGAN2-ADA style G(z, c) with an empty class label."""

    def __init__(self, g: nn.Module):
        super().__init__()
        self.g = g
        self.z_shape = (int(g.z_dim),)

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        c = torch.zeros(z.shape[0], int(getattr(self.g, "c_dim", 0)), device=z.device)
        return self.g(z, c)
