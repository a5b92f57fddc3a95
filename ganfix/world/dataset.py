"""Torch datasets over the procedural scenes (rendered on demand, or all at once into memory).

`SceneDataset` yields (image float [3,H,W] in [-1,1], class map long [H,W]) for training and
evaluation; `SceneImages` yields uint8 [3,H,W] images, the input torch-fidelity expects for the
"real" side of FID/KID.  Item i of stream `seed` is always the same scene (see scenes.render_scene).
"""
from __future__ import annotations

import torch
from torch.utils.data import Dataset

from .scenes import render_batch, render_scene


class SceneDataset(Dataset):
    def __init__(self, n: int, seed: int = 0, resolution: int = 64, cache: bool = False):
        if n < 1:
            raise ValueError(f"a scene dataset needs n ≥ 1, got {n}")
        self.n, self.seed, self.resolution = int(n), int(seed), int(resolution)
        self._cache = None
        if cache:  # render once (~1 ms/scene) when the same scenes are read many times, e.g. training
            rgb, cls = render_batch(self.seed, 0, self.n, self.resolution)
            self._cache = (torch.from_numpy(rgb).permute(0, 3, 1, 2).contiguous(), torch.from_numpy(cls))

    def __len__(self) -> int:
        return self.n

    def _raw(self, i: int) -> tuple[torch.Tensor, torch.Tensor]:
        if not 0 <= i < self.n:
            raise IndexError(i)
        if self._cache is not None:
            return self._cache[0][i], self._cache[1][i]
        rgb, cls = render_scene(self.seed, i, self.resolution)
        return torch.from_numpy(rgb).permute(2, 0, 1).contiguous(), torch.from_numpy(cls)

    def __getitem__(self, i: int) -> tuple[torch.Tensor, torch.Tensor]:
        rgb, cls = self._raw(i)
        return rgb.float().div(127.5).sub(1.0), cls.long()


class SceneImages(SceneDataset):
    """uint8 [3,H,W] images only (torch-fidelity's input format)."""

    def __getitem__(self, i: int) -> torch.Tensor:  # type: ignore[override]
        return self._raw(i)[0]


def real_images(n: int, seed: int = 0, resolution: int = 64) -> torch.Tensor:
    """n rendered scenes as one uint8 tensor [n,3,H,W]."""
    rgb, _ = render_batch(seed, 0, n, resolution)
    return torch.from_numpy(rgb).permute(0, 3, 1, 2).contiguous()
