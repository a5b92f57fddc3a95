"""Feature extractors for FID/KID through torch-fidelity, and the real-feature cache.

`--features NAME` picks one:

- `inception` (torch-fidelity's `inception-v3-compat`, standard FID), `vgg16`, `clip-…`, `dinov2-…`:
  torch-fidelity's networks, which need weights files. ganfix looks for a local file (`--feature-weights
  PATH`, alias `--inception-weights`, or torch-fidelity's usual cache under torch.hub's checkpoints
  folder); without one it lets torch-fidelity download into that cache, unless `offline` (`--offline`,
  or GANFIX_OFFLINE=1) forbids it. When the weights cannot be had: one line naming the file and the
  way out, never a traceback.
- `toyscenes`: the embedded toy world's offline extractor (the segmenter's encoder); `toyscenes-ssl`: a
  second offline space, a self-supervised encoder trained independently of the segmenter
  (ganfix/world/toy_ssl.py).
- `path/to/file.py:factory`: the user's own network. `factory()` returns an `nn.Module` mapping uint8
  images [N, C, H, W] (0…255) to features [N, D]. Optional attributes declare what it wants:
  `input_channels` (1 or 3: ganfix replicates grey to RGB or averages RGB to grey) and `input_size`
  (int or (H, W): ganfix resizes bilinearly). ganfix registers it with torch-fidelity under the hood, so
  FID/KID and the caches work unchanged; the cache key includes its fingerprint (weights and source file).

Every weights file handed to torch-fidelity is first read with `torch.load(weights_only=True)` and
checked (a state dict of tensors with the network's keys), then re-saved from those tensors alone into
a private temporary file that torch-fidelity reads: torch-fidelity's own `torch.load(weights_only=False)`
never sees the user's file, so a pickle cannot run code.
"""
from __future__ import annotations

import hashlib
import os
import shutil
import tempfile
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import torch
import torch.nn.functional as F
from torch import nn

from .cache import cache_key, features_validator, load_cached, save_cached
from .errors import UsageError
from .real_data import RealSource, TensorImages

INCEPTION_NAME = "inception-v3-compat"
INCEPTION_FILE = "weights-inception-2015-12-05-6726825d.pth"
USER_FEATURE = "features"  # the one feature a file.py:factory extractor provides


@dataclass(frozen=True)
class WeightsInfo:
    """What a torch-fidelity network needs: its file name in torch.hub's checkpoints folder, the file's
    format, and keys every valid state dict has (checked before torch-fidelity sees the file)."""
    file: str
    kind: str  # "state_dict" | "torchscript" | "hub" (torch.hub code + weights: no local file supported)
    signature: tuple[str, ...] = ()


def _weights_info(name: str) -> WeightsInfo | None:
    if name == INCEPTION_NAME:
        return WeightsInfo(INCEPTION_FILE, "state_dict", ("Conv2d_1a_3x3.conv.weight", "Mixed_7c.branch_pool.conv.weight",
                                                          "fc.weight", "fc.bias"))
    if name == "vgg16":
        return WeightsInfo("vgg16-397923af.pth", "state_dict", ("features.0.weight", "features.28.weight",
                                                                "classifier.0.weight", "classifier.6.bias"))
    if name.startswith("clip-"):
        from torch_fidelity.feature_extractor_clip import MODEL_METADATA

        if name in MODEL_METADATA:
            return WeightsInfo(f"{name}-{MODEL_METADATA[name]['hash']}.pt", "torchscript")
    if name.startswith("dinov2-"):
        return WeightsInfo("facebookresearch/dinov2", "hub")
    return None


def hub_checkpoints() -> Path:
    return Path(torch.hub.get_dir()) / "checkpoints"


def inception_weights_candidates() -> list[Path]:
    return [hub_checkpoints() / INCEPTION_FILE]


def _cache_candidates(name: str, info: WeightsInfo) -> list[Path]:
    if info.kind == "hub":
        return []
    return inception_weights_candidates() if name == INCEPTION_NAME else [hub_checkpoints() / info.file]


def offline_default() -> bool:
    return os.environ.get("GANFIX_OFFLINE", "").strip().lower() in ("1", "true", "yes", "on")


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return (text.splitlines()[0] if text else type(exc).__name__)[:200]


def read_weights_state(path: Path, name: str, signature: tuple[str, ...] = ()) -> dict[str, torch.Tensor]:
    """A weights file as a flat state dict of tensors, read with weights_only=True (never runs code)."""
    if not path.is_file():
        raise UsageError(f"{name} weights file not found: {path}")
    try:
        obj = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:
        if "weights_only" in str(exc) or "Unsupported global" in str(exc) or "GLOBAL" in str(exc):
            raise UsageError(f"{path} is not a plain weights file: it needs code to unpickle, and ganfix never runs "
                             f"code from a weights file; give torch-fidelity's {name} state dict instead") from None
        raise UsageError(f"could not read {name} weights {path}: {_first_line(exc)}") from None
    if isinstance(obj, dict) and "state_dict" in obj and isinstance(obj["state_dict"], dict):
        obj = obj["state_dict"]
    if not isinstance(obj, dict) or not obj or not all(isinstance(k, str) and isinstance(v, torch.Tensor)
                                                       for k, v in obj.items()):
        raise UsageError(f"{path} does not hold a state dict of tensors, so it is not {name} weights")
    missing = [k for k in signature if k not in obj]
    if missing:
        raise UsageError(f"{path} is not {name} weights: keys {', '.join(missing[:3])} are missing")
    return obj


class _SafeCopy:
    """A weights file re-saved from validated tensors into a private temporary folder (removed on exit)."""

    def __init__(self, state: dict[str, torch.Tensor]):
        self.state = state
        self.dir: str | None = None

    def __enter__(self) -> str:
        self.dir = tempfile.mkdtemp(prefix="ganfix-weights-")  # mode 0700: only this user
        path = os.path.join(self.dir, "weights.pth")
        torch.save({k: v.contiguous() for k, v in self.state.items()}, path)
        return path

    def __exit__(self, *exc) -> None:
        if self.dir:
            shutil.rmtree(self.dir, ignore_errors=True)


def _channels_to(images: torch.Tensor, channels: int | None) -> torch.Tensor:
    """uint8 [N, C, H, W] → `channels` channels: grey replicated to RGB, RGB averaged to grey."""
    c = images.shape[1]
    if channels is None or c == channels:
        return images
    if c == 1 and channels == 3:
        return images.expand(-1, 3, -1, -1)
    if c == 3 and channels == 1:
        return images.float().mean(1, keepdim=True).round().clamp(0, 255).to(torch.uint8)
    raise UsageError(f"images have {c} channels; the feature extractor takes {channels}")


def _resize_uint8(images: torch.Tensor, size: tuple[int, int] | None) -> torch.Tensor:
    if size is None or tuple(images.shape[-2:]) == tuple(size):
        return images
    out = F.interpolate(images.float(), size=size, mode="bilinear", align_corners=False,
                        antialias=size[0] < images.shape[-2])
    return out.round().clamp(0, 255).to(torch.uint8)


# -- user extractors (file.py:factory) ----------------------------------------------------------------

@dataclass
class UserExtractor:
    """A user's feature network (from file.py:factory) with its declared input and its fingerprint."""
    spec: str
    module: nn.Module
    channels: int | None
    size: tuple[int, int] | None
    fingerprint: str


_user_cache: dict[str, UserExtractor] = {}


def _declared_size(module: nn.Module, spec: str) -> tuple[int, int] | None:
    size = getattr(module, "input_size", None)
    if size is None:
        return None
    if isinstance(size, int) and size >= 1:
        return (size, size)
    if isinstance(size, (tuple, list)) and len(size) == 2 and all(isinstance(s, int) and s >= 1 for s in size):
        return (int(size[0]), int(size[1]))
    raise UsageError(f"{spec}: input_size must be an int or (H, W), got {size!r}")


def load_user_extractor(spec: str) -> UserExtractor:
    """Import file.py (the user's own code: it runs) and call factory(); validated and fingerprinted."""
    from .fingerprint import fingerprint_module
    from .user_code import call_factory

    file_part, factory_name = spec.rsplit(":", 1)
    path = Path(file_part)
    if not path.is_file():
        raise UsageError(f"feature extractor file not found: {path}")
    source_hash = _sha256(path)[:16]
    memo = f"{path.resolve()}:{factory_name}:{source_hash}"
    if memo in _user_cache:
        return _user_cache[memo]
    module = call_factory(spec, "feature extractor")
    if not isinstance(module, nn.Module):
        raise UsageError(f"{spec}() returned {type(module).__name__}, not a torch.nn.Module mapping uint8 [N,C,H,W] to [N,D]")
    channels = getattr(module, "input_channels", None)
    if channels is not None and channels not in (1, 3):
        raise UsageError(f"{spec}: input_channels must be 1 or 3, got {channels!r}")
    module.eval().requires_grad_(False)
    fp = hashlib.sha256(f"{fingerprint_module(module)}|{source_hash}|{factory_name}".encode()).hexdigest()[:16]
    user = UserExtractor(spec, module, channels, _declared_size(module, spec), fp)
    _user_cache[memo] = user
    return user


def _register_user(user: UserExtractor) -> str:
    """Register the user's network with torch-fidelity (once per fingerprint); returns the registry name."""
    from torch_fidelity.feature_extractor_base import FeatureExtractorBase
    from torch_fidelity.registry import FEATURE_EXTRACTORS_REGISTRY, register_feature_extractor

    reg_name = f"ganfix-user-{user.fingerprint}"
    if reg_name in FEATURE_EXTRACTORS_REGISTRY:
        return reg_name

    class UserFeatureExtractor(FeatureExtractorBase):
        def __init__(self, name, features_list, **kwargs):
            super().__init__(name, features_list)
            self.net = user.module

        @staticmethod
        def get_provided_features_list():
            return (USER_FEATURE,)

        @staticmethod
        def get_default_feature_layer_for_metric(metric):
            return USER_FEATURE

        @staticmethod
        def can_be_compiled():
            return False

        @staticmethod
        def get_dummy_input_for_compile():
            c = user.channels or 3
            h, w = user.size or (64, 64)
            return torch.zeros(1, c, h, w, dtype=torch.uint8)

        def forward(self, x):
            x = _resize_uint8(_channels_to(x, user.channels), user.size)
            try:
                out = self.net(x)
            except Exception as exc:  # noqa: BLE001 - the user's network may raise anything
                if user.channels is not None and user.size is not None:
                    raise  # it declared what it takes and got exactly that: a bug in its code (exit 3)
                raise UsageError(f"feature extractor {user.spec} failed on uint8 images {list(x.shape)}: "
                                 f"{type(exc).__name__}: {_first_line(exc)}; declare input_channels (1 or 3) and input_size (H, W) "
                                 "on its module and ganfix converts the images to them") from None
            if not isinstance(out, torch.Tensor) or out.dim() != 2 or out.shape[0] != x.shape[0]:
                shape = list(out.shape) if isinstance(out, torch.Tensor) else type(out).__name__
                raise UsageError(f"feature extractor {user.spec} returned {shape} for {x.shape[0]} images; "
                                 "it must return features [N, D]")
            return (out.float(),)

    register_feature_extractor(reg_name, UserFeatureExtractor)
    return reg_name


# -- the extractor handle -----------------------------------------------------------------------------

@dataclass
class Extractor:
    name: str  # what reports say: torch-fidelity's name, 'toyscenes', or the user's file.py:factory
    layer: str  # feature used for FID and KID
    weights_path: str | None = None
    registry_name: str = ""  # torch-fidelity registry name (defaults to name)
    channels: int | None = 3  # channels the network takes (torch-fidelity's all take RGB)
    user: UserExtractor | None = field(default=None, repr=False)
    weights_state: dict | None = field(default=None, repr=False)  # validated tensors of weights_path
    weights_info: WeightsInfo | None = field(default=None, repr=False)
    weights_sha: str | None = None
    register: Callable[[], None] | None = field(default=None, repr=False, compare=False)  # deferred registration
    _network: object = field(default=None, repr=False, compare=False)

    def __post_init__(self):
        if not self.registry_name:
            self.registry_name = self.name

    @property
    def is_inception(self) -> bool:
        return self.name == INCEPTION_NAME

    @property
    def metric_name(self) -> str:
        """'FID' only in Inception's feature space; elsewhere a Fréchet distance named by its features."""
        return "FID" if self.is_inception else f"FD ({self.name} features)"

    @property
    def identity(self) -> dict:
        ident = {"name": self.name, "layer": self.layer}
        if self.user is not None:
            ident["fingerprint"] = self.user.fingerprint
        elif self.weights_sha:
            ident["weights"] = self.weights_sha
        else:
            from .registry import get_builtin_extractor

            builtin = get_builtin_extractor(self.name)  # a built-in names its weights' digest
            digest = builtin.weights_digest() if builtin is not None else None
            if digest:
                ident["weights"] = digest
        return ident

    def network(self):
        """The built network, built on first use and kept (extraction is the only reason to build it:
        torch-fidelity's import alone costs seconds)."""
        if self._network is None:
            self._network = self.build()
        return self._network

    def build(self):
        if self.register is not None:
            self.register()
        from torch_fidelity.utils import create_feature_extractor

        kwargs = {"verbose": False}
        try:
            if self.weights_state is not None and self.weights_info is not None and self.weights_info.kind == "state_dict":
                with _SafeCopy(self.weights_state) as safe_path:
                    return create_feature_extractor(self.registry_name, [self.layer], cuda=False,
                                                    feature_extractor_weights_path=safe_path, **kwargs)
            if self.weights_path:  # a TorchScript archive (CLIP), checked in resolve_extractor
                kwargs["feature_extractor_weights_path"] = self.weights_path
            return create_feature_extractor(self.registry_name, [self.layer], cuda=False, **kwargs)
        except UsageError:
            raise
        except Exception as exc:
            where = f"weights {self.weights_path}" if self.weights_path else "weights (download into torch.hub's cache)"
            raise UsageError(f"could not build the {self.name} feature extractor from its {where}: {_first_line(exc)}; "
                             f"pass inception_weights=PATH or other features=") from None


def _torchscript_ok(path: Path, name: str) -> None:
    if not zipfile.is_zipfile(path):
        raise UsageError(f"{path} is not {name} weights: torch-fidelity reads CLIP weights as a TorchScript archive")
    try:
        torch.jit.load(str(path), map_location="cpu")
    except Exception as exc:
        raise UsageError(f"could not read {name} weights {path}: {_first_line(exc)}") from None


# torch-fidelity's default FID/KID feature of extractors whose layer is known without importing it
# (test_known_fid_layers_match_torch_fidelity checks these against torch-fidelity's registry).
KNOWN_FID_LAYERS = {INCEPTION_NAME: "2048"}


def resolve_extractor(features: str, inception_weights: str | None = None, offline: bool | None = None,
                      offline_hint: str | None = None) -> Extractor:
    """Name or file.py:factory → Extractor, with its weights found and validated (see module docstring).

    `inception_weights` is the local weights file of whichever network is named (historic name);
    `offline_hint` names an offline extractor to suggest when weights are missing (only for generators it
    fits, e.g. toyscenes for the toy world's built-in). Inception and the built-ins resolve without
    importing torch-fidelity (seconds, through torchvision and torch._dynamo): that waits until features
    are extracted, so a run whose results are all cached never imports it."""
    from .user_code import is_factory_spec

    if offline is None:
        offline = offline_default()
    if is_factory_spec(features):
        if inception_weights is not None:
            raise UsageError("inception_weights= is for named extractors; a file.py:factory extractor loads its own weights")
        user = load_user_extractor(features)
        file_part, factory_name = features.rsplit(":", 1)
        return Extractor(f"{Path(file_part).name}:{factory_name}", USER_FEATURE, registry_name=_register_user(user),
                         channels=user.channels, user=user)
    if features.endswith(".py") or ".py:" in features:
        raise UsageError(f"features={features!r}: give a file and a factory function, e.g. path/to/extractor.py:factory")
    from .registry import builtin_extractors, get_builtin_extractor

    builtin = get_builtin_extractor(features)
    name = INCEPTION_NAME if features == "inception" else features
    layer = builtin.feature_layer if builtin is not None else KNOWN_FID_LAYERS.get(name)
    register = None
    if builtin is not None:  # a built-in registers itself with torch-fidelity (now, or when first built)
        if layer is None:
            builtin.ensure_registered()
        else:
            builtin.check()
            register = builtin.ensure_registered
    if layer is None:
        from torch_fidelity.registry import FEATURE_EXTRACTORS_REGISTRY

        if name not in FEATURE_EXTRACTORS_REGISTRY:
            names = sorted(set(FEATURE_EXTRACTORS_REGISTRY) - {INCEPTION_NAME} | {"inception"} | set(builtin_extractors()))
            names = [n for n in names if not n.startswith("ganfix-user-")]
            raise UsageError(f"unknown feature extractor {features!r}; choose one of: {', '.join(names)}, "
                             "or your own as path/to/file.py:factory")
        layer = FEATURE_EXTRACTORS_REGISTRY[name].get_default_feature_layer_for_metric("fid")
    ex = _resolve_named(name, layer, inception_weights, offline, offline_hint)
    ex.register = register
    return ex


def _resolve_named(name: str, layer: str, inception_weights: str | None, offline: bool,
                   offline_hint: str | None) -> Extractor:
    info = _weights_info(name)
    if info is None:  # toyscenes or another registered extractor that needs no download
        if inception_weights is not None:
            return _with_local_weights(name, layer, WeightsInfo(Path(inception_weights).name, "state_dict"),
                                       Path(inception_weights))
        return Extractor(name, layer)
    if inception_weights is not None:
        path = Path(inception_weights)
        return _with_local_weights(name, layer, info, path)
    for cached in _cache_candidates(name, info):
        if cached.is_file():
            return _with_local_weights(name, layer, info, cached)
    if offline:
        raise UsageError(_missing_weights(name, info, offline_hint))
    return Extractor(name, layer, weights_info=info)  # torch-fidelity downloads into its cache when built


def _with_local_weights(name: str, layer: str, info: WeightsInfo, path: Path) -> Extractor:
    if info.kind == "hub":
        raise UsageError(f"{name} loads its code and weights through torch.hub (facebookresearch/dinov2) and takes no "
                         "weights file; run once online so torch.hub caches it, or use other features=")
    if not path.is_file():
        raise UsageError(f"{name} weights file not found: {path}")
    sha = _sha256(path)[:16]
    if info.kind == "torchscript":
        _torchscript_ok(path, name)
        return Extractor(name, layer, str(path), weights_info=info, weights_sha=sha)
    state = read_weights_state(path, name, info.signature)
    return Extractor(name, layer, str(path), weights_state=state, weights_info=info, weights_sha=sha)


def _missing_weights(name: str, info: WeightsInfo, offline_hint: str | None) -> str:
    shown = "Inception" if name == INCEPTION_NAME else name
    where = ("in torch.hub's cache" if info.kind == "hub"
             else "at " + ", ".join(str(p) for p in _cache_candidates(name, info)))
    msg = (f"{shown} weights not found {where} and downloads are off (offline=True or GANFIX_OFFLINE=1); "
           + (f"pass inception_weights=PATH (torch-fidelity's {info.file}), run once online to fill the cache"
              if info.kind != "hub" else "run once online so torch.hub caches it")
           + ", or use features=path/to/extractor.py:factory (your own network)")
    if offline_hint:
        msg += f" or features={offline_hint} (offline; its distances are not {'Inception FID' if shown == 'Inception' else shown})"
    return msg


@torch.no_grad()
def extract(extractor: Extractor, images: torch.Tensor, batch_size: int = 64, fe=None) -> torch.Tensor:
    """Features [N, D] of uint8 images [N, C, H, W], by torch-fidelity's own extraction loop.
    1-channel images are replicated to RGB for extractors that take RGB."""
    from torch_fidelity.utils import get_featuresdict_from_dataset

    fe = fe if fe is not None else extractor.network()
    if extractor.user is None:
        images = _channels_to(images, extractor.channels)
    feats = get_featuresdict_from_dataset(TensorImages(images), fe, batch_size, False, True, False)
    return feats[extractor.layer].double()


def real_features_key(real: RealSource, n: int, extractor: Extractor) -> str:
    """Everything the real features depend on: the data's identity (contents for folders), extractor, n."""
    return cache_key("real_features", data=real.identity(n), extractor=extractor.identity, n=n)


def real_features(real: RealSource, n: int, extractor: Extractor, batch_size: int = 64, use_cache: bool = True,
                  key: str | None = None) -> torch.Tensor:
    """Features of n real images, cached by data identity + extractor + n (`key`: real_features_key, if known)."""
    key = key or real_features_key(real, n, extractor)
    if use_cache:
        hit = load_cached("real_features", key, validate=features_validator(n))
        if hit is not None:
            return hit
    feats = extract(extractor, real.images(n), batch_size)
    if use_cache:
        save_cached("real_features", key, {"features": feats})
    return feats
