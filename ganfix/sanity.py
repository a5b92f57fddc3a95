"""A cheap look at a generator's output before trusting what is measured on it."""
from __future__ import annotations

import torch

NEAR_CONSTANT = 0.01  # mean per-pixel standard deviation over latents, as a share of the output range
PROBE_SAMPLES = 4


@torch.no_grad()
def near_constant_warning(gen, samples: int = PROBE_SAMPLES, seed: int = 0) -> str | None:
    """One line when the generator draws (nearly) the same image for every latent, as an untrained or collapsed
    generator does (its rankings, sheets and scores then mean little); None otherwise. Generates `samples` images."""
    images = gen.as_images(gen.generate(range(samples), seed)).float()
    lo, hi = gen.output_range
    spread = float(images.std(0).mean()) / (hi - lo)
    if spread >= NEAR_CONSTANT:
        return None
    return (f"warning: {gen.name}'s output is nearly the same for every latent (per-pixel spread {spread:.2%} of the "
            f"output range over {samples} samples): an untrained or collapsed generator? Check that the trained "
            f"weights are loaded and that the module is in eval mode.")
