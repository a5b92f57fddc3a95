"""ACE, causal unit selection, insertion context/tracing and the dissect/ace CLI on the synthetic generator."""
from __future__ import annotations

import json
import textwrap

import pytest
import torch
from typer.testing import CliRunner

from ganfix.cli.app import app
from ganfix.dissection import (average_causal_effect, insertion_sweep, insertion_values, optimize_unit_mask,
                            select_by_ace, select_by_mask, single_unit_ace)
from ganfix.dissection.ace import class_fraction
from synthetic_fixtures import gen, seg  # noqa: F401  (pytest fixtures)

DOOR = 1


def test_ablating_constructed_unit_removes_exactly_the_class_pixels(gen, seg):
    k = gen.module.door_unit
    frac, _ = class_fraction(seg, gen, gen.generate(range(40), seed=2), DOOR)
    r = average_causal_effect(gen, seg, "layer1", [k], DOOR, 40, seed=2, batch_size=16, do_insert=False)
    assert r.original == pytest.approx(float(frac.double().mean()), abs=1e-9) and r.original > 0.02
    assert r.ablated == 0.0 and r.removed == pytest.approx(r.original) and r.removed_rel == 1.0
    noise = average_causal_effect(gen, seg, "layer1", [0, 1], DOOR, 40, seed=2, batch_size=16, do_insert=False)
    assert noise.removed == 0.0


def test_insertion_creates_the_class_and_ace_is_positive(gen, seg):
    value = insertion_values(gen, seg, "layer1", DOOR, 40, seed=0, batch_size=16)
    assert value[gen.module.door_unit] > 0.5  # mean activation of the door field where door is present
    r = average_causal_effect(gen, seg, "layer1", [gen.module.door_unit], DOOR, 20, seed=0, value=value)
    assert r.inserted > 0.5 and r.ace == pytest.approx(r.inserted - r.ablated) and r.ace > 0.5


def test_single_unit_ace_and_optimised_mask_pick_the_constructed_unit(gen, seg):
    value = insertion_values(gen, seg, "layer1", DOOR, 32, seed=0)
    scores = single_unit_ace(gen, seg, "layer1", DOOR, value, range(8), 12, seed=0)
    assert select_by_ace(scores, 1)[0] == [gen.module.door_unit]
    alpha = optimize_unit_mask(gen, seg, "layer1", DOOR, value, 32, seed=0, batch_size=16, steps=15)
    assert select_by_mask(alpha, 1)[0] == [gen.module.door_unit] and 0 <= alpha.min() and alpha.max() <= 1


def test_insertion_sweep_context_and_tracing(gen, seg):
    value = insertion_values(gen, seg, "layer1", DOOR, 32, seed=0)
    sw = insertion_sweep(gen, seg, "layer1", [gen.module.door_unit], value, DOOR, 2, seed=0, stride=2, trace=True)
    assert sw.grid == (4, 4) and int(sw.by_class_n.sum()) == 2 * 16
    j = sw.to_json()
    assert {r["location_class"] for r in j["context"]} <= {"sky", "door", "tree"}
    assert j["tracing"]["layers"] == ["layer2", "output"]
    assert j["tracing"]["curves"]["all"]["layer2"] > 0


@pytest.fixture()
def factory(tmp_path):
    p = tmp_path / "synth.py"
    p.write_text(textwrap.dedent("""
        import torch
        from torch import nn
        from ganfix.dissection.synthetic import SyntheticBlobs, BlobSegmenter
        def make(): return SyntheticBlobs()
        def seg(): return BlobSegmenter()
        class Wrong:
            class_names = ["sky", "door"]
            def segment(self, images): return torch.zeros(images.shape[0], 4, 4, 4)
        def wrong(): return Wrong()
        class Vec(nn.Module):
            def __init__(self):
                super().__init__(); self.fc = nn.Linear(16, 32); self.conv = nn.Conv2d(2, 3, 1)
            def forward(self, z): return self.conv(self.fc(z).view(-1, 2, 4, 4))
        def vec(): return Vec()
    """))
    return str(p)


@pytest.mark.slow
def test_cli_dissect_report_and_json(factory, tmp_path):
    out = tmp_path / "rep"
    res = CliRunner().invoke(app, ["dissect", f"{factory}:make", "--all-layers", "--segmenter", f"{factory}:seg",
                                   "--samples", "24", "--batch-size", "8", "--compare", f"{factory}:make",
                                   "--tiles", "2", "--out", str(out), "--json"])
    assert res.exit_code == 0, res.output
    rep = json.loads(res.stdout)
    assert [r["layer"] for r in rep["comparison"]] == ["layer1", "layer2"] * 2
    assert all(r["by_class"].get("door") == 1 for r in rep["comparison"])
    for f in ("report.json", "index.html", "interpretable_per_layer.png"):
        assert (out / f).is_file()
    assert "IoU" in (out / "index.html").read_text()


def test_cli_ace_with_context_and_trace(factory, tmp_path):
    res = CliRunner().invoke(app, ["ace", f"{factory}:make", "--layer", "layer1", "--class", "door", "--segmenter",
                                   f"{factory}:seg", "--samples", "16", "--n", "2", "--context", "--trace",
                                   "--context-samples", "1", "--stride", "4", "--out", str(tmp_path / "a"), "--json"])
    assert res.exit_code == 0, res.output
    rep = json.loads(res.stdout)
    assert rep["units"][0]["unit"] == 3 and rep["ace"]["removed_fraction_of_class"] == 1.0
    assert rep["ablation_curve"] and rep["sweep"]["tracing"] is not None
    assert (tmp_path / "a" / "ablation_curve.png").is_file() and (tmp_path / "a" / "tracing.png").is_file()


@pytest.mark.parametrize("args,needle", [
    (["ace", "{f}:make", "--layer", "layer1", "--class", "window", "--segmenter", "{f}:seg"], "classes: sky, door, tree"),
    (["dissect", "{f}:make", "--layer", "layer1", "--segmenter", "{f}:wrong", "--samples", "4"], "4 class scores but names 2"),
    (["dissect", "{f}:vec", "--layer", "fc", "--segmenter", "{f}:seg", "--samples", "4"], "no spatial maps"),
    (["ace", "{f}:vec", "--layer", "fc", "--class", "door", "--segmenter", "{f}:seg"], "no spatial maps"),
    (["dissect", "{f}:make", "--layer", "layer1", "--segmenter", "nosuch"], "unknown segmenter"),
])
def test_cli_bad_inputs_exit_2_with_one_line(factory, args, needle):
    res = CliRunner().invoke(app, [a.replace("{f}", factory) for a in args])
    assert res.exit_code == 2, res.output
    err = res.stderr.strip()
    assert needle in err.replace("\n", " ") and "Traceback" not in res.output


def test_class_scores_of_a_no_grad_logits_method_stay_differentiable():
    from ganfix.segmenters import class_scores

    class NoGradSeg:
        class_names = ["a", "b"]

        @torch.no_grad()
        def logits(self, x):
            return torch.cat([x[:, :1], -x[:, :1]], 1)

        def segment(self, x):
            return self.logits(x).argmax(1)

    x = torch.randn(2, 3, 4, 4, requires_grad=True)
    class_scores(NoGradSeg(), x)[:, 0].sum().backward()
    assert x.grad is not None and x.grad.abs().sum() > 0
