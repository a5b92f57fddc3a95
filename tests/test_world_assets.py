"""Shipped world assets: generator/segmenter weights load safely, fingerprint matches the recorded one,
the segmenter is accurate on held-out scenes, and the feature extractor works through torch-fidelity."""
from __future__ import annotations

import json

import pytest
import torch

from ganfix.world import builtin
from ganfix.world.dataset import SceneImages
from ganfix.world.scenes import render_batch


def test_generator_weights_load_with_weights_only_and_are_small():
    path = builtin.GENERATOR_WEIGHTS
    assert path.stat().st_size <= 10 * 2**20
    state = torch.load(path, weights_only=True)
    assert "layer1.conv.weight" in state and "output_64x64.conv.weight" in state
    assert tuple(state["layer1.conv.weight"].shape[:2])[1] == builtin.Z_SHAPE[0]
    recipe = json.loads(builtin.GENERATOR_RECIPE.read_text())
    assert recipe["finished"] and recipe["steps"] > 0 and recipe["architecture"]["z_dim"] == builtin.Z_SHAPE[0]


def test_builtin_generator_fingerprint_equals_recorded(toyscenes_gen):
    from ganfix.fingerprint import fingerprint_module
    from ganfix.registry import get_builtin_generator

    entry = get_builtin_generator("toyscenes")
    assert entry is not None and entry.fingerprint is not None
    g = toyscenes_gen
    assert g.fingerprint == entry.fingerprint == fingerprint_module(builtin.build_generator())
    assert json.loads(builtin.GENERATOR_RECIPE.read_text())["fingerprint"] == entry.fingerprint
    x = g.generate([0, 1, 2], seed=0)
    assert x.shape == (3, 3, 64, 64) and torch.isfinite(x).all()


def test_builtin_segmenter_protocol_and_held_out_accuracy():
    from ganfix.segmenters import Segmenter, class_scores, load_segmenter
    from ganfix.world.toy_segmenter import confusion, iou_from_confusion

    assert builtin.SEGMENTER_WEIGHTS.stat().st_size <= 2 * 2**20
    seg = load_segmenter("toyscenes")
    assert isinstance(seg, Segmenter) and seg.class_names[:2] == ["sky", "ground"]
    rgb, cls = render_batch(4242, 0, 48)  # a stream no training run used
    x = torch.from_numpy(rgb).permute(0, 3, 1, 2).float().div(127.5).sub(1)
    pred = seg.segment(x)
    assert pred.shape == (48, 64, 64) and pred.dtype == torch.long
    ious = iou_from_confusion(confusion(pred, torch.from_numpy(cls).long()))
    assert sum(ious.values()) / len(ious) > 0.8, ious
    # Other sizes are resized to the native 64 px and back.
    assert seg.segment(torch.nn.functional.interpolate(x[:2], size=96)).shape == (2, 96, 96)
    # Differentiable scores for mask optimisation.
    xg = x[:2].clone().requires_grad_(True)
    class_scores(seg, xg)[:, 5].sum().backward()
    assert xg.grad is not None and xg.grad.abs().sum() > 0


@pytest.mark.slow
def test_feature_extractor_through_torch_fidelity(tmp_path):
    import torch_fidelity
    from typer.testing import CliRunner

    from ganfix.cli.app import app
    from ganfix.world.toy_extractor import FEATURE_LAYER, ensure_registered

    ensure_registered()
    ensure_registered()  # idempotent
    kw = dict(fid=True, kid=True, cuda=False, verbose=False, cache=False, feature_extractor="toyscenes",
              feature_layer_fid=FEATURE_LAYER, feature_layer_kid=FEATURE_LAYER, kid_subset_size=20, kid_subsets=5,
              save_cpu_ram=True)
    same = torch_fidelity.calculate_metrics(input1=SceneImages(60, seed=1), input2=SceneImages(60, seed=2), **kw)
    for seed, name in ((1, "a"), (2, "b")):
        assert CliRunner().invoke(app, ["world", "render", "--n", "60", "--seed", str(seed), "--no-masks",
                                        "--out", str(tmp_path / name)]).exit_code == 0
    folders = torch_fidelity.calculate_metrics(input1=str(tmp_path / "a" / "images"),
                                               input2=str(tmp_path / "b" / "images"), **kw)
    assert folders["frechet_inception_distance"] == pytest.approx(same["frechet_inception_distance"], rel=1e-4)
    noise = torch.randint(0, 256, (60, 3, 64, 64), generator=torch.Generator().manual_seed(0), dtype=torch.uint8)

    class Noise(torch.utils.data.Dataset):
        def __len__(self):
            return 60

        def __getitem__(self, i):
            return noise[i]

    far = torch_fidelity.calculate_metrics(input1=Noise(), input2=SceneImages(60, seed=2), **kw)
    assert far["frechet_inception_distance"] > 10 * same["frechet_inception_distance"]
    assert far["kernel_inception_distance_mean"] > same["kernel_inception_distance_mean"]
