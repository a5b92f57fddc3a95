"""Shared fixtures: an isolated cache per test session, single-threaded torch, small generators."""
from __future__ import annotations

import os

# One BLAS thread: on a shared 2-core machine NumPy's threaded BLAS makes KID several times slower.
# Set before numpy/torch load their BLAS (conftest is imported before the test modules).
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

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
