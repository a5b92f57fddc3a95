"""A tiny random ProGAN (16×16, z 16) with planted artifact units at layer4 (16 units, 8×8), for the automatic
ranker tests. Loadable as a spec: `tests/planted_progan.py:planted`; `clean()` is the same ProGAN unplanted."""
from __future__ import annotations

import torch

from ganfix.generator import Generator
from ganfix.models import ProGAN
from ganfix.ranking.planted import Plant, plant_artifacts

LAYER = "layer4"
PLANTS = [Plant(3, "blotch", 1.0, 0.08), Plant(9, "checker", 1.0, 0.12), Plant(13, "fringe", 1.0, 0.05)]
PLANTED_UNITS = sorted(p.unit for p in PLANTS)


def clean() -> ProGAN:
    torch.manual_seed(7)
    g = ProGAN(16, z_dim=16, widths=[32, 16, 16])
    with torch.no_grad():  # quiet content (low-contrast images), so the painted artifacts are what stands out
        g.get_submodule("output_16x16").conv.weight.mul_(0.25)
    return g


def planted_generator() -> Generator:
    return plant_artifacts(Generator(clean(), (16,), name="tiny-progan"), LAYER, PLANTS, seed=0, name="tiny-planted")


def planted():
    return planted_generator().module


def write_real(folder, n: int = 300, seed: int = 5):
    """'Real' images: the clean ProGAN on other latents, as PNGs."""
    from PIL import Image

    g = Generator(clean(), (16,), name="tiny-progan")
    images = g.to_uint8(g.generate(range(10_000, 10_000 + n), seed=seed)).permute(0, 2, 3, 1).numpy()
    for i, im in enumerate(images):
        Image.fromarray(im).save(folder / f"{i:04d}.png")
    return folder
