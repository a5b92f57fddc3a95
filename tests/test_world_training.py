"""The world's training commands run end to end on tiny settings (a few steps each)."""
from __future__ import annotations

import json

import pytest
import torch
from typer.testing import CliRunner

TINY_GAN = ["--n-scenes", "16", "--batch", "4", "--z-dim", "8", "--widths", "8,8,8,4,4", "--d-widths", "4,4,8,8,8",
            "--log-every", "1", "--threads", "1"]


@pytest.mark.slow
def test_train_generator_checkpoints_resumes_and_exports(tmp_path):
    from ganfix.generator import load_generator
    from ganfix.models.progan import progan_from_state_dict
    from ganfix.world import train_generator as tg

    out = tmp_path / "gan"
    tg.main(["--out", str(out), "--seed", "3", "--max-steps", "2", *TINY_GAN])
    recipe = json.loads((out / "recipe.json").read_text())
    assert recipe["steps"] == 2 and recipe["finished"] and len(recipe["history"]) == 2
    assert recipe["architecture"] == {"class": "ganfix.models.progan.ProGAN", "resolution": 64, "z_dim": 8,
                                      "widths": [8, 8, 8, 4, 4]}
    assert (out / "samples_latest.png").is_file()
    # Resume continues from the checkpoint instead of starting over.
    tg.main(["--out", str(out), "--seed", "3", "--max-steps", "3", *TINY_GAN])
    assert json.loads((out / "recipe.json").read_text())["steps"] == 3
    state = torch.load(out / "generator_ema.pt", weights_only=True)
    g = progan_from_state_dict(state)
    assert g(torch.randn(2, 8)).shape == (2, 3, 64, 64)
    assert sorted(state)[0].startswith("layer1.") and "output_64x64.conv.weight" in state
    assert load_generator(str(out / "generator_ema.pt"), device="cpu").z_shape[0] == 8
    assert not list(out.glob("*.tmp"))


@pytest.mark.slow
def test_train_generator_is_seeded(tmp_path):
    from ganfix.world import train_generator as tg

    for name in ("a", "b"):
        tg.main(["--out", str(tmp_path / name), "--seed", "5", "--max-steps", "1", *TINY_GAN])
    a = torch.load(tmp_path / "a" / "generator_ema.pt", weights_only=True)
    b = torch.load(tmp_path / "b" / "generator_ema.pt", weights_only=True)
    assert all(torch.equal(a[k], b[k]) for k in a)


def test_train_segmenter_tiny_and_loadable(tmp_path):
    from ganfix.world import train_segmenter as ts
    from ganfix.world.toy_segmenter import ToySegmenter, load_segnet

    out = tmp_path / "seg"
    ts.main(["--out", str(out), "--steps", "3", "--n-scenes", "8", "--n-eval", "4", "--batch", "4",
             "--widths", "4,4,8,8", "--log-every", "1"])
    recipe = json.loads((out / "recipe.json").read_text())
    assert recipe["steps"] == 3 and set(recipe["held_out"]["per_class_iou"]) == set(recipe["class_names"])
    seg = ToySegmenter(load_segnet(out / "segmenter.pt"))
    assert seg.segment(torch.zeros(2, 3, 64, 64)).shape == (2, 64, 64)


def test_cli_train_commands(tmp_path):
    from ganfix.cli.app import app

    runner = CliRunner()
    res = runner.invoke(app, ["world", "train-segmenter", "--out", str(tmp_path / "s"), "--steps", "2",
                              "--n-scenes", "8", "--n-eval", "4", "--batch", "4", "--json"])
    assert res.exit_code == 0, res.output
    res = runner.invoke(app, ["world", "train-generator", "--out", str(tmp_path / "g"), "--max-steps", "1",
                              "--n-scenes", "8", "--batch", "4", "--widths", "8,8,4,4,4", "--z-dim", "8"])
    assert res.exit_code == 0, res.output
    assert (tmp_path / "g" / "generator_ema.pt").is_file()
    res = runner.invoke(app, ["world", "train-generator", "--out", str(tmp_path / "h"), "--widths", "8,8",
                              "--max-steps", "1", "--n-scenes", "8", "--batch", "4"])
    assert res.exit_code == 2 and "widths" in res.output
