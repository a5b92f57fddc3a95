"""ProGAN in the GAN Dissection layout: build → save → load gives identical outputs; shapes inferred."""
from __future__ import annotations

import pytest
import torch

from ganfix.generator import load_generator
from ganfix.models import ProGAN, progan_default_widths
from ganfix.models.progan import progan_from_state_dict


@pytest.mark.parametrize("resolution,widths", [(64, [32, 32, 16, 16, 8]), (128, [16, 16, 16, 8, 8, 4]),
                                               (256, [16, 16, 8, 8, 4, 4, 4])])
def test_round_trip_infers_shapes(tmp_path, resolution, widths):
    torch.manual_seed(resolution)
    g = ProGAN(resolution, z_dim=24, widths=widths)
    with torch.no_grad():
        for p in g.parameters():  # non-zero biases so the bias keys matter
            p.add_(torch.randn_like(p) * 0.1)
    state = g.state_dict()
    assert set(state) == {f"layer{i}.{k}" for i in range(1, 2 * len(widths) + 1) for k in ("conv.weight", "wscale.b")} | {
        f"output_{resolution}x{resolution}.conv.weight", f"output_{resolution}x{resolution}.wscale.b"}
    path = tmp_path / "g.pt"
    torch.save({"state_dict": state}, path)  # wrapped form is accepted too
    gen = load_generator(str(path))
    assert gen.module.resolution == resolution and gen.module.widths == widths and gen.z_shape == (24,)
    z = gen.latents(range(3), seed=1)
    with torch.no_grad():
        assert torch.equal(gen(z), g.eval()(z))
    assert gen(z).shape == (3, 3, resolution, resolution)
    assert list(gen.top_layers())[-1] == f"output_{resolution}x{resolution}"


def test_block_semantics():
    g = ProGAN(8, z_dim=4, widths=[3, 2])
    assert g.layer1.conv.kernel_size == (4, 4) and g.layer1.conv.padding == (3, 3)
    assert g.layer3.upsample and not g.layer2.upsample and not g.layer4.upsample
    assert g.layer1.conv.bias is None
    # weight scale is sqrt(2)/sqrt(k·k·c_in)
    assert torch.isclose(g.layer2.wscale.scale, torch.tensor(2 ** 0.5 / (9 * 3) ** 0.5))
    x = g.layer1(torch.randn(2, 4, 1, 1))
    assert x.shape == (2, 3, 4, 4)


def test_paper_widths():
    assert progan_default_widths(64) == [512, 512, 512, 512, 256]
    assert progan_default_widths(256)[-3:] == [256, 128, 64]


def test_inconsistent_state_dict_is_rejected():
    state = ProGAN(16, z_dim=8, widths=[4, 4, 4]).state_dict()
    del state["layer6.conv.weight"], state["layer6.wscale.b"]
    with pytest.raises(ValueError):
        progan_from_state_dict(state)
