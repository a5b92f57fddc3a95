"""Feature extraction for FID/KID through torch-fidelity, and the real-feature cache.

Extractors are torch-fidelity's (by registry name): `inception` (torch-fidelity's
`inception-v3-compat`, needs its weights file: torch-fidelity's cache under torch.hub's
checkpoints folder, or an explicit path — nothing is downloaded), or any registered extractor such
as the embedded world's `toyscenes`.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import torch

from .cache import cache_key, load_cached, save_cached
from .errors import UsageError
from .real_data import RealSource, TensorImages

INCEPTION_NAME = "inception-v3-compat"
INCEPTION_FILE = "weights-inception-2015-12-05-6726825d.pth"


def inception_weights_candidates() -> list[Path]:
    hub = Path(torch.hub.get_dir()) / "checkpoints" / INCEPTION_FILE
    return [hub]


@dataclass
class Extractor:
    name: str  # torch-fidelity registry name
    layer: str  # feature used for FID and KID
    weights_path: str | None = None

    @property
    def identity(self) -> dict:
        ident = {"name": self.name, "layer": self.layer}
        if self.weights_path:
            st = Path(self.weights_path).stat()
            ident["weights"] = f"{Path(self.weights_path).resolve()}|{st.st_size}|{st.st_mtime_ns}"
        else:
            from .registry import get_builtin_extractor

            builtin = get_builtin_extractor(self.name)
            digest = builtin.weights_digest() if builtin is not None else None
            if digest:
                ident["weights"] = digest
        return ident

    def build(self):
        from torch_fidelity.utils import create_feature_extractor

        kwargs = {"verbose": False}
        if self.weights_path:
            kwargs["feature_extractor_weights_path"] = self.weights_path
        return create_feature_extractor(self.name, [self.layer], cuda=False, **kwargs)


def resolve_extractor(features: str, inception_weights: str | None = None) -> Extractor:
    """`inception` (or torch-fidelity's name for it) needs its weights file; others by registry name."""
    from torch_fidelity.registry import FEATURE_EXTRACTORS_REGISTRY

    from .registry import builtin_extractors, get_builtin_extractor

    builtin = get_builtin_extractor(features)
    if builtin is not None:  # a built-in registers itself with torch-fidelity on first use
        builtin.ensure_registered()
    if features in ("inception", INCEPTION_NAME):
        if inception_weights is not None:
            if not Path(inception_weights).is_file():
                raise UsageError(f"--inception-weights {inception_weights}: file not found")
            return Extractor(INCEPTION_NAME, "2048", str(inception_weights))
        for cand in inception_weights_candidates():
            if cand.is_file():
                return Extractor(INCEPTION_NAME, "2048", str(cand))
        where = ", ".join(str(c) for c in inception_weights_candidates())
        raise UsageError(f"Inception weights not found (looked in {where}); this machine cannot download them: "
                         f"pass --inception-weights PATH (torch-fidelity's {INCEPTION_FILE}), or use --features toyscenes "
                         f"(the embedded world's offline extractor; its distances are not Inception FID)")
    if features not in FEATURE_EXTRACTORS_REGISTRY:
        names = sorted(set(FEATURE_EXTRACTORS_REGISTRY) | {"inception"} | set(builtin_extractors()))
        raise UsageError(f"unknown feature extractor {features!r}; choose one of: {', '.join(names)}")
    cls = FEATURE_EXTRACTORS_REGISTRY[features]
    return Extractor(features, cls.get_default_feature_layer_for_metric("fid"))


@torch.no_grad()
def extract(extractor: Extractor, images: torch.Tensor, batch_size: int = 64, fe=None) -> torch.Tensor:
    """Features [N, D] of uint8 images [N, 3, H, W], by torch-fidelity's own extraction loop."""
    from torch_fidelity.utils import get_featuresdict_from_dataset

    fe = fe or extractor.build()
    feats = get_featuresdict_from_dataset(TensorImages(images), fe, batch_size, False, True, False)
    return feats[extractor.layer].double()


def real_features(real: RealSource, n: int, extractor: Extractor, batch_size: int = 64, use_cache: bool = True) -> torch.Tensor:
    """Features of n real images, cached by data identity + extractor + n."""
    key = cache_key("real_features", data=real.identity(n), extractor=extractor.identity, n=n)
    if use_cache:
        hit = load_cached("real_features", key)
        if hit is not None:
            return hit["features"]
    feats = extract(extractor, real.images(n), batch_size)
    if use_cache:
        save_cached("real_features", key, {"features": feats})
    return feats
