"""Bootstrap intervals over samples for insertion context, ACE and tracing, from saved per-sample values."""
from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from ganfix.dissection import average_causal_effect, insertion_sweep
from ganfix.dissection.intervals import ace_intervals, context_intervals
from ganfix.segmenters import class_index
from synthetic_fixtures import gen, seg  # noqa: F401  (pytest fixtures)


def test_context_intervals_are_computed_from_the_saved_per_sample_values(gen, seg):
    door = class_index(seg, "door")
    value = torch.full((gen.layer("layer1").units,), 1.0)
    sweep = insertion_sweep(gen, seg, "layer1", [gen.module.door_unit], value, door, samples=6, seed=0,
                            stride=2, patch=2, trace=True)
    saved = json.loads(json.dumps(sweep.to_json()))  # what a report file holds
    per = saved["per_sample"]
    assert len(per["gain_sum"]) == 6 and len(per["insertions"]) == 6
    again = context_intervals(np.array(per["gain_sum"]), np.array(per["insertions"]), seg.class_names, seed=0)
    assert again == saved["context_intervals"]
    # Point estimates equal the aggregate table; every interval contains its point estimate.
    table = {r["location_class"]: r["mean_gain"] for r in sweep.context_table()}
    for row in saved["context_intervals"]["rows"]:
        assert row["mean_gain"] == pytest.approx(table[row["location_class"]])
        assert row["ci95"][0] <= row["mean_gain"] + 1e-12 and row["mean_gain"] - 1e-12 <= row["ci95"][1]
    assert set(saved["tracing"]["intervals"]) == set(saved["tracing"]["layers"])


def test_context_ordering_is_stated_only_where_the_interval_supports_it():
    rng = np.random.default_rng(0)
    S = 40
    n = np.tile([10, 10, 10], (S, 1))
    # class 0 gains clearly more than 1 and 2; classes 1 and 2 have the same mean gain (noise only).
    gain = np.stack([rng.normal(0.5, 0.05, S), rng.normal(0.1, 0.05, S), rng.normal(0.1, 0.05, S)], 1) * 10
    out = context_intervals(gain, n, ["a", "b", "c"], bootstrap=500, seed=1)
    assert out["order"][0] == "a"
    assert "a > b" in out["supported"] and "a > c" in out["supported"]
    assert not any(s in out["supported"] for s in ("b > c", "c > b"))
    # With only 3 samples of a noisy, small difference nothing is supported.
    small = context_intervals(gain[:3] * [1, 1, 1] + rng.normal(0, 3, (3, 3)), n[:3], ["a", "b", "c"], bootstrap=500)
    assert small["supported"] == []  # fewer than 10 samples: no ordering is stated


def test_ace_intervals_from_per_sample_fractions(gen, seg):
    door = class_index(seg, "door")
    value = torch.full((gen.layer("layer1").units,), 1.0)
    res = average_causal_effect(gen, seg, "layer1", [gen.module.door_unit], door, samples=24, seed=0, value=value)
    j = res.to_json()
    ps = j["per_sample"]
    assert len(ps["original"]) == 24
    assert np.mean(ps["inserted"]) - np.mean(ps["ablated"]) == pytest.approx(j["ace"])
    assert j["ci95"] == ace_intervals(ps["original"], ps["ablated"], ps["inserted"], seed=0)
    lo, hi = j["ci95"]["ace"]
    assert lo <= j["ace"] <= hi and lo > 0  # the door unit really causes doors
    # Ablating the door unit removes all door pixels in every sample: the removed-fraction interval is [1, 1].
    assert j["ci95"]["removed_fraction_of_class"] == pytest.approx([1.0, 1.0])
