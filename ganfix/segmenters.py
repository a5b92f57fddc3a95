"""Segmenter interface: images → per-pixel class map, plus class names.

Images are float tensors [N, 3, H, W] in [-1, 1] (ganfix converts any generator's output range to
this). `segment` returns a LongTensor [N, H, W] of class indices into `class_names`.
"""
from __future__ import annotations

from typing import Protocol, runtime_checkable

import torch


@runtime_checkable
class Segmenter(Protocol):
    class_names: list[str]

    def segment(self, images: torch.Tensor) -> torch.Tensor:  # [N,3,H,W] in [-1,1] → [N,H,W] long
        ...
