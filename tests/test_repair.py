"""Artifact repair end to end on a generator with planted artifact units."""
from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

from ganfix.errors import UsageError
from ganfix.cli.app import app
from cli_helpers import one_line_error, runner
from ganfix.exporting import export_patched
from ganfix.generator import load_generator
from ganfix.patch import Patch
from ganfix.real_data import RealSource
from ganfix.scoring import score_repair

from planted import CONTENT_UNITS, PLANTED_UNITS, register_test_extractor, write_clean_images

SPEC = f"{Path(__file__).parent / 'planted.py'}:planted"


@pytest.fixture(scope="module")
def gen(planted_gen):
    return planted_gen


@pytest.fixture(scope="module")
def real_folder(tmp_path_factory, gen):
    """'Real' images: the clean generator (planted units off) on other latents."""
    return write_clean_images(gen, tmp_path_factory.mktemp("real"), range(10_000, 10_240), seed=7)


def test_ablation_removes_the_planted_pattern(gen):
    z = gen.latents(range(64), 0)
    fires = z[:, 0] > 0.5
    assert 5 < int(fires.sum()) < 40
    with torch.no_grad():
        original = gen(z)
        with Patch("features", PLANTED_UNITS).applied(gen):
            patched = gen(z)
        clean = gen.module.paint.forward(torch.cat([gen.module.features(z)[:, :8], torch.zeros(64, 2, 8, 8)], 1))
    assert torch.equal(patched, clean)  # nothing of the pattern is left
    changed = (original - patched).abs().flatten(1).amax(1) > 0.5
    assert torch.equal(changed, fires)  # the pattern was there exactly in the samples where the units fire


def test_patch_beats_every_random_draw(gen, real_folder):
    features = register_test_extractor()
    report = score_repair(gen, Patch("features", PLANTED_UNITS, fingerprint=gen.fingerprint),
                          RealSource.from_spec(str(real_folder), resolution=16), features, samples=200, seed=0,
                          random_draws=4, bootstrap=60, kid_subset_size=100)
    assert report["patched"]["fid"] < report["original"]["fid"]
    assert all(report["patched"]["fid"] < d["fid"] for d in report["random"]["draws"])
    assert all(set(d["units"]).isdisjoint(PLANTED_UNITS) and set(d["units"]) <= set(CONTENT_UNITS) for d in report["random"]["draws"])
    assert report["delta"]["ci95"][1] < 0 and report["delta"]["ci95_vs_random"][1] < 0
    assert report["patched"]["kid_mean"] < report["original"]["kid_mean"]


def test_fid_matches_torch_fidelity_calculate_metrics(gen, real_folder, tmp_path):
    import torch_fidelity

    from ganfix.real_data import TensorImages
    from ganfix.scoring import score_generator

    features = register_test_extractor()
    ours = score_generator(gen, RealSource.from_spec(str(real_folder), resolution=16), features, samples=120,
                           kid_subset_size=60, use_cache=False)
    images = gen.to_uint8(gen.generate(range(120), seed=0))
    real = RealSource.from_spec(str(real_folder), resolution=16).images(120)
    ref = torch_fidelity.calculate_metrics(input1=TensorImages(images), input2=TensorImages(real), fid=True, cuda=False,
                                           feature_extractor=features, verbose=False, cache=False, save_cpu_ram=True)
    assert ours["fid"] == pytest.approx(ref["frechet_inception_distance"], rel=1e-4, abs=1e-6)


@pytest.mark.slow  # exports and verifies in fresh processes: tens of seconds
def test_export_equivalence_and_reload(gen, tmp_path):
    patch = Patch("features", PLANTED_UNITS, fingerprint=gen.fingerprint)
    result = export_patched(gen, patch, tmp_path)
    assert set(result.files["pt2"].max_abs_diff) == {1, 3, 16} and result.max_abs_diff() <= 1e-5
    z = gen.latents(range(32), 5)
    with torch.no_grad(), patch.applied(gen):
        hooked = gen(z)
    program = torch.export.load(str(result.pt2)).module()
    assert (program(z) - hooked).abs().max() <= 1e-5
    meta = json.loads((tmp_path / "patch.json").read_text())
    assert meta["units"] == PLANTED_UNITS and meta["export"]["formats"]["pt2"]["max_abs_diff"]["16"] <= 1e-5
    # `features` ends in a torch.cat, not in conv/linear weights → mask kept as buffers, and said so.
    assert not result.folded and "buffers" in result.fold_how and meta["export"]["fold"]["rule"] == "mask-buffers"
    from safetensors.torch import load_file
    state = load_file(str(result.weights))
    assert torch.equal(state["features.ganfix_alpha"], torch.tensor([0.0] * 8 + [1.0, 1.0]))


@pytest.mark.slow  # exports and verifies in fresh processes: tens of seconds
def test_progan_fold_is_exact(tmp_path):
    from ganfix.models import ProGAN

    torch.manual_seed(0)
    path = tmp_path / "g.pt"
    torch.save(ProGAN(32, z_dim=16, widths=[16, 16, 8, 8]).state_dict(), path)
    g = load_generator(str(path))
    patch = Patch("layer4", [0, 3, 7], fingerprint=g.fingerprint)
    result = export_patched(g, patch, tmp_path / "out")
    assert result.folded and result.fold.rule == "progan-block" and max(result.fold.max_abs_diff.values()) <= 1e-5
    folded = load_generator(str(result.state_dict_pt))
    z = g.latents(range(16), 3)
    with torch.no_grad(), patch.applied(g):
        hooked = g(z)
    assert (folded(z) - hooked).abs().max() <= 1e-5
    reloaded = load_generator(str(result.pt2))
    assert reloaded.z_shape == (16,) and list(reloaded.top_layers()) == list(g.top_layers())
    assert (reloaded(z) - hooked).abs().max() <= 1e-5


@pytest.fixture()
def ann_file(gen, annotation_file):
    return annotation_file(gen, "features", PLANTED_UNITS, text="checker blotch")


@pytest.mark.slow  # the whole repair command end to end, export verified in fresh processes
def test_cli_repair_writes_report(gen, real_folder, ann_file, tmp_path):
    register_test_extractor()
    out = tmp_path / "out"
    # the extractor is registered in this process; CliRunner runs in-process
    res = runner.invoke(app, ["repair", SPEC, "--annotations", str(ann_file), "--out", str(out), "--samples", "120",
                              "--random-draws", "2", "--bootstrap", "20", "--features", "planted-test", "--real", str(real_folder), "--json"])
    assert res.exit_code == 0, res.output
    report = json.loads((out / "report.json").read_text())
    assert {"original", "patched", "random", "delta", "export"} <= set(report)
    assert report["patched"]["fid"] < report["original"]["fid"]
    for name in ("report.md", "before_after.png", "export/patched_generator.pt2", "export/patch.json", "export/patched_weights.safetensors"):
        assert (out / name).exists(), name


@pytest.mark.slow  # exports and verifies in fresh processes: tens of seconds
def test_fingerprint_refusal_and_force(gen, ann_file, tmp_path):
    other = tmp_path / "other.json"
    data = json.loads(ann_file.read_text())
    data["model"]["fingerprint"] = "0000000000000000"
    other.write_text(json.dumps(data))
    out = tmp_path / "never"
    one_line_error(runner.invoke(app, ["repair", SPEC, "--annotations", str(other), "--out", str(out), "--no-score"]),
                   "fingerprint", "--force")
    assert not out.exists()
    res = runner.invoke(app, ["repair", SPEC, "--annotations", str(other), "--out", str(out), "--no-score", "--force"])
    assert res.exit_code == 0, res.output
    assert (out / "export" / "patched_generator.pt2").exists()


def test_bad_inputs(gen, ann_file, tmp_path, monkeypatch, real_folder, annotation_file):
    out = tmp_path / "never"
    base = ["repair", SPEC, "--out", str(out)]
    empty = annotation_file(gen, "features", name="empty.json")
    one_line_error(runner.invoke(app, base + ["--annotations", str(empty)]), "no units")
    data = json.loads(ann_file.read_text())
    data["units"] = [3, 42]
    data["num_units"] = None
    bad_units = tmp_path / "bad_units.json"
    bad_units.write_text(json.dumps(data))
    one_line_error(runner.invoke(app, base + ["--annotations", str(bad_units), "--no-score"]), "out of range", "42")
    data = json.loads(ann_file.read_text())
    data["layer"] = "paint"
    other_layer = tmp_path / "other_layer.json"
    other_layer.write_text(json.dumps(data))
    one_line_error(runner.invoke(app, base + ["--annotations", str(other_layer), "--layer", "features"]),
                   "for layer 'paint', not 'features'")
    data["layer"] = "nolayer"
    other_layer.write_text(json.dumps(data))
    one_line_error(runner.invoke(app, base + ["--annotations", str(other_layer), "--no-score"]), "unknown layer 'nolayer'")
    malformed = tmp_path / "malformed.json"
    malformed.write_bytes(b'{"schema": "ganfix.annotations/1", "units": [1,')
    before = malformed.read_bytes()
    one_line_error(runner.invoke(app, base + ["--annotations", str(malformed)]), "malformed", "untouched")
    assert malformed.read_bytes() == before
    one_line_error(runner.invoke(app, base + ["--annotations", str(ann_file), "--samples", "50", "--kid-subset-size", "100"]),
                   "fewer than KID's subset size")
    monkeypatch.setattr("ganfix.extractors.inception_weights_candidates", lambda: [tmp_path / "nowhere.pth"])
    # Not a built-in: no silent toy real set, and the missing-Inception error does not push the toy extractor.
    one_line_error(runner.invoke(app, base + ["--annotations", str(ann_file), "--samples", "20"]),
                   "not a built-in generator", "--real FOLDER")
    res = runner.invoke(app, base + ["--annotations", str(ann_file), "--features", "inception", "--samples", "20",
                                     "--real", str(real_folder)])
    one_line_error(res, "Inception weights not found", "--feature-weights PATH", "extractor.py:factory")
    assert "toyscenes" not in res.output
    assert not out.exists()


def test_inception_weights_path_is_handed_to_torch_fidelity(tmp_path):
    from ganfix.extractors import resolve_extractor

    stand_in = tmp_path / "pt_inception.pth"
    stand_in.write_bytes(b"stand-in")  # not a torch file: refused before torch-fidelity sees it
    with pytest.raises(UsageError, match="could not read"):
        resolve_extractor("inception", str(stand_in))
    keys = ("Conv2d_1a_3x3.conv.weight", "Mixed_7c.branch_pool.conv.weight", "fc.weight", "fc.bias")
    torch.save({k: torch.zeros(2) for k in keys}, stand_in)  # the right keys, wrong shapes
    ex = resolve_extractor("inception", str(stand_in))
    assert ex.name == "inception-v3-compat" and ex.layer == "2048" and ex.weights_path == str(stand_in)
    with pytest.raises(UsageError, match="could not build the inception-v3-compat feature extractor") as exc:
        ex.build()  # torch-fidelity loads the validated copy; the shapes do not fit — one line, no download
    assert "\n" not in str(exc.value)


