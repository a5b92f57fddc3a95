"""Bring your own GAN: generators ganfix never saw (a 1-channel DCGAN, an MLP with flat [N, 784]
outputs, random weights), a feature extractor given as file.py:factory, checkpoints saved as people
save them, real sets that must be named and must fit, annotation sets per checkpoint, and weights
files that never get to run code."""
from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest
import torch
from PIL import Image

from ganfix.cli.app import app
from cli_helpers import runner

HERE = Path(__file__).parent / "byog"
sys.path.insert(0, str(HERE))
from models import dcgan, mlp, write_grey_images  # noqa: E402

MODELS = str(HERE / "models.py")
FEATURES = f"{MODELS}:features"


def ok(res):
    assert res.exit_code == 0, res.output
    return res


def one_line_error(res, *needles):
    assert res.exit_code == 2, (res.exit_code, res.output)
    text = res.output.strip().splitlines()
    text = [t for t in text if not t.startswith("using the state dict")]  # the loader's note on stderr
    assert len(text) == 1 and text[0].startswith("error:"), res.output
    for n in needles:
        assert n in text[0], (n, text[0])
    return text[0]


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    d = tmp_path_factory.mktemp("byog")
    torch.save({"netG_state_dict": dcgan().state_dict(), "netD_state_dict": {"w": torch.zeros(3)}, "epoch": 7},
               d / "dcgan_ckpt.pt")
    torch.save({"netG_state_dict": mlp().state_dict()}, d / "mlp_ckpt.pt")
    write_grey_images(d / "real32", 60, 32, seed=1)
    write_grey_images(d / "real28", 60, 28, seed=2)
    return d


def test_one_channel_dcgan_rank_sheets_repair_score(files, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    gen = [f"{MODELS}:dcgan", "--weights", str(files / "dcgan_ckpt.pt")]
    rank = json.loads(ok(runner.invoke(app, ["rank", *gen, "--layer", "main.5", "--samples", "64", "--json"])).stdout)
    assert rank["units"] and rank["layer"] == "main.5"
    ok(runner.invoke(app, ["annotate", *gen, "--layer", "main.5", "--samples", "64", "--top", "3", "--no-serve"]))
    sheets = list(Path("sheets").glob("models-dcgan--dcgan_ckpt-*/main.5"))
    assert len(sheets) == 1
    manifest = json.loads((sheets[0] / "sheets.json").read_text())
    assert manifest["image_size"] == 32 and manifest["scale"] * 32 >= 96  # small images enlarged for people
    with Image.open(sheets[0] / manifest["units"][0]["file"]) as im:
        assert im.mode == "RGB"
    ok(runner.invoke(app, ["annotate", *gen, "--layer", "main.5", "--mark", "1,2"]))
    ann = next(Path("annotations").glob("models-dcgan--dcgan_ckpt-*/main.5-artifacts.json"))
    out = tmp_path / "repair"
    ok(runner.invoke(app, ["repair", *gen, "--annotations", str(ann), "--out", str(out), "--samples", "40",
                           "--random-draws", "2", "--bootstrap", "10", "--features", FEATURES,
                           "--real", str(files / "real32")]))
    report = json.loads((out / "report.json").read_text())
    assert report["settings"]["metric"] == "FD (models.py:features features)"
    assert report["settings"]["real_label"] == str(files / "real32")
    assert "FD (models.py:features features) vs" in (out / "report.md").read_text()
    with Image.open(out / "before_after.png") as im:
        assert im.height >= 3 * 96  # three rows of tiles enlarged to at least 96 px
    score = json.loads(ok(runner.invoke(app, ["score", *gen, "--samples", "40", "--features", FEATURES,
                                              "--real", str(files / "real32"), "--json"])).stdout)
    assert score["metric"].startswith("FD (") and score["fid"] >= 0


def test_flat_mlp_outputs_with_image_shape(files, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    gen = [f"{MODELS}:mlp", "--weights", str(files / "mlp_ckpt.pt")]
    one_line_error(runner.invoke(app, ["score", *gen, "--samples", "40", "--features", FEATURES,
                                       "--real", str(files / "real28")]), "--image-shape 1,28,28")
    gen += ["--image-shape", "1,28,28"]
    ok(runner.invoke(app, ["rank", *gen, "--layer", "act2", "--samples", "64"]))
    ok(runner.invoke(app, ["annotate", *gen, "--layer", "act2", "--samples", "64", "--top", "2", "--no-serve"]))
    manifest = json.loads(next(Path("sheets").glob("models-mlp--mlp_ckpt-*/act2/sheets.json")).read_text())
    unit = manifest["units"][0]
    assert unit["spatial"] is False and unit["coverage"] is None  # a Linear layer: no masks, no coverage
    ok(runner.invoke(app, ["annotate", *gen, "--layer", "act2", "--mark", "3,5,7"]))
    ann = next(Path("annotations").glob("models-mlp--mlp_ckpt-*/act2-artifacts.json"))
    out = tmp_path / "repair"
    ok(runner.invoke(app, ["repair", *gen, "--annotations", str(ann), "--out", str(out), "--samples", "40",
                           "--random-draws", "2", "--bootstrap", "10", "--features", FEATURES,
                           "--real", str(files / "real28")]))
    assert (out / "export" / "patched_generator.pt2").exists() and (out / "before_after.png").exists()
    assert json.loads((out / "export" / "patch.json").read_text())["export"]["image_shape"] == [1, 28, 28]
    score = json.loads(ok(runner.invoke(app, ["score", *gen, "--annotations", str(ann), "--samples", "40",
                                              "--features", FEATURES, "--real", str(files / "real28"),
                                              "--json"])).stdout)
    assert score["patched_units"] == [3, 5, 7]


def test_weights_key_strip_prefix_and_ema(files, tmp_path):
    from ganfix.errors import UsageError
    from ganfix.generator import load_generator

    spec = f"{MODELS}:dcgan"
    g = load_generator(spec, weights=str(files / "dcgan_ckpt.pt"))
    assert "netG_state_dict" in g.notes[0]  # chosen among two state dicts, and said so
    assert load_generator(spec, weights=str(files / "dcgan_ckpt.pt"), weights_key="netG_state_dict").fingerprint == g.fingerprint
    with pytest.raises(UsageError, match="does not fit the module"):
        load_generator(spec, weights=str(files / "dcgan_ckpt.pt"), weights_key="netD_state_dict")
    with pytest.raises(UsageError, match="no key 'nope'.*netG_state_dict"):
        load_generator(spec, weights=str(files / "dcgan_ckpt.pt"), weights_key="nope")
    other = dcgan()
    with torch.no_grad():
        for p in other.parameters():
            p.add_(0.5)
    ema = tmp_path / "ema.pt"
    torch.save({"G": dcgan().state_dict(), "G_ema": other.state_dict()}, ema)
    g_ema = load_generator(spec, weights=str(ema))
    assert "EMA" in g_ema.notes[0] and "G_ema" in g_ema.notes[0] and g_ema.fingerprint != g.fingerprint
    lightning = tmp_path / "lightning.ckpt"
    torch.save({"state_dict": {**{f"generator.{k}": v for k, v in dcgan().state_dict().items()},
                               "discriminator.w": torch.zeros(2)}, "epoch": 3}, lightning)
    with pytest.raises(UsageError, match="strip_prefix=generator."):
        load_generator(spec, weights=str(lightning))
    assert load_generator(spec, weights=str(lightning), strip_prefix="generator.").fingerprint == g.fingerprint
    res = runner.invoke(app, ["layers", spec, "--weights", str(lightning), "--strip-prefix", "generator.", "--json"])
    layers = {row["name"]: row for row in json.loads(ok(res).stdout)["layers"]}
    assert layers["main.0"]["type"] == "ConvTranspose2d" and "main.2" in layers["main.0"]["note"]


def test_non_builtin_needs_real_and_real_must_fit(files, toyscenes_gen):
    gen = [f"{MODELS}:dcgan", "--weights", str(files / "dcgan_ckpt.pt"), "--features", FEATURES, "--samples", "20"]
    one_line_error(runner.invoke(app, ["score", *gen]), "not a built-in generator", "--real FOLDER", "--real world")
    one_line_error(runner.invoke(app, ["score", *gen, "--real", "world"]), "1-channel")
    one_line_error(runner.invoke(app, ["score", *gen, "--real", str(files / "real28")]), "smaller than")
    from ganfix.real_sets import real_source_for

    assert real_source_for(toyscenes_gen, None).kind == "world"  # built-ins name their own


def test_two_checkpoints_of_one_factory_keep_separate_sets(files, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    second = dcgan()
    with torch.no_grad():
        second.main[0].weight.mul_(-1)
    torch.save({"netG_state_dict": second.state_dict()}, tmp_path / "dcgan_epoch9.pt")
    first = [f"{MODELS}:dcgan", "--weights", str(files / "dcgan_ckpt.pt")]
    other = [f"{MODELS}:dcgan", "--weights", str(tmp_path / "dcgan_epoch9.pt")]
    ok(runner.invoke(app, ["annotate", *first, "--layer", "main.5", "--mark", "1"]))
    ok(runner.invoke(app, ["annotate", *other, "--layer", "main.5", "--mark", "4"]))
    sets = sorted(Path("annotations").glob("*/main.5-artifacts.json"))
    assert len(sets) == 2
    units = sorted(json.loads(p.read_text())["units"] for p in sets)
    assert units == [[1], [4]]
    first_set = next(p for p in sets if "dcgan_ckpt" in str(p))
    msg = one_line_error(runner.invoke(app, ["annotate", *other, "--layer", "main.5", "--mark", "2",
                                             "--annotations", str(first_set)]), "--force")
    assert "dcgan_ckpt.pt" in msg and "dcgan_epoch9.pt" in msg  # names both weight files


def test_vgg16_without_weights_is_one_line(files):
    res = runner.invoke(app, ["score", f"{MODELS}:dcgan", "--weights", str(files / "dcgan_ckpt.pt"), "--samples", "20",
                              "--features", "vgg16", "--real", str(files / "real32"), "--offline"])
    one_line_error(res, "vgg16 weights not found", "vgg16-397923af.pth", "--feature-weights")
    assert "toyscenes" not in res.output  # never pushes the toy extractor on a non-toy generator


def _evil(tmp_path: Path) -> tuple[Path, Path]:
    import os

    marker = tmp_path / "PWNED"

    class Evil:
        def __reduce__(self):
            return (os.system, (f"touch {marker}",))

    path = tmp_path / "evil.pt"
    torch.save({"fc.weight": Evil()}, path)
    return path, marker


def test_weights_files_never_run_code(files, tmp_path, monkeypatch):
    evil, marker = _evil(tmp_path)
    base = ["score", "toyscenes", "--samples", "20"]
    one_line_error(runner.invoke(app, [*base, "--inception-weights", str(evil)]), "needs code to unpickle")
    one_line_error(runner.invoke(app, [*base, "--features", "toyscenes", "--feature-weights", str(evil)]),
                   "needs code to unpickle")
    # ... and from ganfix.toml
    (tmp_path / "ganfix.toml").write_text(f'generator = "toyscenes"\ninception_weights = "{evil}"\nfeatures = "inception"\n'
                                          'samples = 20\n[gates]\nmax_fid = 10\n')
    monkeypatch.chdir(tmp_path)
    res = runner.invoke(app, ["check"])
    assert res.exit_code == 2, res.output
    assert not marker.exists()
    # A plain state dict is validated, then torch-fidelity gets a re-saved copy, never the user's file.
    from ganfix.extractors import resolve_extractor
    from ganfix.world.toy_segmenter import SEGMENTER_WEIGHTS

    ex = resolve_extractor("toyscenes", str(SEGMENTER_WEIGHTS))
    assert ex.build() is not None and ex.identity["weights"]


def test_user_extractor_contract(tmp_path):
    from ganfix.errors import UsageError
    from ganfix.extractors import extract, resolve_extractor

    bad = tmp_path / "bad.py"
    bad.write_text("import torch\nclass M(torch.nn.Module):\n    def forward(self, x):\n        return x.float()\n"
                   "def factory():\n    return M()\n")
    ex = resolve_extractor(f"{bad}:factory")
    with pytest.raises(UsageError, match=r"must return features \[N, D\]"):
        extract(ex, torch.zeros(2, 3, 16, 16, dtype=torch.uint8))
    good = resolve_extractor(FEATURES)
    feats = extract(good, torch.randint(0, 255, (3, 3, 40, 40), dtype=torch.uint8))  # RGB 40 px → grey 28 px
    assert feats.shape == (3, 24)
    assert good.identity["fingerprint"] and good.metric_name == "FD (models.py:features features)"
    with pytest.raises(UsageError, match="factory"):
        resolve_extractor(str(bad))


def test_check_config_needs_real_for_non_builtins(files, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "ext.py").write_text((HERE / "models.py").read_text())
    base = f'generator = "{MODELS}:dcgan"\nweights = "{files / "dcgan_ckpt.pt"}"\nfeatures = "ext.py:features"\n'
    (tmp_path / "ganfix.toml").write_text(base + "samples = 20\n[gates]\nmax_fid = 10\n")
    one_line_error(runner.invoke(app, ["check"]), "missing key 'real'", "not a built-in generator")
    from ganfix.checking.config import load_config

    (tmp_path / "ganfix.toml").write_text(base + f'real = "{files / "real32"}"\nsamples = 20\n[gates]\nmax_fid = 10\n')
    cfg = load_config(tmp_path / "ganfix.toml")
    assert cfg.features == f"{tmp_path / 'ext.py'}:features"  # a file.py:factory extractor, relative to the config


def test_staged_progress_prints_plain_lines_when_piped(capsys):
    import io

    from rich.console import Console

    from ganfix.progress import StagedProgress

    with StagedProgress(Console(file=io.StringIO(), force_terminal=False), interval=0) as update:
        for stage in ("generate", "render"):
            for _ in range(2):
                update(stage, 1, 2)
    err = capsys.readouterr().err
    assert "generate: 2/2 (100%)" in err and "render: 1/2 (50%)" in err


def test_no_normalization_warning_before_pixelnorm():
    """ProGAN's PixelNorm only divides: a zeroed unit stays zero, so layer4 (the paper's layer) gets no warning,
    while a conv right before a BatchNorm does."""
    import torch
    from torch import nn

    import ganfix
    from ganfix.layer_kinds import layer_note, patch_warning

    g = ganfix.load_generator("toyscenes")
    assert patch_warning(g, "layer4") is None and layer_note(g, "layer4") == ""

    class G(nn.Module):
        def __init__(self):
            super().__init__()
            self.main = nn.Sequential(nn.ConvTranspose2d(8, 4, 4, 1, 0), nn.BatchNorm2d(4), nn.ReLU(),
                                      nn.ConvTranspose2d(4, 3, 4, 4, 0), nn.Tanh())
            self.z_shape = (8, 1, 1)

        def forward(self, z):
            return self.main(z)

    dc = ganfix.Generator(G(), (8, 1, 1))
    assert "main.2" in patch_warning(dc, "main.0")
    x = torch.randn(1, 3, 2, 2)
    x[:, 1] = 0
    from ganfix.models.progan import PixelNorm
    assert torch.equal(PixelNorm()(x)[:, 1], torch.zeros(1, 2, 2))  # the reason: zero stays zero
