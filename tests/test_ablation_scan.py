"""The `ablation` ranking: single-unit ablation scan on a generator with planted artifact units."""
from __future__ import annotations

import json
from pathlib import Path

import pytest

from ganfix.ranking.ablation import scan_ablations
from ganfix.cli.app import app
from ganfix.real_data import RealSource
from cli_helpers import runner

from planted import CONTENT_UNITS, PLANTED_UNITS, register_test_extractor

SPEC = f"{Path(__file__).parent / 'planted.py'}:planted"


@pytest.mark.slow
def test_scan_puts_planted_units_first(planted_gen, planted_real):
    features = register_test_extractor()
    scan = scan_ablations(planted_gen, "features", RealSource.from_spec(str(planted_real), resolution=16), features,
                          samples=160, seed=0, kid_subset_size=80)
    assert scan.units == list(range(10)) and len(scan.delta_fid) == 10
    for u in PLANTED_UNITS:  # removing a planted unit brings the images nearer the clean ones
        assert scan.delta(u)[0] < 0, (u, scan.delta(u))
    assert set(scan.ranking().order[:2]) == set(PLANTED_UNITS)
    assert max(scan.delta(u)[0] for u in PLANTED_UNITS) < min(scan.delta(u)[0] for u in CONTENT_UNITS)
    # a subset scan gives the same numbers for the scanned units and ranks the others last
    part = scan_ablations(planted_gen, "features", RealSource.from_spec(str(planted_real), resolution=16), features,
                          samples=160, seed=0, units=[9, 3], kid_subset_size=80)
    assert part.delta(9)[0] == pytest.approx(scan.delta(9)[0], abs=1e-9)
    assert part.ranking().order[:2] == [9, 3] and part.delta(0) is None


@pytest.mark.slow  # a single-unit ablation scan through the CLI
def test_rank_cli_by_ablation(planted_gen, planted_real):
    register_test_extractor()
    res = runner.invoke(app, ["rank", SPEC, "--layer", "features", "--samples", "200", "--by", "ablation",
                              "--scan-samples", "160", "--features", "planted-test", "--real", str(planted_real), "--json"])
    assert res.exit_code == 0, res.output
    report = json.loads(res.stdout)
    rows = report["units"]
    assert {r["unit"] for r in rows[:2]} == set(PLANTED_UNITS)
    assert all(r["delta_fid"] < 0 for r in rows[:2]) and report["ablation_scan"]["samples"] == 160


@pytest.mark.slow
def test_annotate_sheets_in_ablation_order(planted_gen, planted_real, tmp_path):
    register_test_extractor()
    out = tmp_path / "sheets"
    res = runner.invoke(app, ["annotate", SPEC, "--layer", "features", "--samples", "200", "--by", "ablation",
                              "--scan-samples", "160", "--features", "planted-test", "--real", str(planted_real),
                              "--no-serve", "--out", str(out), "-a", str(tmp_path / "set.json")])
    assert res.exit_code == 0, res.output
    manifest = json.loads((out / "sheets.json").read_text())
    assert manifest["by"] == "ablation"
    assert {u["unit"] for u in manifest["units"][:2]} == set(PLANTED_UNITS)
    assert "ΔFID alone -" in (out / "index.html").read_text()  # the planted units lower FID: shown as ΔFID < 0


@pytest.mark.parametrize("args, needle", [
    (["--scan-samples", "1"], "--scan-samples"),
    (["--real", "/nonexistent/folder"], "neither 'world' nor a folder"),
    (["--by", "nope"], "ablation"),
])
def test_bad_scan_inputs(args, needle):
    res = runner.invoke(app, ["rank", SPEC, "--layer", "features", "--samples", "50", "--by", "ablation", *args])
    assert res.exit_code == 2, res.output
    assert needle in res.output and len(res.output.strip().splitlines()) == 1


def test_ablation_scan_without_inception_weights_says_what_to_do(planted_real, monkeypatch, tmp_path):
    monkeypatch.setattr("ganfix.extractors.inception_weights_candidates", lambda: [tmp_path / "nowhere.pth"])
    res = runner.invoke(app, ["rank", SPEC, "--layer", "features", "--samples", "50", "--by", "ablation",
                              "--scan-samples", "40", "--real", str(planted_real)])  # default features: inception
    assert res.exit_code == 2, res.output
    assert "Inception weights not found" in res.output and "toyscenes" not in res.output  # not a toy generator
    assert len(res.output.strip().splitlines()) == 1


def test_forward_selection_keeps_the_planted_units(planted_gen, planted_real):
    from ganfix.ranking.ablation import greedy_set

    features = register_test_extractor()
    real = RealSource.from_spec(str(planted_real), resolution=16)
    scan = scan_ablations(planted_gen, "features", real, features, samples=160, seed=0, kid_subset_size=80)
    chosen = greedy_set(planted_gen, scan, real, features)
    assert set(chosen.units) == set(PLANTED_UNITS)  # content units that look helpful alone are not kept
    assert all(b < a for a, b in zip([chosen.base_fid] + chosen.fids, chosen.fids))  # every step lowered FID
    assert chosen.tried == sum(1 for u in scan.units if scan.delta(u)[0] < 0)
    assert greedy_set(planted_gen, scan, real, features, max_units=1).units == chosen.units[:1]


def test_rank_cli_suggest(planted_real):
    register_test_extractor()
    base = ["rank", SPEC, "--layer", "features", "--samples", "200", "--scan-samples", "160",
            "--features", "planted-test", "--real", str(planted_real)]
    res = runner.invoke(app, base + ["--by", "ablation", "--suggest", "5", "--json"])
    assert res.exit_code == 0, res.output
    assert set(json.loads(res.stdout)["suggested"]["units"]) == set(PLANTED_UNITS)
    for extra, needle in ([["--suggest", "3"], "add --by ablation"], [["--by", "ablation", "--suggest", "-1"], "--suggest"]):
        bad = runner.invoke(app, base + extra)
        assert bad.exit_code == 2 and needle in bad.output and len(bad.output.strip().splitlines()) == 1, bad.output
