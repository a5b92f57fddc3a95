"""Deterministic latents and hooks that always unhook."""
from __future__ import annotations

import pytest
import torch

from ganfix.generator import load_generator
from ganfix.hooks import Intervention, Interventions, Trace
from ganfix.latents import sample_latents


def test_latents_are_pure_functions_of_seed_and_id():
    a = sample_latents(range(50), 3, (16,))
    b = torch.cat([sample_latents([i], 3, (16,)) for i in reversed(range(50))][::-1])
    assert torch.equal(a, b)
    assert not torch.equal(sample_latents([0], 3, (16,)), sample_latents([0], 4, (16,)))
    big = sample_latents(range(4000), 0, (64,))
    assert abs(big.mean()) < 0.01 and abs(big.std() - 1) < 0.01
    assert sample_latents([5], 0, (4, 1, 1)).shape == (1, 4, 1, 1)


def test_trace_stops_early_and_unhooks_on_error(small_progan_path):
    gen = load_generator(str(small_progan_path))
    z = gen.latents(range(2), 0)
    called = []
    handle = gen.module.output_32x32.register_forward_hook(lambda *a: called.append(1))
    with Trace(gen.module, ["layer4"]) as tr:
        acts = tr.run(z)["layer4"]
    handle.remove()
    assert acts.shape == (2, 32, 8, 8) and not called  # the output block never ran
    with pytest.raises(RuntimeError):
        with Trace(gen.module, ["layer4"], stop=False):
            raise RuntimeError("boom")
    with pytest.raises(RuntimeError):
        with Intervention(gen.module, "layer3", [0, 1], 0.0):
            raise RuntimeError("boom")
    assert all(not m._forward_hooks for m in gen.module.modules())


def test_intervention_rule(small_progan_path):
    gen = load_generator(str(small_progan_path))
    z = gen.latents(range(2), 0)
    with Trace(gen.module, ["layer4"]) as tr:
        base = tr.run(z)["layer4"].clone()
    spatial = torch.zeros(8, 8)
    spatial[:4] = 1.0
    value = torch.arange(32, dtype=torch.float32)
    with Interventions([Intervention(gen.module, "layer4", [2, 5], value, spatial)]), Trace(gen.module, ["layer4"]) as tr:
        edited = tr.run(z)["layer4"]
    assert torch.equal(edited[:, 2, :4], torch.full_like(edited[:, 2, :4], 2.0))
    assert torch.equal(edited[:, 5, :4], torch.full_like(edited[:, 5, :4], 5.0))
    assert torch.equal(edited[:, 2, 4:], base[:, 2, 4:])
    assert torch.equal(edited[:, 3], base[:, 3])
    with Intervention(gen.module, "layer4", torch.full((32,), 0.5), 0.0), Trace(gen.module, ["layer4"]) as tr:
        half = tr.run(z)["layer4"]
    assert torch.allclose(half, base * 0.5)
    assert all(not m._forward_hooks for m in gen.module.modules())


def test_trace_used_bare_does_not_leak_stop_forward():
    import torch
    from torch import nn
    from ganfix import Trace

    net = nn.Sequential(nn.Linear(4, 6), nn.ReLU(), nn.Linear(6, 3))
    z = torch.randn(2, 4)
    reached_end = []
    with Trace(net, ["0"]) as tr:
        net(z)
        reached_end.append(True)  # not reached: the forward stops at layer 0 and the block ends quietly
    assert reached_end == []
    assert torch.allclose(tr["0"], net[0](z))
