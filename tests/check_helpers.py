"""Tiny generators and a tiny torch-fidelity feature extractor for the `ganfix check` end-to-end tests.

`Tiny` is a 16×16 generator whose layer2 units 0-3 carry a strong bias (a bright blotch: the
"artifact"). Real data for the FID gates = the clean generator on other latents; for the patch gate
= the same generator with the artifact units ablated, so the true patch brings the fake
distribution back to the real one and a patch of other units does not."""
from __future__ import annotations

import contextlib
import textwrap
from pathlib import Path

import torch

ARTIFACT_UNITS = [0, 1, 2, 3]
OTHER_UNITS = [8, 9, 10, 11]

MODULE = textwrap.dedent('''
    import torch
    from torch import nn

    class Tiny(nn.Module):
        z_shape = (8, 1, 1)

        def __init__(self):
            super().__init__()
            self.layer1 = nn.Sequential(nn.ConvTranspose2d(8, 16, 4), nn.ReLU())
            self.layer2 = nn.Sequential(nn.Upsample(scale_factor=2), nn.Conv2d(16, 16, 3, padding=1), nn.ReLU())
            self.layer3 = nn.Sequential(nn.Upsample(scale_factor=2), nn.Conv2d(16, 3, 3, padding=1), nn.Tanh())

        def forward(self, z):
            return self.layer3(self.layer2(self.layer1(z)))

    def make():
        return Tiny()
''')

FEATURES = "ganfix-test-tiny"


def tiny_state(noise: float = 0.0, seed: int = 0) -> dict:
    """Weights of the 'trained' tiny generator (fixed seed), optionally with extra weight noise."""
    ns: dict = {}
    exec(MODULE, ns)
    torch.manual_seed(seed)
    g = ns["Tiny"]()
    with torch.no_grad():
        for p in g.parameters():  # default init shrinks through ReLUs: scale up so images vary
            p.mul_(2.5)
        g.layer2[1].bias[ARTIFACT_UNITS] += 1.5  # artifact units: strong, visible activation
        if noise:
            gen = torch.Generator().manual_seed(1234)
            for p in g.parameters():
                p.add_(torch.randn(p.shape, generator=gen) * noise * p.abs().mean())
    return g.state_dict()


def write_generator(folder: Path, name: str, noise: float = 0.0) -> tuple[Path, Path]:
    folder.mkdir(parents=True, exist_ok=True)
    module = folder / "tiny.py"
    module.write_text(MODULE)
    weights = folder / f"{name}.pt"
    torch.save(tiny_state(noise), weights)
    return module, weights


def write_real_folder(folder: Path, module: Path, weights: Path, n: int, seed: int = 999, ablate=()) -> Path:
    """Real images as PNGs: the clean generator on other latents, optionally with `ablate` units of
    layer2 zeroed (the repaired distribution, for the patch gate)."""
    from PIL import Image

    from ganfix.generator import load_generator
    from ganfix.hooks import Intervention

    gen = load_generator(f"{module}:make", weights=str(weights), device="cpu")
    with Intervention(gen.module, "layer2", units=list(ablate), value=0.0) if ablate else contextlib.nullcontext():
        images = gen.to_uint8(gen.generate(range(n), seed=seed))
    folder.mkdir(parents=True, exist_ok=True)
    for i, img in enumerate(images):
        Image.fromarray(img.permute(1, 2, 0).numpy()).save(folder / f"{i:05d}.png")
    return folder


def register_tiny_features() -> str:
    """A fixed random conv net (seeded) registered with torch-fidelity: 32-d features keep FID (and its
    bootstrap) cheap on CPU."""
    from torch import nn

    from fidelity_helpers import register_net_extractor

    class Tiny(nn.Module):
        def __init__(self):
            super().__init__()
            torch.manual_seed(0)
            self.net = nn.Sequential(nn.Conv2d(3, 16, 3, padding=1), nn.ReLU(), nn.AvgPool2d(2),
                                     nn.Conv2d(16, 32, 3, padding=1), nn.ReLU(), nn.AdaptiveAvgPool2d(1), nn.Flatten())

        def forward(self, x):
            x = torch.nn.functional.interpolate(x.float() / 127.5 - 1, size=(16, 16), mode="bilinear", align_corners=False)
            return self.net(x).double()

    return register_net_extractor(FEATURES, Tiny)
