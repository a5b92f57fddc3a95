"""`ganfix layers` / `ganfix rank` and the bad inputs: one line, exit code 2, nothing half-written."""
from __future__ import annotations

import json

import pytest
import torch

from ganfix.cli.app import app
from cli_helpers import one_line_error, runner



def run(*args):
    return runner.invoke(app, [str(a) for a in args])


def test_layers_and_rank(small_progan_path, tmp_path):
    res = run("layers", small_progan_path, "--json")
    assert res.exit_code == 0, res.output
    layers = json.loads(res.stdout)["layers"]
    assert [l["name"] for l in layers][:3] == ["layer1", "layer2", "layer3"] and layers[3]["shape"] == [32, 8, 8]
    out = tmp_path / "rank"
    res = run("rank", small_progan_path, "--layer", "layer4", "--samples", 64, "--top", 5, "--json", "--out", out)
    assert res.exit_code == 0, res.output
    report = json.loads(res.stdout)
    assert len(report["units"]) == 5 and report["units"][0]["rank"] == 1
    scores = [u["score"] for u in report["units"]]
    assert scores == sorted(scores, reverse=True)
    assert (out / "ranking.json").exists() and (out / "unit_stats.pt").exists()
    res = run("rank", small_progan_path, "--layer", "layer4", "--samples", 64, "--units", "3,5", "--json")
    assert {u["unit"] for u in json.loads(res.stdout)["units"]} == {3, 5}


def test_unknown_layer_lists_valid_names(small_progan_path, tmp_path):
    out = tmp_path / "never"
    one_line_error(run("rank", small_progan_path, "--layer", "layer99", "--samples", 8, "--out", out),
                   "layer99", "layer1", "output_32x32")
    assert not out.exists()


def test_missing_and_corrupt_checkpoint(tmp_path):
    one_line_error(run("layers", tmp_path / "nope.pt"), "nope.pt")
    bad = tmp_path / "corrupt.pt"
    bad.write_bytes(b"this is not a torch file")
    one_line_error(run("layers", bad), "corrupt.pt")
    truncated = tmp_path / "trunc.pt"
    from ganfix.models import ProGAN
    torch.save(ProGAN(8, z_dim=4, widths=[4, 4]).state_dict(), truncated)
    truncated.write_bytes(truncated.read_bytes()[:200])
    one_line_error(run("layers", truncated), "trunc.pt")


def test_non_progan_state_dict_points_to_factory(tmp_path):
    path = tmp_path / "other.pt"
    torch.save({"fc.weight": torch.zeros(2, 2)}, path)
    one_line_error(run("layers", path), "model.py:factory")


@pytest.fixture()
def user_file(user_models):
    """The shared user model file (conftest.user_models)."""
    return user_models


def test_factory_specs(user_file, tmp_path):
    from ganfix.generator import load_generator

    dc = load_generator(f"{user_file}:dcgan")
    assert dc.z_shape == (16, 1, 1) and list(dc.top_layers()) == ["main.0", "main.1", "main.2", "main.3"]
    flat = load_generator(f"{user_file}:flat")
    assert flat.z_shape == (10,) and flat.layers["fc"].shape == (128,) and not flat.layers["fc"].spatial
    mlp = load_generator(f"{user_file}:mlp")
    assert mlp.z_shape == (6,)
    weights = tmp_path / "mlp.pt"
    torch.save(mlp.module.state_dict(), weights)
    again = load_generator(f"{user_file}:mlp", weights=str(weights))
    assert again.fingerprint == mlp.fingerprint
    res = run("rank", f"{user_file}:mlp", "--weights", weights, "--layer", "l1", "--samples", 20, "--json")
    assert res.exit_code == 0, res.output
    assert len(json.loads(res.stdout)["units"]) == 12


def test_factory_not_found(user_file):
    one_line_error(run("layers", f"{user_file}:nothere"), "nothere", "dcgan")


def test_state_dict_mismatch_lists_keys(user_file, tmp_path):
    weights = tmp_path / "w.pt"
    torch.save({"l1.weight": torch.zeros(12, 6), "extra.bias": torch.zeros(3)}, weights)
    one_line_error(run("layers", f"{user_file}:mlp", "--weights", weights), "missing keys", "l2.weight", "unexpected keys", "extra.bias")


def test_samples_zero_and_unit_out_of_range(small_progan_path):
    one_line_error(run("rank", small_progan_path, "--layer", "layer4", "--samples", 0), "--samples")
    one_line_error(run("rank", small_progan_path, "--layer", "layer4", "--samples", 8, "--units", "3,99"), "99", "out of range")


def test_non_finite_activations_name_units(user_file, tmp_path):
    out = tmp_path / "never"
    one_line_error(run("rank", f"{user_file}:exploding", "--layer", "l1", "--samples", 8, "--out", out),
                   "non-finite", "units 2")
    assert not out.exists()


def test_torchscript_spec(small_progan_path, tmp_path):
    from ganfix.generator import load_generator

    gen = load_generator(str(small_progan_path))
    ts = tmp_path / "g.ts.pt"
    import warnings
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.jit.script(gen.module).save(str(ts))
    res = run("rank", ts, "--z-shape", "32", "--layer", "layer4", "--samples", 16, "--json")
    assert res.exit_code == 0, res.output
    loaded = load_generator(str(ts), z_shape=(32,))
    z = gen.latents(range(2), 0)
    assert torch.allclose(loaded(z), gen(z), atol=1e-6)


def test_unknown_builtin_name():
    one_line_error(run("layers", "no-such-model"), "no-such-model", "built-in")


def test_atomic_writes_get_ordinary_file_permissions(tmp_path):
    import os
    import stat

    from ganfix.atomic import atomic_write_text

    mask = os.umask(0o022)
    os.umask(mask)
    path = atomic_write_text(tmp_path / "out.json", "{}")
    assert stat.S_IMODE(path.stat().st_mode) == 0o666 & ~mask  # not mkstemp's 0600
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]  # no temp file left


def test_plain_progress_prints_the_final_count_once():
    import io

    from ganfix.progress import PlainProgress

    buf = io.StringIO()
    with PlainProgress("palette", 2, stream=buf, interval=0) as bar:
        bar.advance(n=1)
        bar.advance(n=1)
    assert [line.split(",")[0] for line in buf.getvalue().splitlines()] == ["palette: 1/2 (50%)", "palette: 2/2 (100%)"]
    buf = io.StringIO()
    with PlainProgress("palette", 2, stream=buf, interval=0) as bar:
        bar.advance(n=1)
        bar.interval = float("inf")
        bar.advance(n=1)
    assert [line.split(",")[0] for line in buf.getvalue().splitlines()] == ["palette: 1/2 (50%)", "palette: 2/2 (100%)"]
