"""Patches (rule, JSON, random draws, insertion) and verified exports beyond the plain ablation
(tests/test_repair.py covers the planted generator and the ProGAN fold at layer4)."""
from __future__ import annotations

import json
import textwrap

import pytest
import torch

from ganfix.errors import UsageError
from ganfix.exporting import export_patched
from ganfix.generator import load_generator
from ganfix.hooks import Trace
from ganfix.patch import Patch


@pytest.fixture()
def progan(small_progan_path):
    return load_generator(str(small_progan_path), device="cpu")


def hooked(gen, patch, z):
    with torch.no_grad(), patch.applied(gen):
        return gen(z)


def test_json_round_trip_keeps_values_paired_with_units():
    p = Patch("layer4", [9, 2, 5], [0.9, 0.2, 0.5], model_name="m", fingerprint="abc",
              spatial=torch.tensor([[1.0, 0.0], [0.5, 1.0]]))
    assert p.units == [2, 5, 9] and p.value == [0.2, 0.5, 0.9]
    back = Patch.from_json(json.loads(json.dumps(p.to_json())))
    assert back == p and back.spatial == [[1.0, 0.0], [0.5, 1.0]] and not back.is_ablation
    alpha, value = back.dense(12)
    assert alpha.nonzero().flatten().tolist() == [2, 5, 9] and value[9] == pytest.approx(0.9)
    with pytest.raises(UsageError, match="schema"):
        Patch.from_json({"layer": "x", "units": [1]})


@pytest.mark.parametrize("kwargs, match", [
    ({"units": []}, "empty unit set"),
    ({"units": [1, 1]}, "duplicate"),
    ({"units": [1, 2], "value": [1.0]}, "2 units but 1 values"),
    ({"units": [1], "spatial": [[2.0]]}, r"\[0, 1\]"),
])
def test_bad_patches(kwargs, match):
    with pytest.raises(UsageError, match=match):
        Patch("layer4", **kwargs)


def test_random_draws_are_seeded_same_size_and_exclude_the_patch():
    p = Patch("layer4", [0, 1, 2, 3], fingerprint="f")
    draws = [p.random_like(16, d, seed=3) for d in range(6)]
    assert all(len(d.units) == 4 and not set(d.units) & {0, 1, 2, 3} for d in draws)
    assert [d.units for d in draws] == [p.random_like(16, d, seed=3).units for d in range(6)]
    assert len({tuple(d.units) for d in draws}) > 1
    with pytest.raises(UsageError, match="cannot draw"):
        p.random_like(6, 0)


def test_units_out_of_range_and_fingerprint_refusal(progan):
    with pytest.raises(UsageError, match="out of range"):
        Patch("layer4", [3, 999]).check(progan)
    with pytest.raises(UsageError, match="force=True"):
        Patch("layer4", [3], fingerprint="0" * 16).check(progan)
    Patch("layer4", [3], fingerprint="0" * 16).check(progan, force=True)


def test_quantile_insertion_sets_units_to_their_high_quantile(progan):
    p = Patch.insertion(progan, "layer4", [5, 1], quantile=0.99, samples=64, seed=0)
    assert p.kind == "insertion" and p.units == [1, 5] and p.notes["quantile"] == 0.99
    z = progan.latents(range(4), 9)
    with torch.no_grad(), p.applied(progan), Trace(progan.module, ["layer4"]) as tr:
        acts = tr.run(z)["layer4"]  # the trace hook runs after the intervention's: sees r'
    assert torch.allclose(acts[:, 1], torch.full_like(acts[:, 1], p.value[0]))
    assert torch.allclose(acts[:, 5], torch.full_like(acts[:, 5], p.value[1]))
    assert p.value[0] > 0 and p.value[1] > 0


@pytest.mark.slow  # exports and verifies in fresh processes: tens of seconds
def test_insertion_with_spatial_mask_exports_with_buffers(progan, tmp_path):
    """Insertion (k ≠ 0) with a spatial mask never folds: the mask travels as buffers of the layer, in
    both formats, and the TorchScript file comes back into ganfix with its layer names."""
    h, w = progan.layer("layer4").shape[1:]
    spatial = torch.zeros(h, w)
    spatial[: h // 2, : w // 2] = 1.0
    p = Patch("layer4", [0, 7], [1.5, 2.5], fingerprint=progan.fingerprint, kind="insertion", spatial=spatial)
    z = progan.latents(range(6), 4)
    ref = hooked(progan, p, z)
    plain = progan(z)
    assert (ref - plain).abs().max() > 1e-3  # the patch does something…
    result = export_patched(progan, p, tmp_path, formats="pt2,torchscript")
    assert not result.folded and result.fold.rule == "mask-buffers" and "buffers" in result.fold_how
    assert set(result.files) == {"pt2", "torchscript"} and result.max_abs_diff() <= 1e-5
    assert (torch.export.load(str(result.pt2)).module()(z) - ref).abs().max() <= 1e-5
    for path in (result.pt2, result.torchscript):  # back into ganfix as a GEN spec
        reloaded = load_generator(str(path), device="cpu")
        assert "layer4" in reloaded.top_layers() and (reloaded(z) - ref).abs().max() <= 1e-5
    meta = json.loads((tmp_path / "patch.json").read_text())
    assert meta["spatial"] == spatial.tolist() and meta["export"]["folded"] is False
    assert set(meta["export"]["formats"]["torchscript"]["max_abs_diff"]) == {"1", "3", "16"}
    from safetensors.torch import load_file
    assert {"layer4.ganfix_alpha", "layer4.ganfix_value", "layer4.ganfix_spatial"} <= set(load_file(str(result.weights)))


@pytest.mark.slow  # exports and verifies in fresh processes: tens of seconds
def test_fold_into_the_output_layer_is_exact(progan, tmp_path):
    p = Patch("output_32x32", [1], fingerprint=progan.fingerprint)
    result = export_patched(progan, p, tmp_path)
    assert result.folded and max(result.fold.max_abs_diff.values()) <= 1e-5
    folded = load_generator(str(result.state_dict_pt), device="cpu")
    z = progan.latents(range(8), 1)
    assert (folded(z) - hooked(progan, p, z)).abs().max() <= 1e-5
    assert torch.equal(folded(z)[:, 1], torch.zeros_like(folded(z)[:, 1]))


SEQ_MODULE = textwrap.dedent('''
    import torch
    from torch import nn

    class Seq(nn.Module):
        z_shape = (8, 1, 1)

        def __init__(self, act):
            super().__init__()
            torch.manual_seed(0)
            self.layer1 = nn.Sequential(nn.ConvTranspose2d(8, 16, 4), nn.ReLU())
            self.layer2 = nn.Sequential(nn.Upsample(scale_factor=2), nn.Conv2d(16, 16, 3, padding=1), act)
            self.layer3 = nn.Sequential(nn.Conv2d(16, 3, 3, padding=1), nn.Tanh())

        def forward(self, z):
            return self.layer3(self.layer2(self.layer1(z)))

    def relu():
        return Seq(nn.ReLU())

    def sigmoid():
        return Seq(nn.Sigmoid())
''')


@pytest.mark.parametrize("factory, folds", [("relu", True), ("sigmoid", False)])
def test_sequential_fold_only_when_exact(tmp_path, factory, folds):
    """(Upsample, Conv, ReLU): zeroing the conv's rows is exact. With a sigmoid (σ(0) = ½) there is
    no rule: the mask stays as buffers, and the file says so."""
    from ganfix.exporting import plan_fold, verification_latents

    (tmp_path / "seq.py").write_text(SEQ_MODULE)
    gen = load_generator(f"{tmp_path / 'seq.py'}:{factory}", device="cpu")
    p = Patch("layer2", [2, 11], fingerprint=gen.fingerprint)
    latents = verification_latents(gen, 0)
    plan = plan_fold(gen, p, latents, {b: hooked(gen, p, z) for b, z in latents.items()})
    assert plan.folded is folds
    if folds:
        assert plan.rule == "conv-linear-rows" and plan.module == "layer2.1" and plan.via == ["layer2.2"]
        assert sorted(plan.edits) == ["layer2.1.bias", "layer2.1.weight"] and max(plan.max_abs_diff.values()) == 0.0
    else:
        assert plan.rule == "mask-buffers" and "layer2.2" in plan.detail and "buffers" in plan.detail


@pytest.mark.slow
def test_exported_torchscript_can_be_patched_and_exported_again(progan, tmp_path):
    """GEN = a TorchScript export: ganfix hooks its named stages, and a second export keeps them
    (as TorchScript: torch.export cannot trace TorchScript, and the result says so)."""
    first = Patch("layer4", [1], fingerprint=progan.fingerprint)
    ts = load_generator(str(export_patched(progan, first, tmp_path / "a", formats="torchscript").torchscript), device="cpu")
    assert ts.z_shape == progan.z_shape  # recorded in the file: no --z-shape needed
    second = Patch("layer2", [0, 5], fingerprint=ts.fingerprint)
    with pytest.raises(UsageError, match="formats=torchscript"):
        export_patched(ts, second, tmp_path / "refused", formats="pt2")
    assert not (tmp_path / "refused").exists()
    result = export_patched(ts, second, tmp_path / "b")
    assert list(result.files) == ["torchscript"] and "TorchScript" in result.notes[0]
    again = load_generator(str(result.torchscript), device="cpu")
    assert list(again.top_layers()) == list(ts.top_layers())
    z = progan.latents(range(4), 0)
    with torch.no_grad(), first.applied(progan), Patch("layer2", [0, 5]).applied(progan):
        both = progan(z)
    assert (again(z) - both).abs().max() <= 1e-5
