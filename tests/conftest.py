"""Shared fixtures: an isolated cache per test session, single-threaded torch, small generators."""
from __future__ import annotations

import os

# One BLAS thread: on a shared 2-core machine NumPy's threaded BLAS makes KID several times slower.
# Set before numpy/torch load their BLAS (conftest is imported before the test modules).
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
# Nothing downloads in tests: extractors that need weights fail with one line instead of trying.
os.environ["GANFIX_OFFLINE"] = "1"

import pytest
import torch


@pytest.fixture(autouse=True, scope="session")
def _isolated_cache(tmp_path_factory):
    # Tests never read or pollute the user's cache.
    os.environ["GANFIX_CACHE"] = str(tmp_path_factory.mktemp("ganfix-cache"))
    torch.set_num_threads(1)
    yield


@pytest.fixture()
def small_progan_path(tmp_path):
    """A random 32×32 ProGAN saved in the GAN Dissection layout."""
    from ganfix.models import ProGAN

    torch.manual_seed(0)
    g = ProGAN(32, z_dim=32, widths=[32, 32, 16, 16])
    path = tmp_path / "progan32.pt"
    torch.save(g.state_dict(), path)
    return path


@pytest.fixture(scope="session")
def planted_gen():
    """The generator with planted artifact units (tests/planted.py), loaded as a user spec."""
    from pathlib import Path

    from ganfix.generator import load_generator

    return load_generator(f"{Path(__file__).parent / 'planted.py'}:planted")


@pytest.fixture(scope="session")
def planted_real(tmp_path_factory, planted_gen):
    """'Real' images for it: the clean generator (planted units off) on other latents."""
    from planted import write_clean_images

    return write_clean_images(planted_gen, tmp_path_factory.mktemp("planted_real"), range(20_000, 20_200), seed=3)
