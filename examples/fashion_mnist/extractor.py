"""A Fashion-MNIST feature extractor for ganfix: `--features examples/fashion_mnist/extractor.py:factory`.

`factory()` returns an nn.Module that maps uint8 images [N, C, H, W] (C = 1, or 3 which is averaged
to gray; any H, W, resized to 28×28 bilinearly with antialiasing) to float32 features [N, 128]: the
penultimate layer (after ReLU) of the small CNN classifier trained by train_classifier.py, whose
weights ship in assets/classifier_fmnist.pt (loaded with weights_only=True, relative to this file).

Declared on the module: `input_channels = 1`, `input_size = (28, 28)`, `feature_dim = 128`.
This file is imported by ganfix under its own module name, so it imports nothing from its folder.
"""
from __future__ import annotations

from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

WEIGHTS = Path(__file__).resolve().parent / "assets" / "classifier_fmnist.pt"
FEATURE_DIM = 128


class FashionCNN(nn.Module):
    """[N, 1, 28, 28] in [-1, 1] → 10 class logits; `features` is everything but the last Linear."""

    def __init__(self, feature_dim: int = FEATURE_DIM, classes: int = 10):
        super().__init__()
        self.features = nn.Sequential(
            nn.Conv2d(1, 32, 3, padding=1), nn.ReLU(),
            nn.MaxPool2d(2),                                             # 14×14
            nn.Conv2d(32, 64, 3, padding=1), nn.ReLU(),
            nn.MaxPool2d(2),                                             # 7×7
            nn.Flatten(),
            nn.Linear(64 * 7 * 7, feature_dim), nn.ReLU(),
        )
        self.head = nn.Sequential(nn.Dropout(0.3), nn.Linear(feature_dim, classes))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.features(x))


def to_input(images: torch.Tensor, size: tuple[int, int] = (28, 28)) -> torch.Tensor:
    """uint8 (or 0..255 float) [N, C, H, W], C ∈ {1, 3} → float [N, 1, 28, 28] in [-1, 1]."""
    if images.dim() != 4 or images.shape[1] not in (1, 3):
        raise ValueError(f"expected images [N, 1 or 3, H, W], got {tuple(images.shape)}")
    x = images.float()
    if x.shape[1] == 3:
        x = x.mean(dim=1, keepdim=True)
    if tuple(x.shape[-2:]) != tuple(size):
        x = F.interpolate(x, size=size, mode="bilinear", align_corners=False, antialias=True)
    return x / 127.5 - 1.0


class FashionFeatures(nn.Module):
    """uint8 images [N, C, H, W] → features [N, 128] (the classifier's penultimate layer)."""

    input_channels = 1
    input_size = (28, 28)
    feature_dim = FEATURE_DIM

    def __init__(self, net: FashionCNN):
        super().__init__()
        self.net = net.eval()

    @torch.no_grad()
    def forward(self, images: torch.Tensor) -> torch.Tensor:
        return self.net.features(to_input(images, self.input_size))

    def train(self, mode: bool = True) -> "FashionFeatures":  # a fixed extractor: always eval (dropout off)
        return super().train(False)


def factory() -> FashionFeatures:
    """ganfix factory: the trained extractor (weights from assets/classifier_fmnist.pt)."""
    if not WEIGHTS.is_file():
        raise FileNotFoundError(f"{WEIGHTS} is missing; train it with python examples/fashion_mnist/train_classifier.py")
    net = FashionCNN()
    net.load_state_dict(torch.load(WEIGHTS, map_location="cpu", weights_only=True))
    return FashionFeatures(net)
