"""Real image sets for scoring: the embedded world's renderer or a folder of images.

Each source has an `identity` (what the real-feature cache is keyed by): for the world, the
renderer version, seed, N and resolution; for a folder, a hash of every used file's relative name
and the sha256 of its bytes — editing, adding or removing a file changes it, so the cache is never
stale, even when an edit keeps the size and restores the modification time. Each file is hashed once:
its digest is remembered (in the cache folder) by path, size, mtime, ctime and inode.
"""
from __future__ import annotations

import hashlib
import json
import os
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
from torch.utils.data import Dataset

from .errors import UsageError

IMAGE_EXTS = {".png", ".jpg", ".jpeg", ".bmp", ".webp"}
# Folders never read as real images: class maps (`ganfix world render` writes them to masks/).
SKIPPED_DIRS = {"masks"}
# Larger images are refused before they are decoded (a decompression bomb is a small file that
# inflates to gigabytes). 40 megapixels is a 7.3k × 5.5k photo; raise it with GANFIX_MAX_IMAGE_PIXELS.
DEFAULT_MAX_PIXELS = 40_000_000


def max_image_pixels() -> int:
    try:
        return max(1, int(os.environ.get("GANFIX_MAX_IMAGE_PIXELS", DEFAULT_MAX_PIXELS)))
    except ValueError:
        raise UsageError(f"GANFIX_MAX_IMAGE_PIXELS must be an integer, got {os.environ['GANFIX_MAX_IMAGE_PIXELS']!r}") from None


def _png_bit_depth(path: Path) -> int | None:
    try:
        with open(path, "rb") as fh:
            head = fh.read(25)
    except OSError:
        return None
    return head[24] if head[:8] == b"\x89PNG\r\n\x1a\n" and len(head) == 25 else None


def _too_large(path: Path, w: int, h: int, limit: int) -> UsageError:
    return UsageError(f"image {path} is {w}×{h} = {w * h:,} pixels, more than the {limit:,} allowed "
                      "(a decompression bomb?); shrink it, or raise GANFIX_MAX_IMAGE_PIXELS if you trust it")


def _bomb(path: Path) -> UsageError:
    return UsageError(f"image {path} claims more pixels than Pillow's limit allows (a decompression bomb?); "
                      "refused before decoding it")


def image_header(path: Path) -> tuple[str, tuple[int, int]]:
    """(mode, (width, height)) from the header only; oversized or unreadable images are one UsageError line."""
    import warnings

    from PIL import Image

    limit = max_image_pixels()
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(path) as im:
                mode, (w, h) = im.mode, im.size
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):
        raise _bomb(path) from None
    except Exception as exc:  # noqa: BLE001 — Pillow raises many types for corrupt files
        raise UsageError(f"cannot read image {path}: {str(exc).splitlines()[0][:200] if str(exc) else type(exc).__name__}") from None
    if w * h > limit:
        raise _too_large(path, w, h, limit)
    return mode, (w, h)


GREY_MODES = {"1", "L", "LA", "I", "I;16", "I;16B", "I;16L", "I;16N", "F"}


def check_image_fits(f: Path, channels: int, height: int, width: int, option: str = "real=") -> None:
    """One real image can stand beside the generator's: same kind (grey/colour), aspect ratio (2 %), not smaller."""
    mode, (fw, fh) = image_header(f)  # oversized (decompression bombs) or unreadable: one line
    grey = mode in GREY_MODES
    if channels == 1 and not grey:
        raise UsageError(f"real image {f} is colour ({mode}) but the generator makes grey images; "
                         f"give {option}FOLDER of grey images (convert them first)")
    if channels == 3 and grey:
        raise UsageError(f"real image {f} is grey ({mode}) but the generator makes RGB images; "
                         f"give {option}FOLDER of colour images")
    if abs(fw / fh - width / height) > 0.02 * (width / height):
        raise UsageError(f"real image {f} is {fw}×{fh} (w×h), another aspect ratio than the generator's "
                         f"{width}×{height}; crop the real images to match")
    if fw < width or fh < height:
        raise UsageError(f"real image {f} is {fw}×{fh} (w×h), smaller than the generator's {width}×{height}; "
                         "ganfix only resizes real images down (upscaling would blur them and bias the score)")


def read_rgb(path: Path, resolution: int) -> np.ndarray:
    """One real image as uint8 [R, R, 3] (see read_image)."""
    return read_image(path, (resolution, resolution), "RGB")


def read_image(path: Path, size: tuple[int, int], mode: str = "RGB") -> np.ndarray:
    """One real image as uint8 [H, W, C] of `size` (W, H) in `mode` (RGB or L): 16-bit images scaled to 8 bits (not clipped to white),
    oversized images refused before decoding, every failure one UsageError line."""
    import warnings

    from PIL import Image

    limit = max_image_pixels()
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(path) as im:
                w, h = im.size
                if w * h > limit:
                    raise _too_large(path, w, h, limit)
                if im.mode.startswith("I;16") or im.mode == "I":
                    arr = np.asarray(im).astype(np.float64)
                    sixteen = im.mode.startswith("I;16") or _png_bit_depth(path) == 16 or arr.max() > 255
                    arr = np.clip(np.round(arr / 257.0 if sixteen else arr), 0, 255).astype(np.uint8)
                    im = Image.fromarray(arr)
                elif im.mode == "F":
                    arr = np.asarray(im).astype(np.float64)
                    im = Image.fromarray(np.clip(np.round(arr * (255.0 if arr.max() <= 1.0 else 1.0)), 0, 255).astype(np.uint8))
                im = im.convert(mode)
                if im.size != tuple(size):
                    im = im.resize(tuple(size), Image.BILINEAR)
                return np.asarray(im)
    except UsageError:
        raise
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):
        raise _bomb(path) from None
    except Exception as exc:  # noqa: BLE001 — Pillow raises many types for corrupt files
        raise UsageError(f"cannot read image {path}: {str(exc).splitlines()[0][:200] if str(exc) else type(exc).__name__}") from None


class FileDigests:
    """sha256 of files' bytes, remembered per folder by (size, mtime, ctime, inode) so each file is read once.

    ctime cannot be set back by a user (unlike mtime), so an in-place edit that restores size and mtime
    is still seen."""

    def __init__(self, root: Path):
        from .cache import cache_root

        self.given = str(root)
        self.root = root.resolve()
        self.index = cache_root() / "file_digests" / (hashlib.sha256(str(self.root).encode()).hexdigest()[:32] + ".json")
        self.known: dict[str, list] = {}
        self.dirty = False
        try:
            data = json.loads(self.index.read_text())
            if isinstance(data, dict) and data.get("root") == str(self.root) and isinstance(data.get("files"), dict):
                self.known = {k: v for k, v in data["files"].items()
                              if isinstance(v, list) and len(v) == 2 and isinstance(v[1], str)}
        except (OSError, ValueError):
            pass

    def digest(self, path: Path) -> str:
        st = path.stat()
        stamp = f"{st.st_size}|{st.st_mtime_ns}|{st.st_ctime_ns}|{st.st_ino}"
        rel = os.path.relpath(path, self.given)  # files come from rglob under the root as given: no resolve() per file
        hit = self.known.get(rel)
        if hit is not None and hit[0] == stamp:
            return hit[1]
        h = hashlib.sha256()
        with open(path, "rb") as fh:
            for chunk in iter(lambda: fh.read(1 << 20), b""):
                h.update(chunk)
        self.known[rel] = [stamp, h.hexdigest()]
        self.dirty = True
        return h.hexdigest()

    def save(self) -> None:
        if not self.dirty:
            return
        from .atomic import atomic_write_json

        try:
            atomic_write_json(self.index, {"root": str(self.root), "files": self.known}, indent=None)
        except OSError:
            pass  # only a speed-up: the digests are recomputed next time
        self.dirty = False


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
    check_option: str | None = field(default=None, compare=False, repr=False)  # set by real_sets.check_fits: then
    # every image read is checked to fit (check_image_fits), not only the first ones checked up front

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
        """Image files under `path`, sorted; never inside masks/ folders. A `ganfix world render` folder
        (scenes.json beside images/) contributes only its images/."""
        if (path / "scenes.json").is_file() and (path / "images").is_dir():
            path = path / "images"
        return sorted(p for p in path.rglob("*") if p.suffix.lower() in IMAGE_EXTS and p.is_file()
                      and not SKIPPED_DIRS & {part.lower() for part in p.relative_to(path).parts[:-1]})

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
        digests = FileDigests(root)
        for p in self._files(root)[:n]:
            h.update(f"{p.relative_to(root)}|{digests.digest(p)}\n".encode())
        digests.save()
        return {"kind": "folder", "path": str(root.resolve()), "content": h.hexdigest(), "n": n, "resolution": self.resolution,
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
        files = self._files(Path(self.location))
        if len(files) < n:
            raise UsageError(f"{self.location} has {len(files)} images, fewer than the {n} requested (samples={n}); add images or ask for fewer")
        h, w = self.size
        mode = "L" if self.channels == 1 else "RGB"
        out = np.empty((n, h, w, self.channels), dtype=np.uint8)
        for i, f in enumerate(files[:n]):
            if self.check_option is not None:
                check_image_fits(f, self.channels, h, w, self.check_option)
            out[i] = read_image(f, (w, h), mode).reshape(h, w, self.channels)
        return torch.from_numpy(out).permute(0, 3, 1, 2).contiguous()
