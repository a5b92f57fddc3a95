"""Real image sets for scoring: the embedded world's renderer or a folder of images.

Each source has an `identity` (what the real-feature cache is keyed by): for the world, the
renderer version, seed, N and resolution; for a folder, a hash of every file's relative name,
size and modification time — editing, adding or removing a file changes it, so the cache is
never stale.
"""
from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from torch.utils.data import Dataset

from .errors import UsageError

IMAGE_EXTS = {".png", ".jpg", ".jpeg", ".bmp", ".webp"}


class TensorImages(Dataset):
    """uint8 [3, H, W] tensors, as torch-fidelity expects."""

    def __init__(self, images: torch.Tensor):
        self.images = images

    def __len__(self) -> int:
        return len(self.images)

    def __getitem__(self, i: int) -> torch.Tensor:
        return self.images[i]


@dataclass
class RealSource:
    kind: str  # "world" or "folder"
    location: str
    seed: int = 1
    resolution: int = 64  # width of the images handed out (the generator's)
    channels: int = 3  # 1: folder images are read as grey
    height: int | None = None  # when the generator's images are not square

    @property
    def size(self) -> tuple[int, int]:
        return (self.height or self.resolution, self.resolution)

    @property
    def label(self) -> str:
        """What reports say the real set is: 'world' or the folder."""
        return "world" if self.kind == "world" else self.location

    @classmethod
    def from_spec(cls, spec: str, seed: int = 1, resolution: int = 64, channels: int = 3,
                  height: int | None = None) -> "RealSource":
        if spec == "world":
            return cls("world", "world", seed, resolution, channels, height)
        path = Path(spec)
        if not path.is_dir():
            raise UsageError(f"real data {spec!r} is neither 'world' nor a folder of images")
        if not cls._files(path):
            raise UsageError(f"no images ({', '.join(sorted(IMAGE_EXTS))}) found in {path}")
        return cls("folder", str(path), seed, resolution, channels, height)

    @staticmethod
    def _files(path: Path) -> list[Path]:
        return sorted(p for p in path.rglob("*") if p.suffix.lower() in IMAGE_EXTS and p.is_file())

    def available(self) -> int | None:
        return None if self.kind == "world" else len(self._files(Path(self.location)))

    def identity(self, n: int) -> dict:
        if self.kind == "world":
            from .world import scenes

            version = getattr(scenes, "RENDERER_VERSION", hashlib.sha256(Path(scenes.__file__).read_bytes()).hexdigest()[:16])
            return {"kind": "world", "renderer": version, "seed": self.seed, "n": n, "resolution": self.resolution,
                    **self._shape_identity()}
        h = hashlib.sha256()
        root = Path(self.location)
        for p in self._files(root)[:n]:
            st = p.stat()
            h.update(f"{p.relative_to(root)}|{st.st_size}|{st.st_mtime_ns}\n".encode())
        return {"kind": "folder", "path": str(root.resolve()), "files": h.hexdigest(), "n": n, "resolution": self.resolution,
                **self._shape_identity()}

    def _shape_identity(self) -> dict:
        # Only when not the historic default (3-channel square), so existing cache keys stay valid.
        return {**({"channels": self.channels} if self.channels != 3 else {}),
                **({"height": self.height} if self.height and self.height != self.resolution else {})}

    def images(self, n: int) -> torch.Tensor:
        """n real images as uint8 [n, 3, R, R] (folders: first n files in sorted order, resized)."""
        if self.kind == "world":
            from .world.dataset import real_images

            # The renderer draws at ≥ 32 px; smaller generators are compared at their own size.
            native = max(32, self.resolution)
            images = real_images(n, seed=self.seed, resolution=native)
            if native != self.resolution:
                images = torch.nn.functional.interpolate(images.float(), size=(self.resolution, self.resolution),
                                                         mode="bilinear", antialias=True, align_corners=False)
                images = images.round().clamp(0, 255).to(torch.uint8)
            return images
        from PIL import Image

        files = self._files(Path(self.location))
        if len(files) < n:
            raise UsageError(f"{self.location} has {len(files)} images, fewer than the {n} requested; lower --samples")
        h, w = self.size
        mode = "L" if self.channels == 1 else "RGB"
        out = np.empty((n, h, w, self.channels), dtype=np.uint8)
        for i, f in enumerate(files[:n]):
            try:
                with Image.open(f) as im:
                    im = im.convert(mode)
                    if im.size != (w, h):
                        im = im.resize((w, h), Image.BILINEAR)
                    out[i] = np.asarray(im).reshape(h, w, self.channels)
            except OSError as exc:
                raise UsageError(f"cannot read image {f}: {exc}") from None
        return torch.from_numpy(out).permute(0, 3, 1, 2).contiguous()
