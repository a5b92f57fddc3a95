"""The second offline feature space `toyscenes-ssl`: shipped, small, safe to load, registered, and it sees colour blotches."""
from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from ganfix.errors import UsageError
from ganfix.extractors import extract, resolve_extractor
from ganfix.world import toy_ssl
from ganfix.world.scenes import render_batch


def test_ssl_asset_is_small_loads_weights_only_and_has_its_recipe():
    assert toy_ssl.SSL_WEIGHTS.is_file() and toy_ssl.SSL_WEIGHTS.stat().st_size <= 5 * 2**20
    state = torch.load(toy_ssl.SSL_WEIGHTS, weights_only=True, map_location="cpu")
    assert all(isinstance(v, torch.Tensor) for v in state.values()) and not any(k.startswith("proj.") for k in state)
    recipe = json.loads(toy_ssl.SSL_WEIGHTS.with_suffix(".json").read_text())
    assert recipe["args"]["threads"] == 1 and recipe["args"]["scene_seed"] == 500  # a stream no other asset used
    assert recipe["held_out"]["view_match_top1"] > 0.9  # it learned to tell scenes apart on unseen scenes


def test_ssl_extractor_is_registered_and_deterministic():
    ex = resolve_extractor("toyscenes-ssl")
    assert ex.name == "toyscenes-ssl" and ex.layer == "pool" and "weights" in ex.identity
    rgb, _ = render_batch(700, 0, 8)
    imgs = torch.from_numpy(rgb).permute(0, 3, 1, 2).contiguous()
    a, b = extract(ex, imgs, 4), extract(ex, imgs, 8)
    assert a.shape == (8, 128) and torch.allclose(a, b, atol=1e-5)


def test_ssl_features_move_with_a_colour_blotch():
    ex = resolve_extractor("toyscenes-ssl")
    rgb, _ = render_batch(701, 0, 16)
    imgs = torch.from_numpy(rgb).permute(0, 3, 1, 2).contiguous()
    blotched = imgs.clone()
    blotched[:, 0, 20:32, 20:32], blotched[:, 1, 20:32, 20:32], blotched[:, 2, 20:32, 20:32] = 255, 0, 255
    f0, f1 = extract(ex, imgs), extract(ex, blotched)
    rgb2, _ = render_batch(702, 0, 16)
    f2 = extract(ex, torch.from_numpy(rgb2).permute(0, 3, 1, 2).contiguous())
    # A magenta square moves an image's features more than the typical distance between two scenes' means.
    shift = (f1 - f0).norm(dim=1).mean()
    assert shift > 0.5 * (f0.mean(0) - f2.mean(0)).norm()


def test_missing_ssl_weights_is_one_actionable_line(monkeypatch, tmp_path):
    monkeypatch.setattr(toy_ssl, "SSL_WEIGHTS", tmp_path / "nope.pt")
    with pytest.raises(UsageError, match="train_ssl"):
        toy_ssl.load_encoder()
