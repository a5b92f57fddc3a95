"""Scoring: real sources, the real-feature cache (never stale), extractor resolution, sample
selection and determinism (tests/test_repair.py covers patched < original < random on the planted
generator and agreement with torch_fidelity.calculate_metrics)."""
from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

import ganfix.extractors as features_mod
from ganfix.errors import UsageError
from ganfix.extractors import resolve_extractor, real_features
from ganfix.patch import Patch
from ganfix.real_data import RealSource
from ganfix.scoring import auto_bootstrap, check_kid_subset, score_repair, top_activation_ids
from cli_helpers import runner

from planted import PLANTED_UNITS, register_test_extractor

SPEC = f"{Path(__file__).parent / 'planted.py'}:planted"


@pytest.fixture(scope="module")
def gen(planted_gen):
    return planted_gen


@pytest.fixture()
def folder(tmp_path):
    rng = np.random.default_rng(0)
    for i in range(12):
        Image.fromarray(rng.integers(0, 255, (16, 16, 3), dtype=np.uint8)).save(tmp_path / f"{i:03d}.png")
    return tmp_path


@pytest.fixture()
def count_extract(monkeypatch):
    calls = []
    real_extract = features_mod.extract

    def counting(extractor, images, *args, **kwargs):
        calls.append(len(images))
        return real_extract(extractor, images, *args, **kwargs)

    monkeypatch.setattr(features_mod, "extract", counting)
    return calls


def test_real_feature_cache_hits_and_is_never_stale(folder, count_extract):
    ex = resolve_extractor(register_test_extractor())
    src = RealSource.from_spec(str(folder), resolution=16)
    first = real_features(src, 10, ex)
    again = real_features(src, 10, ex)
    assert count_extract == [10] and torch.equal(first, again)  # second call: cache hit
    real_features(src, 8, ex)  # another N → another entry
    assert count_extract == [10, 8]
    # Edit one image (new content and mtime): the folder identity changes, features are recomputed.
    Image.new("RGB", (16, 16), (255, 0, 255)).save(folder / "003.png")
    st = (folder / "003.png").stat()
    os.utime(folder / "003.png", ns=(st.st_atime_ns, st.st_mtime_ns + 10**9))
    edited = real_features(src, 10, ex)
    assert count_extract == [10, 8, 10] and not torch.equal(edited, first)
    (folder / "zzz_added_later.png").write_bytes((folder / "000.png").read_bytes())  # beyond the first 10 files
    real_features(src, 10, ex)
    assert count_extract == [10, 8, 10]  # the first 10 files are unchanged: still a hit
    (folder / "000.png").rename(folder / "000b.png")  # renaming changes the identity
    real_features(src, 10, ex)
    assert len(count_extract) == 4


def test_real_sources(folder, tmp_path):
    with pytest.raises(UsageError, match="neither 'world' nor a folder"):
        RealSource.from_spec(str(tmp_path / "missing"))
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(UsageError, match="no images"):
        RealSource.from_spec(str(empty))
    src = RealSource.from_spec(str(folder), resolution=8)
    imgs = src.images(5)
    assert imgs.dtype == torch.uint8 and imgs.shape == (5, 3, 8, 8)
    with pytest.raises(UsageError, match="fewer than the 50"):
        src.images(50)
    world = RealSource.from_spec("world", seed=3, resolution=16)
    w = world.images(2)
    assert w.dtype == torch.uint8 and w.shape == (2, 3, 16, 16)
    assert torch.equal(w, world.images(2))  # rendered from (seed, index): deterministic
    ident = world.identity(2)
    assert ident["kind"] == "world" and ident["seed"] == 3 and ident["renderer"]


def test_extractor_resolution(tmp_path, monkeypatch):
    monkeypatch.setattr(features_mod, "inception_weights_candidates", lambda: [tmp_path / "cache" / "w.pth"])
    with pytest.raises(UsageError, match="Inception weights not found") as exc:
        resolve_extractor("inception")
    assert "\n" not in str(exc.value) and "inception_weights=PATH" in str(exc.value)
    with pytest.raises(UsageError, match="file not found"):
        resolve_extractor("inception", str(tmp_path / "nope.pth"))
    with pytest.raises(UsageError, match="unknown feature extractor"):
        resolve_extractor("no-such-extractor")
    # Present in torch-fidelity's cache folder → used (after a weights_only check); explicit path → a
    # validated copy is handed to torch-fidelity, never the user's file itself.
    (tmp_path / "cache").mkdir()
    fake_state = {k: torch.zeros(2) for k in ("Conv2d_1a_3x3.conv.weight", "Mixed_7c.branch_pool.conv.weight",
                                              "fc.weight", "fc.bias")}
    torch.save(fake_state, tmp_path / "cache" / "w.pth")
    assert resolve_extractor("inception").weights_path == str(tmp_path / "cache" / "w.pth")
    stand_in = tmp_path / "explicit.pth"
    torch.save(fake_state, stand_in)
    seen = {}

    def fake_create(name, features_list, cuda=False, **kwargs):
        seen.update(name=name, features=features_list, **kwargs)
        seen["tensors"] = torch.load(kwargs["feature_extractor_weights_path"], weights_only=True)
        return "extractor"

    import torch_fidelity.utils

    monkeypatch.setattr(torch_fidelity.utils, "create_feature_extractor", fake_create)
    ex = resolve_extractor("inception", str(stand_in))
    assert ex.build() == "extractor"
    assert seen["name"] == "inception-v3-compat" and seen["features"] == ["2048"]
    assert seen["feature_extractor_weights_path"] != str(stand_in) and set(seen["tensors"]) == set(fake_state)
    assert not Path(seen["feature_extractor_weights_path"]).exists()  # the private copy is gone after the build
    assert ex.identity["weights"] and ex.identity["weights"] != resolve_extractor("toyscenes").identity["weights"]


def test_kid_subset_check():
    assert check_kid_subset(100, None) == 50
    assert check_kid_subset(100, 100) == 100
    with pytest.raises(UsageError, match="fewer than KID's subset size"):
        check_kid_subset(50, 100)
    with pytest.raises(UsageError, match="KID"):
        check_kid_subset(1, None)


def test_top_selection_picks_the_samples_where_the_units_fire(gen):
    p = Patch("features", PLANTED_UNITS)
    ids = top_activation_ids(gen, p, pool=120, n=20, seed=0)
    z = gen.latents(ids, 0)
    assert len(ids) == 20 and ids == sorted(ids) and bool((z[:, 0] > 0.5).all())


def test_score_repair_is_deterministic(gen, tmp_path):
    real = tmp_path / "real"
    real.mkdir()
    patch = Patch("features", PLANTED_UNITS, fingerprint=gen.fingerprint)
    with torch.no_grad(), patch.applied(gen):
        clean = gen.to_uint8(gen.generate(range(5000, 5060), seed=1)).permute(0, 2, 3, 1).numpy()
    for i, im in enumerate(clean):
        Image.fromarray(im).save(real / f"{i:03d}.png")
    src = RealSource.from_spec(str(real), resolution=16)
    name = register_test_extractor()
    kw = dict(samples=60, seed=4, random_draws=2, bootstrap=20, kid_subset_size=30, kid_subsets=20)
    a = score_repair(gen, patch, src, name, selection="top", pool=150, **kw)
    b = score_repair(gen, patch, src, name, selection="top", pool=150, **kw)
    assert a == b  # same seed, same numbers (bootstrap and KID subsets included)
    assert a["settings"]["selection"] == "top" and a["settings"]["pool"] == 150
    assert a["patched"]["fid"] < a["original"]["fid"]
    lo, hi = a["delta"]["ci95"]
    assert lo <= hi and a["delta"]["fid_patched_minus_original"] < 0
    assert len(a["random"]["draws"]) == 2 and a["random"]["fid_std"] >= 0
    c = score_repair(gen, patch, src, name, selection="all", **{**kw, "seed": 5})
    assert c["original"]["fid"] != a["original"]["fid"]
    d = score_repair(gen, patch, src, name, selection="all", **{**kw, "bootstrap": None})
    assert d["settings"]["bootstrap"] == 200 == auto_bootstrap(51) and auto_bootstrap(2048) == 10
    with pytest.raises(UsageError, match="random_draws must be at least 1"):
        score_repair(gen, patch, src, name, **{**kw, "random_draws": 0})
    with pytest.raises(UsageError, match="select=best"):
        score_repair(gen, patch, src, name, selection="best", **kw)


def _clean_folder(gen, folder: Path, n: int) -> Path:
    folder.mkdir()
    with torch.no_grad(), Patch("features", PLANTED_UNITS).applied(gen):
        images = gen.to_uint8(gen.generate(range(7000, 7000 + n), seed=2)).permute(0, 2, 3, 1).numpy()
    for i, im in enumerate(images):
        Image.fromarray(im).save(folder / f"{i:03d}.png")
    return folder


def test_cli_score_json_and_default_inception_error(gen, tmp_path, monkeypatch, annotation_file):
    import json

    
    from ganfix.annotations import AnnotationSet
    from ganfix.cli.app import app

    real = _clean_folder(gen, tmp_path / "real", 60)
    ann_path = annotation_file(gen, "features", PLANTED_UNITS)
    name = register_test_extractor()
    base = ["score", SPEC, "--samples", "60", "--kid-subset-size", "30", "--features", name, "--real", str(real), "--json"]
    plain = runner.invoke(app, base)
    patched = runner.invoke(app, base + ["--annotations", str(ann_path), "--out", str(tmp_path / "out")])
    assert plain.exit_code == 0 and patched.exit_code == 0, (plain.output, patched.output)
    a, b = json.loads(plain.stdout), json.loads(patched.stdout)  # stdout holds only the JSON
    assert {"fid", "kid_mean", "kid_std", "samples"} <= set(a) and a["patched_units"] is None
    assert b["patched_units"] == PLANTED_UNITS and b["fid"] < a["fid"]
    assert json.loads((tmp_path / "out" / "score.json").read_text())["fid"] == b["fid"]
    # No --features: standard Inception FID, whose weights are absent here → one line, exit 2.
    monkeypatch.setattr(features_mod, "inception_weights_candidates", lambda: [tmp_path / "nowhere.pth"])
    res = runner.invoke(app, ["score", SPEC, "--samples", "60", "--real", str(real)])
    assert res.exit_code == 2 and len(res.output.strip().splitlines()) == 1, res.output
    assert "Inception weights not found" in res.output and "toyscenes" not in res.output  # not a toy generator


def test_generated_feature_cache_distinguishes_spatial_patches(gen):
    from ganfix.scoring import generated_features, generated_features_key

    ex = resolve_extractor(register_test_extractor())
    fe = ex.build()
    whole = Patch("features", PLANTED_UNITS)
    half_mask = torch.zeros(8, 8)
    half_mask[:, :4] = 1
    half = Patch("features", PLANTED_UNITS, spatial=half_mask)
    assert generated_features_key(gen, [0, 1], 0, ex, whole) != generated_features_key(gen, [0, 1], 0, ex, half)
    ids = list(range(40))
    a = generated_features(gen, ids, 0, ex, fe, whole)
    b = generated_features(gen, ids, 0, ex, fe, half)
    assert not torch.equal(a, b)
