"""Automatic artifact rankers (unit-fid, realism, rare, local-activation, artifact) on a tiny ProGAN with planted
artifact units (tests/planted_progan.py), from the API and the CLI; `worst` on the same generator."""
from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

from ganfix.cli.app import app
from ganfix.hooks import Trace
from ganfix.ranking.automatic import AUTOMATIC, rank_automatic
from ganfix.ranking.planted import Plant, plant_artifacts
from ganfix.real_data import RealSource
from planted import register_test_extractor
from ganfix.generator import Generator
from cli_helpers import runner
from planted_progan import LAYER, PLANTED_UNITS, PLANTS, clean, planted_generator, write_real

SPEC = f"{Path(__file__).parent / 'planted_progan.py'}:planted"
POOL = 300


@pytest.fixture(scope="module")
def gen():
    return planted_generator()


@pytest.fixture(scope="module")
def real_folder(tmp_path_factory):
    return write_real(tmp_path_factory.mktemp("tiny_real"), POOL)


@pytest.fixture(scope="module")
def features():
    return register_test_extractor()


def test_planted_units_fire_at_their_rates(gen):
    with Trace(gen.module, [LAYER]) as tr:
        acts = tr.run(gen.latents(range(400), seed=11))[LAYER]
    peaks = acts.flatten(2).amax(2)
    for p in PLANTS:
        rate = float((peaks[:, p.unit] > 0).float().mean())
        assert abs(rate - p.rate) < 0.05, (p, rate)  # calibrated on other latents


def test_ablating_a_planted_unit_removes_its_paint(gen):
    from ganfix.patch import Patch

    ids = list(range(200))
    before = gen.generate(ids, seed=0)
    with Patch(LAYER, PLANTED_UNITS).applied(gen):
        after = gen.generate(ids, seed=0)
    with Trace(gen.module, [LAYER]) as tr:
        fired = tr.run(gen.latents(ids, 0))[LAYER][:, PLANTED_UNITS].flatten(1).amax(1) > 0
    diff = (before - after).abs().flatten(1).amax(1)
    assert bool((diff[fired] > 0.3).all()) and fired.any()


@pytest.mark.parametrize("by", AUTOMATIC)
def test_each_ranker_ranks_the_planted_units_first(gen, real_folder, features, by):
    real = RealSource.from_spec(str(real_folder), resolution=16)
    result = rank_automatic(gen, LAYER, by, real, features, samples=POOL, seed=0)
    assert sorted(result.ranking.top(len(PLANTED_UNITS))) == PLANTED_UNITS, (by, result.ranking.top(6))


def test_artifact_lists_every_method(gen, real_folder, features):
    real = RealSource.from_spec(str(real_folder), resolution=16)
    result = rank_automatic(gen, LAYER, "artifact", real, features, samples=POOL, seed=0)
    rows = result.unit_rows()
    assert len(rows) == 16 and rows[0]["rank"] == 1
    assert set(rows[0]["methods"]) == {"unit-fid", "realism", "rare", "local-activation"}
    json.dumps(result.to_dict())  # serialisable


def test_without_real_data_rare_and_local_need_none(gen):
    for by in ("rare", "local-activation", "artifact"):
        result = rank_automatic(gen, LAYER, by, None, samples=POOL, seed=0)
        assert result.settings["features"] is None
    from ganfix.errors import UsageError

    with pytest.raises(UsageError, match="real=FOLDER"):
        rank_automatic(gen, LAYER, "unit-fid", None, samples=POOL)


def test_cli_rank_artifact_json(real_folder, features):
    res = runner.invoke(app, ["rank", SPEC, "--layer", LAYER, "--by", "artifact", "--samples", str(POOL), "--json",
                              "--features", features, "--real", str(real_folder)])
    assert res.exit_code == 0, res.output
    data = json.loads(res.stdout)
    assert data["by"] == "artifact"
    units = data["units"]
    assert sorted(u["unit"] for u in units[:3]) == PLANTED_UNITS
    assert {"unit-fid", "realism", "rare", "local-activation"} == set(units[0]["methods"])


@pytest.mark.parametrize("by", ["rare", "local-activation"])
def test_cli_rank_without_real(by):
    res = runner.invoke(app, ["rank", SPEC, "--layer", LAYER, "--by", by, "--samples", str(POOL), "--top", "3"])
    assert res.exit_code == 0, res.output
    assert by in res.output


def test_plant_refuses_bad_input(gen):
    from ganfix.errors import UsageError

    with pytest.raises(UsageError, match="kind"):
        Plant(0, "glitter")
    with pytest.raises(UsageError, match="different unit"):
        plant_artifacts(Generator(clean(), (16,)), LAYER, [Plant(1), Plant(1)])
    with pytest.raises(UsageError, match="ProGAN"):
        plant_artifacts(gen, LAYER, [Plant(1)])  # already planted: not a plain ProGAN


def test_worst_samples_are_the_painted_ones(gen, real_folder, features, tmp_path):
    from ganfix.worst import worst_samples, worst_sheet

    real = RealSource.from_spec(str(real_folder), resolution=16)
    report = worst_samples(gen, LAYER, real, features, samples=POOL, seed=0, n=12, artifact_units=3)
    assert sorted(report.artifact_units) == PLANTED_UNITS
    with Trace(gen.module, [LAYER]) as tr:
        acts = tr.run(gen.latents([r["id"] for r in report.rows], 0))[LAYER]
    fired = acts[:, PLANTED_UNITS].flatten(1).amax(1) > 0
    assert float(fired.float().mean()) >= 0.9  # vs ~25 % of all samples
    assert report.rows[0]["units"][0]["artifact"]
    png = worst_sheet(gen, report, tmp_path / "worst.png")
    from PIL import Image

    assert Image.open(png).size[0] > 200


def test_cli_worst_json_and_sheet(real_folder, features, tmp_path):
    out = tmp_path / "w"
    res = runner.invoke(app, ["worst", SPEC, "--layer", LAYER, "--samples", str(POOL), "--worst", "8", "--json",
                              "--features", features, "--real", str(real_folder), "--out", str(out)])
    assert res.exit_code == 0, res.output
    data = json.loads(res.stdout)
    assert data["schema"] == "ganfix.worst/1" and len(data["worst"]) == 8
    assert (out / "worst.png").exists() and json.loads((out / "worst.json").read_text())["worst"] == data["worst"]
    res = runner.invoke(app, ["worst", SPEC, "--layer", LAYER, "--samples", str(POOL), "--worst", str(POOL + 1), "--no-real"])
    assert res.exit_code == 2 and "--worst" in res.output


def test_sequential_repair_finds_the_planted_layer_first(gen, real_folder, features):
    from ganfix.repairing.sequential import sequential_repair

    real = RealSource.from_spec(str(real_folder), resolution=16)
    res = sequential_repair(gen, ["layer4", "layer5"], real, features, per_layer=3, samples=POOL, seed=0,
                            eval_samples=200, eval_seed=1, random_draws=2)
    assert res.steps[0]["units"] == PLANTED_UNITS
    v = res.variants
    assert v["sequential"]["fd_artifact_samples"] < v["original"]["fd_artifact_samples"]
    assert v["sequential"]["fd_artifact_samples"] < v["random"]["fd_artifact_samples"]
    assert v["original"]["normal_pixel_change"] == 0.0
    assert set(v["one-layer"]["units"]) == {"layer4"} and len(v["one-layer"]["units"]["layer4"]) == 6
    json.dumps(res.to_dict())


def test_cli_repair_sequential(real_folder, features, tmp_path):
    out = tmp_path / "seq"
    res = runner.invoke(app, ["repair", SPEC, "--sequential", "layer4,layer5", "--per-layer", "2", "--samples", "200",
                              "--random-draws", "2", "--features", features, "--real", str(real_folder), "--out", str(out)])
    assert res.exit_code == 0, res.output
    assert "sequential" in res.output and (out / "report.json").exists()
    res = runner.invoke(app, ["repair", SPEC, "--sequential", "layer5,layer4", "--features", features,
                              "--real", str(real_folder), "--out", str(out)])
    assert res.exit_code == 2 and "forward order" in res.output
    res = runner.invoke(app, ["repair", SPEC, "--out", str(out)])
    assert res.exit_code == 2 and "--annotations" in res.output
