"""Regressions found by trying ganfix as a new user would, on generators, data and extractors it never
saw (qa trial): each test reproduces one defect with a tiny model written here."""
from __future__ import annotations

import torch
import torch.nn as nn

from cli_helpers import cli, one_line_error

MODELS = '''
import torch
import torch.nn as nn

class FlatMLP(nn.Module):
    latent_dim = 8
    def __init__(self):
        super().__init__()
        torch.manual_seed(0)
        self.fc = nn.Linear(8, 32)
        self.act = nn.ReLU()
        self.out = nn.Linear(32, 400)
    def forward(self, z):
        return torch.tanh(self.out(self.act(self.fc(z))))

def flat():
    return FlatMLP()
'''


def write_models(tmp_path):
    path = tmp_path / "qa_models.py"
    path.write_text(MODELS)
    return str(path)


def test_sheets_of_a_flat_output_generator_without_image_shape_is_a_usage_error(tmp_path):
    """annotate on an [N, 400] generator without --image-shape crashed (exit 3) in the sheet layout."""
    spec = write_models(tmp_path) + ":flat"
    res = cli("annotate", spec, "--layer", "act", "--samples", "20", "--top", "2", "--no-serve",
              "--out", tmp_path / "sheets", "--no-cache")
    one_line_error(res, "--image-shape 1,20,20")
    assert not (tmp_path / "sheets").exists()


COND = '''
import torch
import torch.nn as nn

class Cond(nn.Module):
    nz = 8
    def __init__(self):
        super().__init__()
        self.emb = nn.Embedding(10, 8)
        self.fc = nn.Linear(16, 3 * 16 * 16)
    def forward(self, z, c):
        return torch.tanh(self.fc(torch.cat([z, self.emb(c)], 1))).view(-1, 3, 16, 16)

def cond():
    return Cond()
'''


def test_conditional_generator_forward_z_c_is_refused_in_one_actionable_line(tmp_path):
    """A class-conditional forward(z, c) got a message blaming the latent shape ("fix the module, or pass
    --z-shape"), and with --z-shape a forward error: neither says that ganfix calls forward(z) only."""
    (tmp_path / "cond.py").write_text(COND)
    spec = f"{tmp_path / 'cond.py'}:cond"
    one_line_error(cli("layers", spec), "forward(z, c)", "subclass")
    one_line_error(cli("layers", spec, "--z-shape", "8"), "forward(z, c)", "subclass")


VARIANTS = '''
import torch
import torch.nn as nn

class Bytes(nn.Module):
    """returns uint8 images 0…255 (the default --output-range is -1,1)"""
    z_dim = 8
    def __init__(self):
        super().__init__()
        torch.manual_seed(0)
        self.fc = nn.Linear(8, 3 * 16 * 16)
    def forward(self, z):
        return ((torch.tanh(self.fc(z)) + 1) * 127.5).to(torch.uint8).view(-1, 3, 16, 16)

class TrainMode(nn.Module):
    """a factory that returns the module in train mode, with a BatchNorm1d (fails on a batch of one)"""
    z_dim = 8
    def __init__(self):
        super().__init__()
        torch.manual_seed(0)
        self.fc = nn.Linear(8, 16)
        self.bn = nn.BatchNorm1d(16)
        self.out = nn.Linear(16, 3 * 16 * 16)
    def forward(self, z):
        return torch.tanh(self.out(torch.relu(self.bn(self.fc(z))))).view(-1, 3, 16, 16)

class GreyNet(nn.Module):
    """a 1-channel feature network that does not declare input_channels"""
    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(1, 4, 3)
    def forward(self, x):
        return self.conv(x.float() / 255).mean((2, 3))

def bytes_out():
    return Bytes()

def train_mode():
    return TrainMode()

def grey_features():
    return GreyNet()
'''


def _variants(tmp_path):
    path = tmp_path / "variants.py"
    path.write_text(VARIANTS)
    from PIL import Image

    real = tmp_path / "real"
    real.mkdir()
    g = torch.Generator().manual_seed(0)
    for i in range(12):
        arr = torch.randint(0, 256, (16, 16, 3), generator=g, dtype=torch.uint8).numpy()
        Image.fromarray(arr).save(real / f"{i:02d}.png")
    return str(path), real


def test_outputs_far_outside_the_output_range_are_refused(tmp_path):
    """A generator returning 0…255 with the default range -1,1 was scored (exit 0): every pixel clamped to white."""
    models, real = _variants(tmp_path)
    spec = f"{models}:bytes_out"
    one_line_error(cli("score", spec, "--features", f"{models}:grey_features", "--real", real, "--samples", "8",
                       "--no-cache"), "--output-range", "0,255")
    res = cli("score", spec, "--output-range", "0,255", "--features", f"{models}:grey_features", "--real", real,
              "--samples", "8", "--no-cache")
    assert res.exit_code != 2 or "output range" not in res.output, res.output


def test_factory_returning_a_train_mode_module_is_probed_in_eval_mode(tmp_path):
    """The latent-shape probe ran the module in train mode: a BatchNorm1d failed on the batch of one (exit 2)."""
    models, _ = _variants(tmp_path)
    res = cli("layers", f"{models}:train_mode")
    assert res.exit_code == 0, res.output


def test_extractor_without_declared_channels_failing_on_rgb_is_a_usage_error(tmp_path):
    """A 1-channel extractor that does not declare input_channels crashed on RGB images with exit 3."""
    models, real = _variants(tmp_path)
    spec = f"{models}:bytes_out"
    one_line_error(cli("score", spec, "--output-range", "0,255", "--features", f"{models}:grey_features",
                       "--real", real, "--samples", "8", "--no-cache"), "input_channels", "[8, 3, 16, 16]")


class _BNGen(nn.Module):
    nz = 8

    def __init__(self):
        super().__init__()
        self.main = nn.Sequential(nn.ConvTranspose2d(8, 4, 4, 1, 0, bias=False), nn.BatchNorm2d(4), nn.ReLU(),
                                  nn.ConvTranspose2d(4, 3, 4, 4, 0), nn.Tanh())

    def forward(self, z):
        return self.main(z)


BN_MODEL = '''
import torch.nn as nn

class BNGen(nn.Module):
    nz = 8
    def __init__(self):
        super().__init__()
        self.main = nn.Sequential(nn.ConvTranspose2d(8, 4, 4, 1, 0, bias=False), nn.BatchNorm2d(4), nn.ReLU(),
                                  nn.ConvTranspose2d(4, 3, 4, 4, 0), nn.Tanh())
    def forward(self, z):
        return self.main(z)

def factory():
    return BNGen()  # in train mode, as a freshly built module is
'''


def _trained_bn_state():
    torch.manual_seed(0)
    g = _BNGen()
    with torch.no_grad():
        g.main[1].running_mean.copy_(torch.tensor([0.5, -0.2, 0.1, 0.3]))
        g.main[1].running_var.copy_(torch.tensor([2.0, 0.5, 1.5, 0.8]))
    g.main[1].num_batches_tracked.fill_(1000)
    return g


def _same_state(module, reference):
    got = module.state_dict()
    for k, v in reference.items():
        assert torch.equal(got[k].cpu(), v), k


def test_loading_a_factory_generator_keeps_its_batchnorm_statistics(tmp_path):
    """The latent-shape probe ran the module in train mode: one forward of a zero latent updated every
    BatchNorm's running mean/var, so ganfix analysed, fingerprinted and exported other weights than the checkpoint's."""
    import ganfix

    (tmp_path / "bn.py").write_text(BN_MODEL)
    state = _trained_bn_state().state_dict()
    torch.save({"netG_state_dict": state}, tmp_path / "ckpt.pt")
    gen = ganfix.load_generator(f"{tmp_path / 'bn.py'}:factory", weights=str(tmp_path / "ckpt.pt"))
    _same_state(gen.module, state)


def test_loading_a_torchscript_saved_in_train_mode_keeps_its_batchnorm_statistics(tmp_path):
    import ganfix

    g = _trained_bn_state()  # train mode
    state = {k: v.clone() for k, v in g.state_dict().items()}
    torch.jit.save(torch.jit.script(g), str(tmp_path / "g.ts"))
    gen = ganfix.load_generator(str(tmp_path / "g.ts"), z_shape=(8, 1, 1))
    got = {k.replace(".inner", ""): v for k, v in gen.module.state_dict().items()}  # the chain wraps each stage
    for k, v in state.items():
        assert torch.equal(got[k].cpu(), v), k


NAN_MODEL = '''
import torch
import torch.nn as nn

class SomeNaN(nn.Module):
    """finite activations at `fc`, NaN images for latents whose first value is above 1"""
    nz = 8
    def __init__(self):
        super().__init__()
        torch.manual_seed(0)
        self.fc = nn.Linear(8, 3 * 16 * 16)
    def forward(self, z):
        x = torch.tanh(self.fc(z)).view(-1, 3, 16, 16)
        return torch.where(z[:, :1, None, None] > 1.0, torch.full_like(x, float("nan")), x)

def factory():
    return SomeNaN()
'''

FEATURES = '''
import torch.nn as nn

class Mean(nn.Module):
    input_channels = 3
    input_size = (16, 16)
    def forward(self, x):
        return x.float().flatten(2).mean(2)

def factory():
    return Mean()
'''


def test_automatic_rankers_refuse_nan_images(tmp_path):
    """rank --by unit-fid/realism/artifact extracted features of NaN images (black pixels) and ranked them: exit 0."""
    (tmp_path / "nan.py").write_text(NAN_MODEL)
    (tmp_path / "feat.py").write_text(FEATURES)
    _, real = _variants(tmp_path)
    res = cli("rank", f"{tmp_path / 'nan.py'}:factory", "--layer", "fc", "--samples", "12", "--by", "unit-fid",
              "--features", f"{tmp_path / 'feat.py'}:factory", "--real", real, "--no-cache")
    one_line_error(res, "non-finite", "sample ids")


def test_annotate_refuses_nan_images(tmp_path):
    """annotate drew NaN images as black tiles on the contact sheets, exit 0."""
    (tmp_path / "nan.py").write_text(NAN_MODEL)
    text = one_line_error(cli("annotate", f"{tmp_path / 'nan.py'}:factory", "--layer", "fc", "--samples", "40",
                              "--no-serve", "--out", tmp_path / "sheets", "--no-cache"), "non-finite", "sample ids")
    assert " of " in text and "black" in text
    assert not (tmp_path / "sheets").exists()


def test_a_misfit_real_image_beyond_the_first_ones_checked_is_refused_too(tmp_path):
    """Only the first 32 real files were checked: a grey image among them refused the folder, one further down
    was silently converted to RGB. Now every image read is checked the same way."""
    from PIL import Image

    from ganfix.real_sets import CHECKED_FILES

    models, _ = _variants(tmp_path)
    real = tmp_path / "many"
    real.mkdir()
    g = torch.Generator().manual_seed(1)
    n = CHECKED_FILES + 8
    for i in range(n):
        arr = torch.randint(0, 256, (16, 16, 3), generator=g, dtype=torch.uint8).numpy()
        img = Image.fromarray(arr)
        (img.convert("L") if i == CHECKED_FILES + 3 else img).save(real / f"{i:03d}.png")
    args = ("score", f"{models}:bytes_out", "--output-range", "0,255", "--features", f"{tmp_path / 'feat.py'}:factory",
            "--real", real, "--samples", str(n), "--no-cache")
    (tmp_path / "feat.py").write_text(FEATURES)
    one_line_error(cli(*args), f"{CHECKED_FILES + 3:03d}.png is grey (L)", "--real")


def test_check_config_takes_image_shape_weights_key_and_strip_prefix(tmp_path):
    """ganfix.toml had no image_shape/weights_key/strip_prefix: a flat-output generator, or a checkpoint whose
    generator sits under an unusual key or prefix, could be ranked and repaired but never gated in CI."""
    from ganfix.checking.config import load_config

    models = write_models(tmp_path)
    torch.manual_seed(0)
    import importlib.util

    spec = importlib.util.spec_from_file_location("qa_models_cfg", models)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    state = {f"net.gen.{k}": v for k, v in mod.flat().state_dict().items()}
    torch.save({"ckpt": {"weights": state}}, tmp_path / "wrapped.pt")
    (tmp_path / "real").mkdir()
    (tmp_path / "ganfix.toml").write_text(
        'generator = "qa_models.py:flat"\nweights = "wrapped.pt"\nweights_key = "ckpt.weights"\n'
        'strip_prefix = "net.gen."\nimage_shape = [1, 20, 20]\nreal = "real"\nfeatures = "inception"\n'
        "[gates]\nmax_fid = 1.0\n")
    cfg = load_config(tmp_path / "ganfix.toml")
    assert cfg.image_shape == (1, 20, 20) and cfg.weights_key == "ckpt.weights" and cfg.strip_prefix == "net.gen."
    from ganfix import load_generator

    gen = load_generator(cfg.generator, weights=cfg.weights, image_shape=cfg.image_shape,
                         weights_key=cfg.weights_key, strip_prefix=cfg.strip_prefix)
    assert gen.image_shape == (1, 20, 20)
    (tmp_path / "ganfix.toml").write_text('generator = "qa_models.py:flat"\nreal = "real"\nimage_shape = [1, 20]\n'
                                          "[gates]\nmax_fid = 1.0\n")
    one_line_error(cli("check", "--config", tmp_path / "ganfix.toml"), "image_shape must be [C, H, W]")


SPATIAL = '''
import torch
import torch.nn as nn

class Small(nn.Module):
    z_dim = 8
    def __init__(self):
        super().__init__()
        torch.manual_seed(0)
        self.fc = nn.Linear(8, 4 * 4 * 4)
        self.up = nn.Upsample(scale_factor=4)
        self.conv = nn.Conv2d(4, 3, 3, padding=1)
    def forward(self, z):
        return torch.tanh(self.conv(self.up(self.fc(z).view(-1, 4, 4, 4))))

def factory():
    return Small()
'''


def test_a_gate_key_at_the_top_level_of_ganfix_toml_says_it_belongs_under_gates(tmp_path):
    """A top-level max_fid was "unknown key 'max_fid'; valid keys: generator, …" without a word about [gates]; a
    top-level key written after the [gates] header (so TOML put it in that table) got the same puzzle."""
    (tmp_path / "ganfix.toml").write_text('generator = "toyscenes"\nmax_fid = 1.0\n')
    one_line_error(cli("check", "--config", tmp_path / "ganfix.toml"), "'max_fid'", "belongs in the [gates] table")
    (tmp_path / "ganfix.toml").write_text('generator = "toyscenes"\n[gates]\nmax_fid = 1.0\nsamples = 10\n')
    one_line_error(cli("check", "--config", tmp_path / "ganfix.toml"), "'samples'", "above the [gates] header")
    (tmp_path / "pyproject.toml").write_text('[tool.ganfix]\ngenerator = "toyscenes"\nmax_kid = 1.0\n')
    one_line_error(cli("check", "--config", tmp_path / "pyproject.toml"), "[tool.ganfix.gates]")


def test_segmenter_is_required_for_a_generator_that_is_not_a_built_in(tmp_path):
    """dissect/ace/paint (and rank/annotate --by iou:<class>) on a user's generator fell back to the toy world's
    segmenter (building, door, … units on clothes) with only a note: now --segmenter is required, as --real is."""
    import pytest

    import ganfix
    from ganfix import defaults
    from ganfix.errors import UsageError

    (tmp_path / "small.py").write_text(SPATIAL)
    spec = f"{tmp_path / 'small.py'}:factory"
    needles = ("--segmenter path/to/seg.py:factory", "--segmenter toyscenes", "not a built-in")
    one_line_error(cli("dissect", spec, "--layer", "up", "--samples", "8", "--no-cache"), *needles)
    one_line_error(cli("ace", spec, "--layer", "up", "--class", "sky", "--samples", "8", "--no-cache"), *needles)
    for command in ("rank", "annotate"):
        extra = ("--no-serve", "--out", tmp_path / "sheets") if command == "annotate" else ()
        one_line_error(cli(command, spec, "--layer", "up", "--by", "iou:sky", "--samples", "8", "--no-cache", *extra),
                       *needles)
    assert not (tmp_path / "sheets").exists()
    one_line_error(cli("paint", spec, "--layer", "up", "--samples", "8", "--out", tmp_path / "paint"), *needles)
    gen = ganfix.load_generator(spec)
    for call in (lambda: ganfix.dissect(gen, layers=["up"], samples=8, use_cache=False),
                 lambda: ganfix.ace(gen, "up", "sky", samples=8, use_cache=False)):
        with pytest.raises(UsageError, match="segmenter='path/to/seg.py:factory'"):
            call()
    assert defaults.segmenter_for("toyscenes") == "toyscenes" and defaults.segmenter_for(gen) is None


ALWAYS_ON = '''
import torch
import torch.nn as nn

class AlwaysOn(nn.Module):
    """every unit of `fc` fires (about equally) in every sample"""
    z_dim = 8
    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(8, 4)
        with torch.no_grad():
            self.fc.weight.fill_(1e-3)
            self.fc.bias.fill_(1.0)
        self.out = nn.Linear(4, 3 * 16 * 16)
    def forward(self, z):
        return torch.tanh(self.out(self.fc(z))).view(-1, 3, 16, 16)

def factory():
    return AlwaysOn()
'''


def test_rare_prints_zero_not_minus_zero_when_every_unit_fires_in_every_sample(tmp_path):
    """rank --by rare showed -0.000 for units active in every sample (−log 1 = −0.0)."""
    (tmp_path / "on.py").write_text(ALWAYS_ON)
    res = cli("rank", f"{tmp_path / 'on.py'}:factory", "--layer", "fc", "--by", "rare", "--samples", "20", "--no-cache")
    assert res.exit_code == 0, res.output
    assert "-0.000" not in res.output and " 0.000 " in res.output, res.output
