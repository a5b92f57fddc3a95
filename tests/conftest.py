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


@pytest.fixture(scope="session")
def toyscenes_gen():
    """The built-in toy generator, loaded once per session (tests must not change it)."""
    from ganfix.generator import load_generator

    return load_generator("toyscenes", device="cpu")


@pytest.fixture(scope="session")
def runner():
    """One typer CliRunner for the session (the same one cli_helpers.cli uses)."""
    from cli_helpers import runner as shared

    return shared


USER_MODELS = '''
import torch
from torch import nn


class DCGAN(nn.Module):
    def __init__(self, nz=16):
        super().__init__()
        self.main = nn.Sequential(
            nn.ConvTranspose2d(nz, 8, 4, 1, 0), nn.ReLU(),
            nn.ConvTranspose2d(8, 3, 4, 2, 1), nn.Tanh())

    def forward(self, z):
        return self.main(z)


class Flat(nn.Module):
    z_dim = 10

    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(10, 8 * 4 * 4)
        self.conv = nn.Conv2d(8, 3, 3, padding=1)

    def forward(self, z):
        return self.conv(self.fc(z).view(-1, 8, 4, 4))


class MLP(nn.Module):
    def __init__(self):
        super().__init__()
        self.l1 = nn.Linear(6, 12)
        self.l2 = nn.Linear(12, 3 * 4 * 4)

    def forward(self, z):
        return self.l2(torch.relu(self.l1(z))).view(-1, 3, 4, 4)


class Exploding(nn.Module):
    def __init__(self):
        super().__init__()
        self.l1 = nn.Linear(4, 5)

    def forward(self, z):
        return self.l1(z)


def dcgan():
    return DCGAN()


def flat():
    return Flat()


def mlp():
    return MLP()


def exploding():
    m = Exploding()
    with torch.no_grad():
        m.l1.bias[2] = float("inf")  # a diverged checkpoint
    return m
'''


@pytest.fixture(scope="session")
def user_models(tmp_path_factory):
    """A user's own model file (file.py:factory specs): tiny DCGAN (`dcgan`, 3×8×8 from [N,16,1,1]), `flat`
    (z_dim 10 → 3×4×4 through a Linear), `mlp` (6 → 3×4×4, latent shape probed) and `exploding` (a Linear
    whose output holds inf, like a diverged checkpoint). Random weights."""
    path = tmp_path_factory.mktemp("user_models") / "user_models.py"
    path.write_text(USER_MODELS)
    return path


@pytest.fixture()
def annotation_file(tmp_path):
    """annotation_file(gen, layer, units, text=None, name="ann.json") → the path of a saved annotation set that
    marks `units` of `layer` (in this test's tmp_path)."""
    from ganfix.annotations import AnnotationSet

    def make(gen, layer, units=(), text=None, name="ann.json", set_name="artifacts"):
        aset = AnnotationSet.new(gen, layer, set_name)
        for u in units:
            aset.mark(u, text=text)
        return aset.save(tmp_path / name)

    return make
