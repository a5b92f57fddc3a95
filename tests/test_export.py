"""Export (issue 10, issue 11 item 11): torch.export first, exact folding into the user's own class,
layer names kept, verification in a fresh `python -I` process at batch sizes 1, 3 and 16, refusals
that leave no files."""
from __future__ import annotations

import importlib.util
import io
import json
import textwrap
import warnings
import zipfile

import pytest
import torch

from ganfix.cli.app import app
from ganfix.errors import UsageError
from ganfix.exporting import ExportMismatch, export_patched, plan_fold, verification_latents
from ganfix.generator import load_generator
from ganfix.patch import Patch
from cli_helpers import runner


MODELS = textwrap.dedent('''
    import torch
    from torch import nn

    class DCGAN(nn.Module):
        """The PyTorch-examples layout: one nn.Sequential `main` of ConvTranspose + BatchNorm + ReLU."""

        def __init__(self, nz=8, ngf=4, nc=3):
            super().__init__()
            self.main = nn.Sequential(
                nn.ConvTranspose2d(nz, ngf * 4, 4, 1, 0, bias=False), nn.BatchNorm2d(ngf * 4), nn.ReLU(True),
                nn.ConvTranspose2d(ngf * 4, ngf * 2, 4, 2, 1, bias=False), nn.BatchNorm2d(ngf * 2), nn.ReLU(True),
                nn.ConvTranspose2d(ngf * 2, nc, 4, 2, 1, bias=False), nn.Tanh())

        def forward(self, z):
            return self.main(z)

    class MLP(nn.Module):
        def __init__(self):
            super().__init__()
            self.net = nn.Sequential(nn.Linear(16, 32), nn.LeakyReLU(0.2), nn.Linear(32, 48), nn.GELU(),
                                     nn.Linear(48, 64), nn.Tanh())

        def forward(self, z):
            return self.net(z).view(-1, 1, 8, 8)

    class PerSample(MLP):
        """Correct at any batch size in eager mode, but loops over the batch in Python."""

        def forward(self, z):
            return torch.cat([self.net(z[i : i + 1]) for i in range(z.shape[0])]).view(-1, 1, 8, 8)

    class Noisy(MLP):
        """Draws fresh noise on every call (as StyleGAN's noise inputs do): no export can reproduce it."""

        def forward(self, z):
            return (self.net(z) + 0.1 * torch.randn(z.shape[0], 64)).view(-1, 1, 8, 8)

    def dcgan():
        torch.manual_seed(0)
        m = DCGAN()
        for bn in (m.main[1], m.main[4]):  # trained-looking statistics, so γ/β folding is really tested
            bn.running_mean.uniform_(-0.5, 0.5); bn.running_var.uniform_(0.5, 2.0)
            bn.weight.data.uniform_(0.5, 1.5); bn.bias.data.uniform_(-0.5, 0.5)
        return m

    def mlp():
        torch.manual_seed(0)
        return MLP()

    def per_sample():
        torch.manual_seed(0)
        return PerSample()

    def noisy():
        torch.manual_seed(0)
        return Noisy()
''')


@pytest.fixture(scope="module")
def models(tmp_path_factory):
    path = tmp_path_factory.mktemp("user_models") / "user_models.py"
    path.write_text(MODELS)
    return path


def user_module(models):
    """The user's own file, imported without ganfix: their unmodified classes."""
    spec = importlib.util.spec_from_file_location("user_models_plain", models)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def hooked(gen, patch, z):
    with torch.no_grad(), patch.applied(gen):
        return gen(z)


@pytest.fixture(scope="module")
def dcgan_export(models, tmp_path_factory):
    """One full export of the nested DCGAN (ablation at the ReLU after a BatchNorm), with every warning recorded."""
    gen = load_generator(f"{models}:dcgan", device="cpu")
    patch = Patch("main.5", [1, 6], fingerprint=gen.fingerprint)
    out = tmp_path_factory.mktemp("dcgan_export") / "export"
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        result = export_patched(gen, patch, out)
        reloaded = load_generator(str(result.pt2), device="cpu")
    return gen, patch, result, reloaded, caught


@pytest.mark.parametrize("spec, layer, rule, module, edited", [
    ("dcgan", "main.0", "conv-linear-rows", "main.0", ["main.0.weight"]),               # ConvTranspose output
    ("dcgan", "main.1", "norm-affine", "main.1", ["main.1.bias", "main.1.weight"]),     # BatchNorm output
    ("dcgan", "main.2", "norm-affine", "main.1", ["main.1.bias", "main.1.weight"]),     # ReLU(inplace) after BN
    ("mlp", "net.0", "conv-linear-rows", "net.0", ["net.0.bias", "net.0.weight"]),      # Linear output
    ("mlp", "net.1", "conv-linear-rows", "net.0", ["net.0.bias", "net.0.weight"]),      # LeakyReLU after Linear
    ("mlp", "net.3", "conv-linear-rows", "net.2", ["net.2.bias", "net.2.weight"]),      # GELU after Linear
])
def test_fold_rules(models, spec, layer, rule, module, edited):
    gen = load_generator(f"{models}:{spec}", device="cpu")
    patch = Patch(layer, [0, 3], fingerprint=gen.fingerprint)
    latents = verification_latents(gen, 0)
    plan = plan_fold(gen, patch, latents, {b: hooked(gen, patch, z) for b, z in latents.items()})
    assert plan.folded and (plan.rule, plan.module, sorted(plan.edits)) == (rule, module, edited), plan
    assert set(plan.max_abs_diff) == {1, 3, 16} and max(plan.max_abs_diff.values()) == 0.0
    # the folded tensors fit the user's unmodified class, strictly, and reproduce the hooked generator
    own = getattr(user_module(models), {"dcgan": "DCGAN", "mlp": "MLP"}[spec])().eval()
    state = {**gen.module.state_dict(), **plan.edits}
    own.load_state_dict(state, strict=True)
    z = gen.latents(range(5), 9)
    assert torch.equal(own(z), hooked(gen, patch, z))


@pytest.mark.parametrize("patch_kwargs, says", [
    ({"value": 0.5}, "insertion"),
    ({"spatial": torch.ones(4, 4).triu()}, "spatially"),
])
def test_unfoldable_patches_keep_the_mask(models, patch_kwargs, says):
    gen = load_generator(f"{models}:dcgan", device="cpu")
    patch = Patch("main.0", [2], fingerprint=gen.fingerprint, **patch_kwargs)
    latents = verification_latents(gen, 0)
    plan = plan_fold(gen, patch, latents, {b: hooked(gen, patch, z) for b, z in latents.items()})
    assert not plan.folded and plan.rule == "mask-buffers" and says in plan.detail


def test_skip_connection_refuses_a_fold_that_is_not_exact(tmp_path):
    """ReLU(Linear(z)) is ablated, but the Linear's output is also added back later: zeroing its rows
    would change that path too. The numerical check catches it and keeps the mask."""
    (tmp_path / "skip.py").write_text(textwrap.dedent('''
        import torch
        from torch import nn

        class Skip(nn.Module):
            z_dim = 8

            def __init__(self):
                super().__init__()
                torch.manual_seed(0)
                self.fc = nn.Linear(8, 16)
                self.act = nn.ReLU()
                self.out = nn.Linear(16, 12)

            def forward(self, z):
                h = self.fc(z)
                return self.out(self.act(h) + h).view(-1, 3, 2, 2)

        def skip():
            return Skip()
    '''))
    gen = load_generator(f"{tmp_path / 'skip.py'}:skip", device="cpu")
    patch = Patch("act", [1, 4], fingerprint=gen.fingerprint)
    latents = verification_latents(gen, 0)
    plan = plan_fold(gen, patch, latents, {b: hooked(gen, patch, z) for b, z in latents.items()})
    assert not plan.folded and "not exact" in plan.detail and "buffers" in plan.detail


def test_dcgan_export_pt2_state_dict_and_patch_json(models, dcgan_export):
    gen, patch, result, reloaded, _ = dcgan_export
    out = result.out_dir
    assert sorted(p.name for p in out.iterdir()) == ["README.md", "patch.json", "patched_generator.pt2",
                                                     "patched_state_dict.pt", "patched_weights.safetensors"]
    assert result.fold.rule == "norm-affine" and result.fold.module == "main.4"
    # verified in the fresh process at 1, 3 and 16, recorded per format and batch size
    meta = json.loads((out / "patch.json").read_text())["export"]
    assert meta["formats"]["pt2"]["max_abs_diff"] == {"1": 0.0, "3": 0.0, "16": 0.0}
    assert meta["verification"]["batch_sizes"] == [1, 3, 16] and "python -I" in meta["verification"]["process"]
    assert meta["fold"]["rule"] == "norm-affine" and meta["fold"]["edited"] == ["main.4.bias", "main.4.weight"]
    assert meta["formats"]["pt2"]["load"] in (out / "README.md").read_text()
    # the weights load strictly into the user's own unmodified DCGAN class and match the hooked generator
    own = user_module(models).DCGAN().eval()
    own.load_state_dict(torch.load(out / "patched_state_dict.pt", weights_only=True), strict=True)
    z = gen.latents(range(7), 11)
    assert torch.equal(own(z), hooked(gen, patch, z))
    # the program itself: plain torch, any batch size
    program = torch.export.load(str(result.pt2)).module()
    assert (program(z) - hooked(gen, patch, z)).abs().max() <= 1e-5


def test_pt2_is_a_gen_spec_with_the_original_layer_names(models, dcgan_export):
    gen, patch, result, reloaded, _ = dcgan_export
    assert reloaded.z_shape == gen.z_shape and reloaded.output_range == gen.output_range
    assert [(i.name, i.shape) for i in reloaded.layers.values()] == [(i.name, i.shape) for i in gen.layers.values()]
    rows = {}
    for spec in (str(result.pt2), gen.name):
        res = runner.invoke(app, ["layers", spec, "--json"])
        assert res.exit_code == 0, res.output
        rows[spec] = [(r["name"], r["type"], r["shape"], r["note"]) for r in json.loads(res.output)["layers"]]
    assert rows[str(result.pt2)] == rows[gen.name]  # same names, module types, shapes and notes as the original
    assert [r[:2] for r in rows[gen.name][:3]] == [("main.0", "ConvTranspose2d"), ("main.1", "BatchNorm2d"), ("main.2", "ReLU")]
    # a patched layer reads the patched activations, as under patch.applied
    z = gen.latents(range(3), 2)
    from ganfix.hooks import Trace
    with torch.no_grad(), Trace(reloaded.module, ["main.5"]) as tr:
        acts = tr.run(z)["main.5"]
    assert torch.equal(acts[:, [1, 6]], torch.zeros_like(acts[:, [1, 6]]))
    res = runner.invoke(app, ["rank", str(result.pt2), "--layer", "main.3", "--samples", "48", "--json"])
    assert res.exit_code == 0, res.output


def test_default_path_uses_no_torch_jit(dcgan_export):
    *_, caught = dcgan_export
    jit = [str(w.message) for w in caught if "jit" in str(w.message).lower() or issubclass(w.category, FutureWarning)]
    assert jit == []


def test_a_batch_loop_generator_is_refused_exit_2_and_leaves_no_files(models, tmp_path, annotation_file):
    ann_path = annotation_file(load_generator(f"{models}:per_sample", device="cpu"), "net.1", [3])
    out = tmp_path / "run"
    res = runner.invoke(app, ["repair", f"{models}:per_sample", "--annotations", str(ann_path), "--out", str(out), "--no-score"])
    assert res.exit_code == 2, res.output
    text = res.output.strip()
    assert text.startswith("error:") and "dynamic batch size" in text and "nothing written" in text, text
    assert not out.exists()


@pytest.mark.slow  # exports and verifies in fresh processes: seconds
def test_an_export_traced_at_a_fixed_batch_fails_verification(models, tmp_path, monkeypatch):
    """Issue 11 item 11: a program fixed at batch 2 must not pass as verified (it cannot run batch 1, 3, 16)."""
    import ganfix.exporting as export_mod

    def fixed_batch(module, z, meta, name):
        buf = io.BytesIO()
        torch.export.save(torch.export.export(module, (z,)), buf)  # no dynamic dimension
        return buf.getvalue()

    monkeypatch.setattr(export_mod, "export_program", fixed_batch)
    gen = load_generator(f"{models}:mlp", device="cpu")
    out = tmp_path / "export"
    with pytest.raises(ExportMismatch, match="batch 1") as info:
        export_patched(gen, Patch("net.1", [2], fingerprint=gen.fingerprint), out)
    assert info.value.exit_code == 1 and "nothing written" in str(info.value)
    assert not out.exists()


@pytest.mark.slow  # exports and verifies in fresh processes: seconds
def test_a_mismatching_export_exits_1_and_leaves_no_files(models, tmp_path, annotation_file):
    ann_path = annotation_file(load_generator(f"{models}:noisy", device="cpu"), "net.1", [3])
    out = tmp_path / "run"
    res = runner.invoke(app, ["repair", f"{models}:noisy", "--annotations", str(ann_path), "--out", str(out), "--no-score"])
    assert res.exit_code == 1, res.output
    assert "differs from the hooked generator at batch" in res.output and not out.exists()


def test_unknown_format_is_a_usage_error(models, tmp_path):
    gen = load_generator(f"{models}:mlp", device="cpu")
    with pytest.raises(UsageError, match="unknown export format 'onnx'"):
        export_patched(gen, Patch("net.1", [2]), tmp_path / "x", formats="pt2,onnx")
    assert not (tmp_path / "x").exists()


def test_a_pt2_with_code_in_a_pickle_is_refused_without_trust(dcgan_export, tmp_path):
    """torch.export.load unpickles some entries with weights_only=False: ganfix checks them first."""
    *_, result, _, _ = dcgan_export
    marker = tmp_path / "pwned"

    class Evil:
        def __reduce__(self):
            return (open, (str(marker), "w"))

    src = zipfile.ZipFile(result.pt2)
    evil = tmp_path / "evil.pt2"
    with zipfile.ZipFile(evil, "w") as dst:
        for item in src.infolist():
            data = src.read(item.filename)
            if "/data/sample_inputs/" in item.filename:
                buf = io.BytesIO()
                torch.save(Evil(), buf)
                data = buf.getvalue()
            dst.writestr(item, data)
    with pytest.raises(UsageError, match="trust_pickle=True"):
        load_generator(str(evil), device="cpu")
    assert not marker.exists()


@pytest.mark.slow  # exports and verifies in fresh processes: tens of seconds
def test_a_pt2_gen_can_be_patched_and_exported_again(dcgan_export, tmp_path):
    gen, first, result, reloaded, _ = dcgan_export
    second = Patch("main.3", [0, 2], fingerprint=reloaded.fingerprint)
    again = export_patched(reloaded, second, tmp_path / "again")
    assert again.fold.rule == "mask-buffers" and "torch.export program" in again.fold.detail
    twice = load_generator(str(again.pt2), device="cpu")
    assert list(twice.top_layers()) == list(gen.top_layers())
    z = gen.latents(range(4), 5)
    with torch.no_grad(), first.applied(gen), Patch("main.3", [0, 2]).applied(gen):
        both = gen(z)
    assert (twice(z) - both).abs().max() <= 1e-5


def test_pt2_fingerprint_includes_the_program_code(tmp_path):
    """Issue 11 item 2 for .pt2 GENs: same weights, same class name, different forward → another fingerprint."""
    from torch import nn
    from torch.export import Dim

    class Gen(nn.Module):
        def __init__(self):
            super().__init__()
            torch.manual_seed(0)
            self.net = nn.Sequential(nn.Linear(4, 48), nn.Tanh())

        def forward(self, z):
            return self.net(z).view(-1, 3, 4, 4)

    m, z = Gen().eval(), torch.randn(2, 4)
    torch.export.save(torch.export.export(m, (z,), dynamic_shapes=({0: Dim("batch", min=1)},)), tmp_path / "a.pt2")
    Gen.forward = lambda self, z: (self.net(z) * 0.5).view(-1, 3, 4, 4)
    torch.export.save(torch.export.export(m, (z,), dynamic_shapes=({0: Dim("batch", min=1)},)), tmp_path / "b.pt2")
    a, a2, b = (load_generator(str(tmp_path / n), z_shape=(4,), device="cpu") for n in ("a.pt2", "a.pt2", "b.pt2"))
    assert a.fingerprint == a2.fingerprint != b.fingerprint
