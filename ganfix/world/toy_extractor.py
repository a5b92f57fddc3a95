"""Offline feature extractor for Fréchet distances, registered with torch-fidelity as `toyscenes`.

Inception weights cannot be downloaded here, so Fréchet/kernel distances in the toy world use the
encoder of the toy segmenter (trained on the scenes, shipped in ganfix/world/assets): its deepest
feature map (8×8 at 64 px input), global-average-pooled, is the 'pool' feature (128-d), playing the
role of Inception's 2048-d pool3.  Because it was trained to parse sky/buildings/windows/doors/trees,
distances in this space respond to missing or malformed objects, blur and colour shifts.

    from ganfix.world.toy_extractor import ensure_registered, FEATURE_LAYER
    ensure_registered()
    torch_fidelity.calculate_metrics(input1=..., input2=..., fid=True, kid=True, cuda=False,
        feature_extractor="toyscenes", feature_layer_fid=FEATURE_LAYER, feature_layer_kid=FEATURE_LAYER)

Nothing downloads: weights come from the package (or `feature_extractor_weights_path`).
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch_fidelity.feature_extractor_base import FeatureExtractorBase
from torch_fidelity.helpers import vassert

from .toy_segmenter import NATIVE_RESOLUTION, load_segnet

NAME = "toyscenes"
FEATURE_LAYER = "pool"
# 'pool': GAP of the bottleneck (128-d); 'pool_all': GAP of enc2+enc3+bottleneck (224-d);
# 'class_freq': mean class posterior per image (7-d, what the segmenter "sees").
PROVIDED_FEATURES = ("pool", "pool_all", "class_freq")


class ToyWorldExtractor(FeatureExtractorBase):
    """What the toy world's extractors share for torch-fidelity: uint8 [B,3,H,W] → [-1,1] at the native
    resolution, no compilation. Subclasses name their features and implement `load` and `features`."""

    PROVIDED: tuple[str, ...] = ()
    DEFAULT = ""
    LABEL = ""

    def __init__(self, name, features_list, feature_extractor_weights_path=None, **kwargs):
        super().__init__(name, features_list)
        self.net = self.load(feature_extractor_weights_path)
        self.requires_grad_(False)
        self.eval()

    @classmethod
    def get_provided_features_list(cls):
        return cls.PROVIDED

    @classmethod
    def get_default_feature_layer_for_metric(cls, metric):
        if metric in ("fid", "kid", "prc"):
            return cls.DEFAULT
        raise ValueError(f"the {cls.LABEL} extractor provides no feature for metric {metric!r}")

    @staticmethod
    def can_be_compiled():
        return False

    @staticmethod
    def get_dummy_input_for_compile():
        return torch.zeros(1, 3, NATIVE_RESOLUTION, NATIVE_RESOLUTION, dtype=torch.uint8)

    def forward(self, x):
        vassert(torch.is_tensor(x) and x.dtype == torch.uint8, "Expecting image as torch.Tensor with dtype=torch.uint8")
        vassert(x.dim() == 4 and x.shape[1] == 3, f"Input is not Bx3xHxW: {x.shape}")
        x = x.float().div(127.5).sub(1.0)  # same [-1,1] mapping the networks were trained with
        if x.shape[-2:] != (NATIVE_RESOLUTION, NATIVE_RESOLUTION):
            x = F.interpolate(x, size=(NATIVE_RESOLUTION, NATIVE_RESOLUTION), mode="bilinear",
                              align_corners=False, antialias=True)
        return self.features(x)

    def load(self, path):
        raise NotImplementedError

    def features(self, x) -> tuple:
        raise NotImplementedError


class FeatureExtractorToyScenes(ToyWorldExtractor):
    PROVIDED = PROVIDED_FEATURES
    DEFAULT = FEATURE_LAYER
    LABEL = "toyscenes"

    def load(self, path):
        return load_segnet(path)

    def features(self, x) -> tuple:
        feats = self.net.encode(x)
        out = {}
        gap = lambda t: t.mean(dim=(2, 3))  # noqa: E731
        if "pool" in self.features_list:
            out["pool"] = gap(feats["bottleneck"])
        if "pool_all" in self.features_list:
            out["pool_all"] = torch.cat([gap(feats["enc2"]), gap(feats["enc3"]), gap(feats["bottleneck"])], 1)
        if "class_freq" in self.features_list:
            out["class_freq"] = self.net(x).softmax(1).mean(dim=(2, 3))
        return tuple(out[name].float() for name in self.features_list)


def ensure_registered() -> None:
    """Register `toyscenes` with torch-fidelity once (registering twice is an error there)."""
    from torch_fidelity.registry import FEATURE_EXTRACTORS_REGISTRY, register_feature_extractor

    if NAME not in FEATURE_EXTRACTORS_REGISTRY:
        register_feature_extractor(NAME, FeatureExtractorToyScenes)
