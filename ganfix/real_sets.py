"""Which real images a generator is scored against, checked to fit its output.

There is no silent default: a built-in generator names its own real set in the registry (`toyscenes`:
the embedded world); any other generator must be given one (`--real FOLDER`, or `--real world` to
use the toy world's scenes on purpose). A real set whose channel count or shape cannot match the
generator's images is refused in one line. The documented resize: folder images are resized
(bilinear) *down* to the generator's output size; they are never upscaled and their aspect ratio
must match (within 2 %). Grey real images go with 1-channel generators, colour ones with RGB. Every image
read is checked (not only the first ones): a folder is used whole or refused in one line naming the file.
"""
from __future__ import annotations

from pathlib import Path

from .errors import UsageError
from .real_data import GREY_MODES, RealSource  # noqa: F401  (GREY_MODES re-exported)

CHECKED_FILES = 32  # headers checked up front (the first ones in sorted order; cheap); every other image is
# checked the same way when it is read, so one misfit anywhere in the folder refuses it (never a silent conversion)


def _builtin(gen):
    from .registry import get_builtin_generator

    return get_builtin_generator(getattr(gen, "name", ""))


def default_real(gen) -> str | None:
    """The registry's real set for a built-in generator; None for any other."""
    entry = _builtin(gen)
    return entry.default_real if entry is not None else None


def offline_features_for(gen) -> str | None:
    """An offline extractor that fits this generator (only built-ins name one), for error messages."""
    entry = _builtin(gen)
    return entry.offline_features if entry is not None else None


def require_real(gen, spec: str | None, option: str = "real=") -> str:
    """The real-set spec to use: the one given, else the built-in's own, else a one-line error. `option`: how the
    caller's users write the setting, value to follow (`real=` in Python, which the CLI shows as `--real`;
    `real = ` in ganfix.toml)."""
    if spec:
        return spec
    own = default_real(gen)
    if own:
        return own
    raise UsageError(f"{gen.name} is not a built-in generator, so ganfix cannot guess its real images: pass "
                     f"{option}FOLDER (a folder of real images at the generator's resolution or larger), or "
                     f"{option}world to compare with the toy world's scenes on purpose")


def real_source_for(gen, spec: str | None, seed: int = 1, option: str = "real=", samples: int | None = None) -> RealSource:
    """RealSource for scoring `gen`: required for non-built-ins, checked against its image shape."""
    spec = require_real(gen, spec, option)
    c, h, w = gen.image_shape
    real = RealSource.from_spec(spec, seed=seed, resolution=w, channels=c, height=h if h != w else None)
    check_fits(real, c, h, w, option)
    avail = real.available()
    if samples is not None and avail is not None and avail < samples:
        raise UsageError(f"{spec} has {avail} images, fewer than the {samples} needed; add images or lower the sample count")
    return real


def check_fits(real: RealSource, channels: int, height: int, width: int, option: str = "real=") -> None:
    if real.kind == "world":
        if channels != 3:
            raise UsageError(f"{option}world renders colour scenes, but the generator makes {channels}-channel images; "
                             f"pass {option}FOLDER of grey real images")
        if height != width:
            raise UsageError(f"{option}world renders square scenes, but the generator makes {height}×{width} images; "
                             f"pass {option}FOLDER")
        return
    from .real_data import check_image_fits

    for f in real._files(Path(real.location))[:CHECKED_FILES]:  # fail fast, before any generation
        check_image_fits(f, channels, height, width, option)
    real.check_option = option  # and RealSource.images checks every image it reads the same way
