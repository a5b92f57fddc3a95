"""The Fashion-MNIST example (examples/fashion_mnist): shipped checkpoints load, the extractor's contract.

Tests that read the raw data skip when Debian's dataset-fashion-mnist is not installed
(`.ci/run` installs it)."""
from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "fashion_mnist"
DCGAN = EXAMPLE / "assets" / "dcgan_fmnist.pt"
CLASSIFIER = EXAMPLE / "assets" / "classifier_fmnist.pt"


def _module(name: str):
    """Import examples/fashion_mnist/<name>.py under a private name (the folder is not a package)."""
    key = f"_fmnist_example_{name}"
    if key not in sys.modules:
        spec = importlib.util.spec_from_file_location(key, EXAMPLE / f"{name}.py")
        mod = importlib.util.module_from_spec(spec)
        sys.modules[key] = mod
        spec.loader.exec_module(mod)
    return sys.modules[key]


def _need_data():
    data = _module("data")
    if not data.available():
        pytest.skip(f"Fashion-MNIST not found in {data.data_dir()}: apt-get install -y dataset-fashion-mnist")
    return data


def test_shipped_files_are_small():
    assert DCGAN.stat().st_size < 3_000_000
    assert CLASSIFIER.stat().st_size < 2_000_000


def test_generator_checkpoint_loads_strict_and_generates():
    models = _module("models")
    ckpt = torch.load(DCGAN, map_location="cpu", weights_only=True)
    # The PyTorch DCGAN tutorial's layout: the generator is one of two state dicts, so ganfix needs
    # --weights-key netG_state_dict.
    assert {"netG_state_dict", "netD_state_dict"} <= set(ckpt)
    g = models.generator()
    g.load_state_dict(ckpt["netG_state_dict"], strict=True)
    g.eval()
    assert tuple(g.z_shape) == (g.nz, 1, 1)
    z = torch.randn(16, *g.z_shape, generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        x = g(z)
        x_flat = g(z.flatten(1))  # [N, nz] works too
    assert x.shape == (16, 1, 28, 28)
    assert torch.isfinite(x).all() and x.min() >= -1 and x.max() <= 1
    assert torch.equal(x, x_flat)
    assert x.std(dim=0).mean() > 0.05  # different latents give different images (no collapse to one)
    assert (x > 0).float().mean() > 0.05 and (x < 0).float().mean() > 0.3  # dark background, bright garment


def test_discriminator_checkpoint_fits_too():
    models = _module("models")
    ckpt = torch.load(DCGAN, map_location="cpu", weights_only=True)
    models.discriminator().load_state_dict(ckpt["netD_state_dict"], strict=True)


def test_extractor_maps_uint8_gray_and_rgb_to_features():
    ext = _module("extractor").factory()
    assert ext.input_channels == 1 and tuple(ext.input_size) == (28, 28) and ext.feature_dim == 128
    gen = torch.Generator().manual_seed(0)
    gray = torch.randint(0, 256, (5, 1, 28, 28), dtype=torch.uint8, generator=gen)
    f1 = ext(gray)
    assert f1.shape == (5, 128) and f1.dtype == torch.float32 and torch.isfinite(f1).all()
    f3 = ext(gray.expand(-1, 3, -1, -1).contiguous())  # gray replicated to RGB: the same features
    assert torch.allclose(f1, f3, atol=1e-5)
    big = torch.randint(0, 256, (2, 3, 64, 64), dtype=torch.uint8, generator=gen)  # resized to 28×28
    f_big = ext(big)
    assert f_big.shape == (2, 128) and torch.isfinite(f_big).all()
    ext.train()  # a fixed extractor: stays in eval mode (no dropout), deterministic
    assert not ext.training and torch.equal(ext(gray), f1)


def test_extractor_refuses_other_channel_counts():
    ext = _module("extractor").factory()
    with pytest.raises(ValueError, match="1 or 3"):
        ext(torch.zeros(1, 2, 28, 28, dtype=torch.uint8))


def test_data_reader_and_png_writer(tmp_path):
    data = _need_data()
    x, y = data.load("test")
    assert x.shape == (10_000, 28, 28) and x.dtype == np.uint8
    assert np.bincount(y).tolist() == [1000] * 10
    n = data.write_pngs(tmp_path / "real", "test", start=10, count=3)
    files = sorted((tmp_path / "real").iterdir())
    assert n == 3 and [f.name for f in files] == ["test_00010.png", "test_00011.png", "test_00012.png"]
    from PIL import Image
    back = np.asarray(Image.open(files[1]))
    assert back.shape == (28, 28) and np.array_equal(back, x[11])


def test_data_missing_is_one_clear_error(tmp_path, monkeypatch):
    data = _module("data")
    monkeypatch.setenv("FASHION_MNIST_DIR", str(tmp_path))
    assert not data.available()
    with pytest.raises(data.DataMissing, match="apt-get install dataset-fashion-mnist"):
        data.load("test")
    assert data.main(["--out", str(tmp_path / "out")]) == 2


@pytest.mark.slow
def test_classifier_accuracy_on_test_subset():
    data = _need_data()
    x, y = data.load("test")
    ext_mod = _module("extractor")
    net = ext_mod.FashionCNN()
    net.load_state_dict(torch.load(CLASSIFIER, map_location="cpu", weights_only=True))
    net.eval()
    with torch.no_grad():
        pred = net(ext_mod.to_input(torch.from_numpy(x[:1000])[:, None])).argmax(1).numpy()
    assert (pred == y[:1000]).mean() > 0.85


def test_ganfix_loads_the_tutorial_checkpoint():
    from ganfix.generator import load_generator

    spec = f"{EXAMPLE / 'models.py'}:generator"
    g = load_generator(spec, weights=str(DCGAN), weights_key="netG_state_dict")
    assert tuple(g.z_shape) == (64, 1, 1)
    x = g.generate(range(4), seed=0)
    assert x.shape == (4, 1, 28, 28)
    assert {"main.2", "main.5", "main.8"} <= set(g.layers)
    # Without --weights-key ganfix picks the generator's state dict of the two by its name, and says so.
    guessed = load_generator(spec, weights=str(DCGAN))
    assert any("netG_state_dict" in note for note in guessed.notes)
    assert guessed.fingerprint == g.fingerprint


def test_ganfix_takes_the_extractor_as_a_factory():
    from ganfix.extractors import extract, resolve_extractor

    ext = resolve_extractor(f"{EXAMPLE / 'extractor.py'}:factory", offline=True)
    gray = torch.randint(0, 256, (6, 1, 28, 28), dtype=torch.uint8, generator=torch.Generator().manual_seed(1))
    feats = extract(ext, gray, batch_size=4)
    assert feats.shape == (6, 128) and torch.isfinite(feats).all()
    direct = _module("extractor").factory()(gray).double()
    assert torch.allclose(feats, direct, atol=1e-5)
