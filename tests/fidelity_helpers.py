"""Register a small fixed network with torch-fidelity as a feature extractor, for tests (no downloads)."""
from __future__ import annotations

from typing import Callable

import torch
from torch import nn


def register_net_extractor(name: str, make_net: Callable[[], nn.Module], input_size: int = 16) -> str:
    """Register `make_net()` (uint8 images → [N, d] features, see each caller's preprocessing) under `name`,
    once per process; returns the name, usable as `--features name`."""
    from torch_fidelity.feature_extractor_base import FeatureExtractorBase
    from torch_fidelity.registry import FEATURE_EXTRACTORS_REGISTRY, register_feature_extractor

    if name in FEATURE_EXTRACTORS_REGISTRY:
        return name

    class NetExtractor(FeatureExtractorBase):
        def __init__(self, name, features_list, **kwargs):
            super().__init__(name, features_list)
            self.net = make_net()
            self.eval()

        @staticmethod
        def get_provided_features_list():
            return ("feat",)

        @staticmethod
        def get_default_feature_layer_for_metric(metric):
            return "feat"

        @staticmethod
        def can_be_compiled():
            return False

        @staticmethod
        def get_dummy_input_for_compile():
            return torch.zeros(1, 3, input_size, input_size, dtype=torch.uint8)

        def forward(self, x):
            return (self.net(x),)

    register_feature_extractor(name, NetExtractor)
    return name
