"""Gate logic and report renderings of `ganfix check`, on known numbers (a fixed metrics provider).

End-to-end runs with the real scoring module are in test_check_e2e.py."""
from __future__ import annotations

import json
import xml.etree.ElementTree as ET

import pytest

from ganfix.checking.config import parse_config
from ganfix.checking.gates import (gate_baseline, gate_max_fid, gate_max_kid, gate_patch_beats_random, read_baseline,
                                relative_vs_random, run_check)
from ganfix.checking.outputs import github_error_lines, junit_xml, step_summary_markdown
from ganfix.errors import UsageError


def repair_report(original=30.0, patched=20.0, random_mean=29.0, ci=(-10.5, -7.5)):
    return {"original": {"fid": original, "kid_mean": 0.01, "kid_std": 0.001},
            "patched": {"fid": patched, "kid_mean": 0.005, "kid_std": 0.001},
            "random": {"draws": [{"units": [1], "fid": random_mean}] * 5, "fid_mean": random_mean, "fid_std": 0.5,
                       "kid_mean": 0.01, "kid_std": 0.001},
            "delta": {"fid_patched_minus_original": patched - original, "ci95": [-11, -9],
                      "fid_patched_minus_random_mean": patched - random_mean, "ci95_vs_random": list(ci)}}


class FixedMetrics:
    """Stands in for ganfix.scoring in these logic tests: known numbers, counts calls."""

    def __init__(self, fid=30.0, kid=0.01):
        self.fid, self.kid, self.calls = fid, kid, []

    def score(self, gen):
        self.calls.append("score")
        return {"fid": self.fid, "kid_mean": self.kid, "kid_std": 0.002, "samples": 10}


class FakeGen:
    name, fingerprint = "fake", "0123456789abcdef"


def test_fid_and_kid_thresholds():
    m = {"fid": 30.0, "kid_mean": 0.01, "kid_std": 0.002}
    assert gate_max_fid(m, 30.0).passed and not gate_max_fid(m, 29.9).passed
    assert "FID 30.000 > 29.9" in gate_max_fid(m, 29.9).summary
    assert gate_max_kid(m, 0.02).passed and not gate_max_kid(m, 0.005).passed
    assert gate_max_kid(m, 0.02).metrics == {"kid_mean": 0.01, "kid_std": 0.002, "max_kid": 0.02}


def test_baseline_tolerance(tmp_path):
    base = {"fid": 20.0}
    assert gate_baseline({"fid": 20.9}, base, 0.05, tmp_path).passed
    res = gate_baseline({"fid": 21.1}, base, 0.05, tmp_path)
    assert not res.passed and res.metrics["max_allowed_fid"] == pytest.approx(21.0) and "+5.5%" in res.summary
    assert gate_baseline({"fid": 15.0}, base, 0.0, tmp_path).passed  # improvements always pass


def test_patch_beats_random_is_judged_on_the_interval():
    # −31% … −21% relative to random 29: the whole interval is below −10% → pass.
    rel, lo, hi = relative_vs_random(repair_report())
    assert rel == pytest.approx(-9 / 29) and hi == pytest.approx(-7.5 / 29)
    assert gate_patch_beats_random(repair_report(), 0.10).passed
    # Same point estimate, but the interval reaches −5%: not proven by the margin → fail.
    wide = repair_report(ci=(-14.0, -1.5))
    res = gate_patch_beats_random(wide, 0.10)
    assert not res.passed and res.metrics["relative_ci95_hi"] == pytest.approx(-1.5 / 29)
    # A patch that is no better than random fails even with margin 0.
    assert not gate_patch_beats_random(repair_report(patched=29.5, ci=(-1.0, 2.0)), 0.0).passed


def test_read_baseline_formats_and_settings(tmp_path):
    cfg = parse_config({"generator": "toyscenes", "samples": 100, "gates": {"max_fid": 1}})
    p = tmp_path / "b.json"
    p.write_text(json.dumps({"settings": cfg.settings(), "metrics": {"fid": 12.5, "kid_mean": 0.0}}))
    assert read_baseline(p, cfg)["fid"] == 12.5
    p.write_text(json.dumps(repair_report(original=14.0)))  # a repair report.json: its original FID
    assert read_baseline(p, cfg)["fid"] == 14.0
    p.write_text(json.dumps({"settings": {**cfg.settings(), "samples": 5000}, "metrics": {"fid": 1.0}}))
    with pytest.raises(UsageError, match="samples=5000"):
        read_baseline(p, cfg)
    p.write_text("{not json")
    with pytest.raises(UsageError, match="not a JSON report"):
        read_baseline(p, cfg)
    with pytest.raises(UsageError, match="--write-baseline"):
        read_baseline(tmp_path / "absent.json", cfg)


def test_run_check_scores_once_and_reports_every_gate(tmp_path):
    base = tmp_path / "baseline.json"
    cfg = parse_config({"generator": "toyscenes", "gates": {"max_fid": 25.0, "max_kid": 0.05, "baseline": str(base),
                                                             "tolerance": 0.1}})
    base.write_text(json.dumps({"settings": cfg.settings(), "metrics": {"fid": 29.0}}))
    provider = FixedMetrics(fid=30.0)
    report = run_check(cfg, FakeGen(), provider)
    assert provider.calls == ["score"]
    assert [(g["name"], g["passed"]) for g in report["gates"]] == [("max_fid", False), ("max_kid", True), ("baseline", True)]
    assert report["passed"] is False and report["metrics"]["fid"] == 30.0
    json.dumps(report)  # JSON-ready
    # --write-baseline: the baseline gate is skipped (the file may not exist yet) but metrics are computed.
    base.unlink()
    report = run_check(cfg, FakeGen(), FixedMetrics(fid=20.0), skip_baseline=True)
    assert [g["name"] for g in report["gates"]] == ["max_fid", "max_kid"] and report["passed"]


def sample_report():
    cfg = parse_config({"generator": "toyscenes", "gates": {"max_fid": 25.0, "max_kid": 0.05}})
    return run_check(cfg, FakeGen(), FixedMetrics(fid=30.0))


def test_junit_one_testcase_per_gate_with_properties():
    root = ET.fromstring(junit_xml(sample_report(), elapsed_s=1.5))
    assert root.tag == "testsuites" and root.get("tests") == "2" and root.get("failures") == "1"
    suite = root.find("testsuite")
    cases = {c.get("name"): c for c in suite.findall("testcase")}
    assert set(cases) == {"max_fid", "max_kid"}
    props = {p.get("name"): p.get("value") for p in cases["max_fid"].find("properties")}
    assert float(props["fid"]) == 30.0 and float(props["max_fid"]) == 25.0
    assert cases["max_fid"].find("failure").get("message").startswith("FID 30.000 > 25")
    assert cases["max_kid"].find("failure") is None
    suite_props = {p.get("name"): p.get("value") for p in suite.find("properties")}
    assert suite_props["generator"] == "fake" and suite_props["features"] == "toyscenes"


def test_summary_and_error_lines_escape():
    report = sample_report()
    md = step_summary_markdown(report)
    assert "quality gate failed" in md and "| max_fid | ❌ FAIL |" in md and "| max_kid | ✅ pass |" in md
    report["gates"][0]["summary"] = "50% worse\nsee: a, b"
    (line,) = github_error_lines(report)
    assert line == "::error title=ganfix check%3A max_fid::50%25 worse%0Asee: a, b"
