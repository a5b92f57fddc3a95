"""Cached FID/KID/bootstrap results: an identical rerun is a lookup (no extraction, no metric arithmetic);
any change of features, settings, sample ids or real set recomputes; use_cache=False bypasses the cache."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch

import ganfix.extractors as extractors_mod
import ganfix.scoring as scoring
from ganfix.patch import Patch
from ganfix.real_data import RealSource

from planted import PLANTED_UNITS, register_test_extractor, write_clean_images

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture()
def cache_dir(tmp_path, monkeypatch):
    """A fresh, empty cache for each test (other tests' entries cannot make a hit)."""
    monkeypatch.setenv("GANFIX_CACHE", str(tmp_path / "cache"))
    return tmp_path / "cache"


@pytest.fixture()
def calls(monkeypatch):
    """Counts FID and KID computations and feature extractions."""
    seen = {"fid": 0, "kid": 0, "extract": 0}
    fid, kid, extract = scoring.fid, scoring.kid, extractors_mod.extract

    def counting_fid(*a, **k):
        seen["fid"] += 1
        return fid(*a, **k)

    def counting_kid(*a, **k):
        seen["kid"] += 1
        return kid(*a, **k)

    def counting_extract(*a, **k):
        seen["extract"] += 1
        return extract(*a, **k)

    monkeypatch.setattr(scoring, "fid", counting_fid)
    monkeypatch.setattr(scoring, "kid", counting_kid)
    monkeypatch.setattr(extractors_mod, "extract", counting_extract)
    monkeypatch.setattr(scoring, "extract", counting_extract)
    return seen


def _fresh(calls: dict) -> dict:
    out = dict(calls)
    for k in calls:
        calls[k] = 0
    return out


def test_score_results_are_reused_only_when_nothing_changes(planted_gen, planted_real, cache_dir, calls, tmp_path):
    feats = register_test_extractor()
    real = RealSource.from_spec(str(planted_real), resolution=16)
    base = dict(features=feats, samples=24, seed=0, kid_subset_size=12, kid_subsets=5)

    first = scoring.score_generator(planted_gen, real, **base)
    assert _fresh(calls)["fid"] == 1
    again = scoring.score_generator(planted_gen, real, **base)
    assert again == first and _fresh(calls) == {"fid": 0, "kid": 0, "extract": 0}  # a lookup

    other_feats = register_test_extractor("planted-test-b")  # same network, another extractor identity
    other_real = tmp_path / "other_real"
    other_real.mkdir()
    write_clean_images(planted_gen, other_real, range(30_000, 30_030), seed=4)
    changes = [
        dict(seed=1),                                    # other latents (sample ids under another seed)
        dict(samples=26),                                # other sample ids
        dict(kid_subset_size=10),
        dict(kid_subsets=6),
        dict(patch=Patch("features", PLANTED_UNITS)),
        dict(patch=Patch("features", PLANTED_UNITS, value=0.5)),
        dict(features=other_feats),
    ]
    for change in changes:
        scoring.score_generator(planted_gen, real, **{**base, **change})
        assert _fresh(calls)["fid"] == 1, change
    scoring.score_generator(planted_gen, RealSource.from_spec(str(other_real), resolution=16), **base)
    assert _fresh(calls)["fid"] == 1  # another real set
    # every variant is now cached: each again is a lookup
    for change in changes:
        scoring.score_generator(planted_gen, real, **{**base, **change})
    assert _fresh(calls)["fid"] == 0

    # use_cache=False: recomputed from scratch (features too), equal numbers, and nothing read or written
    bypass = scoring.score_generator(planted_gen, real, **base, use_cache=False)
    assert bypass == first and _fresh(calls)["extract"] >= 2
    entries = sorted(p.name for p in (cache_dir / "score_metrics").iterdir())
    scoring.score_generator(planted_gen, real, **{**base, "seed": 7}, use_cache=False)
    assert sorted(p.name for p in (cache_dir / "score_metrics").iterdir()) == entries


def test_score_cache_entry_is_keyed_by_the_feature_caches(planted_gen, planted_real, cache_dir, calls):
    """Editing a real image changes the real set's identity, so the cached score is not used."""
    import shutil

    from PIL import Image

    real_dir = cache_dir.parent / "real_copy"
    shutil.copytree(planted_real, real_dir)
    real = RealSource.from_spec(str(real_dir), resolution=16)
    kw = dict(features=register_test_extractor(), samples=20, kid_subset_size=10, kid_subsets=3)
    a = scoring.score_generator(planted_gen, real, **kw)
    _fresh(calls)
    first = sorted(p for p in real_dir.rglob("*.png"))[0]
    img = Image.open(first).convert("RGB")
    img.putpixel((0, 0), tuple(255 - v for v in img.getpixel((0, 0))))
    img.save(first)
    b = scoring.score_generator(planted_gen, real, **kw)
    assert _fresh(calls)["fid"] == 1 and b["fid"] != a["fid"]


def test_repair_reports_are_reused_only_when_nothing_changes(planted_gen, planted_real, cache_dir, calls):
    real = RealSource.from_spec(str(planted_real), resolution=16)
    patch = Patch("features", PLANTED_UNITS)
    base = dict(features=register_test_extractor(), samples=20, seed=0, random_draws=2, selection="all",
                bootstrap=3, kid_subset_size=10, kid_subsets=3)
    first = scoring.score_repair(planted_gen, patch, real, **base)
    n_first = _fresh(calls)["fid"]
    assert n_first == 4 + 3 * 4  # 4 variants, and 3 resamples × 4 variants
    seen = []
    again = scoring.score_repair(planted_gen, patch, real, **base, progress=lambda name, n, total: seen.append((name, n)))
    assert again == first and _fresh(calls) == {"fid": 0, "kid": 0, "extract": 0}
    assert sum(n for _, n in seen) == 4 * 20  # the progress bar still completes on a hit

    for change in [dict(bootstrap=4), dict(random_draws=3), dict(seed=1), dict(samples=22), dict(kid_subsets=4),
                   dict(kid_subset_size=8), dict(selection="top", pool=40), dict(features=register_test_extractor("planted-test-b"))]:
        scoring.score_repair(planted_gen, patch, real, **{**base, **change})
        assert _fresh(calls)["fid"] > 0, change
    scoring.score_repair(planted_gen, Patch("features", PLANTED_UNITS[:1]), real, **base)
    assert _fresh(calls)["fid"] > 0  # another patch

    bypass = scoring.score_repair(planted_gen, patch, real, **base, use_cache=False)
    assert bypass == first and _fresh(calls)["fid"] == n_first


def test_top_activation_ids_are_cached_by_pool_and_units(planted_gen, cache_dir, monkeypatch):
    patch = Patch("features", PLANTED_UNITS)
    a = scoring.top_activation_ids(planted_gen, patch, 40, 10, 0, use_cache=True)
    monkeypatch.setattr(scoring, "_top_activation_ids", lambda *a, **k: pytest.fail("recomputed"))
    assert scoring.top_activation_ids(planted_gen, patch, 40, 10, 0, use_cache=True) == a
    monkeypatch.undo()
    assert scoring.top_activation_ids(planted_gen, patch, 40, 10, 0, use_cache=False) == a
    assert scoring.top_activation_ids(planted_gen, Patch("features", [0, 1]), 40, 10, 0, use_cache=True) != a


def test_known_fid_layers_match_torch_fidelity():
    """The layers resolve_extractor knows without importing torch-fidelity are torch-fidelity's own."""
    from torch_fidelity.registry import FEATURE_EXTRACTORS_REGISTRY

    from ganfix.registry import builtin_extractors
    from ganfix.world import toy_extractor, toy_ssl

    for name, layer in extractors_mod.KNOWN_FID_LAYERS.items():
        assert FEATURE_EXTRACTORS_REGISTRY[name].get_default_feature_layer_for_metric("fid") == layer
    builtins = builtin_extractors()
    assert builtins["toyscenes"].feature_layer == toy_extractor.FEATURE_LAYER
    assert builtins["toyscenes-ssl"].feature_layer == toy_ssl.FEATURE_LAYER
    for name, entry in builtins.items():  # registered on first build, with the same default feature
        entry.ensure_registered()
        assert FEATURE_EXTRACTORS_REGISTRY[name].get_default_feature_layer_for_metric("fid") == entry.feature_layer


@pytest.mark.slow  # two fresh ganfix processes: ~10 s
def test_cached_score_imports_no_torch_fidelity(tmp_path):
    """A second `ganfix score` whose results are cached never imports torch-fidelity (nor torchvision)."""
    env = {**os.environ, "GANFIX_CACHE": str(tmp_path / "cache"), "PYTHONPATH": str(REPO), "OMP_NUM_THREADS": "1"}
    cmd = ["score", "toyscenes", "-n", "16", "--kid-subset-size", "8", "--json"]
    probe = ("import sys, runpy; sys.argv = ['ganfix', *sys.argv[1:]]\n"
             "try:\n    runpy.run_module('ganfix', run_name='__main__')\n"
             "except SystemExit as e:\n    assert not e.code, e.code\n"
             "print('IMPORTED' if {'torch_fidelity', 'torchvision'} & set(sys.modules) else 'CLEAN', file=sys.stderr)\n")
    runs = [subprocess.run([sys.executable, "-c", probe, *cmd], env=env, capture_output=True, text=True, timeout=300)
            for _ in range(2)]
    for r in runs:
        assert r.returncode == 0, r.stderr
    assert runs[0].stderr.strip().endswith("IMPORTED")  # the first run extracts features
    assert runs[1].stderr.strip().endswith("CLEAN"), runs[1].stderr
    import json

    assert json.loads(runs[0].stdout)["fid"] == json.loads(runs[1].stdout)["fid"]


def test_layer_and_image_shapes_are_remembered_with_the_fingerprint(cache_dir, monkeypatch):
    import ganfix.generator as generator_mod
    from ganfix.generator import Generator
    from ganfix.models import ProGAN

    torch.manual_seed(0)
    module = ProGAN(16, z_dim=8, widths=[8, 8, 4])
    first = Generator(module, (8,))
    layers, image = first.layers, first.image_shape
    probes = []
    real_probe = generator_mod.probe_layers
    monkeypatch.setattr(generator_mod, "probe_layers", lambda *a: probes.append(1) or real_probe(*a))
    again = Generator(module, (8,))
    assert again.layers == layers and again.image_shape == image == (3, 16, 16) and probes == []
    with torch.no_grad():
        module.layer1.conv.weight.add_(1.0)  # another fingerprint: probed again
    assert Generator(module, (8,)).layers == layers and probes == [1]
    for entry in (cache_dir / "layer_shapes").iterdir():  # a damaged entry: probed again, silently
        entry.write_bytes(b"junk")
    assert Generator(module, (8,)).layers == layers and probes == [1, 1]
