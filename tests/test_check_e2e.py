"""`ganfix check` end to end with the real scoring module (torch-fidelity) on tiny generators.

A clean tiny generator passes the FID gate, the same generator with noisier weights fails it; an
annotation set made for another model fails the fingerprint gate; the true artifact units beat
random ablation, other units do not. JUnit is parsed, the job summary goes to a temp file."""
from __future__ import annotations

import json
import os
import textwrap
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from check_helpers import ARTIFACT_UNITS, OTHER_UNITS, register_tiny_features, write_generator, write_real_folder

pytest.importorskip("ganfix.scoring", reason="ganfix.scoring not present yet")
pytest.importorskip("ganfix.annotations", reason="ganfix.annotations not present yet")

from ganfix.cli.app import app  # noqa: E402
from cli_helpers import runner

N = 120          # generated and real samples per scoring: small keeps the suite fast
MAX_FID = 0.01   # tiny features: clean ≈ 0.00001, noisy (noise 0.6) ≈ 0.04 at N=120



@pytest.fixture(scope="module")
def world(tmp_path_factory):
    root = tmp_path_factory.mktemp("check-world")
    module, clean = write_generator(root / "gen", "clean")
    _, noisy = write_generator(root / "gen", "noisy", noise=0.6)
    write_real_folder(root / "real", module, clean, N)
    write_real_folder(root / "real-repaired", module, clean, N, ablate=ARTIFACT_UNITS)
    register_tiny_features()
    return root


def config(root: Path, name: str, weights: str = "clean", gates: str = "", real: str = "real", **top) -> Path:
    extra = "".join(f"{k} = {json.dumps(v)}\n" for k, v in top.items())
    path = root / f"{name}.toml"
    path.write_text(textwrap.dedent(f'''
        generator = "gen/tiny.py:make"
        weights = "gen/{weights}.pt"
        features = "ganfix-test-tiny"
        real = "{real}"
        samples = {N}
        seed = 0
        random_draws = 3
        bootstrap = 30
    ''') + extra + "[gates]\n" + textwrap.dedent(gates))
    return path


def check(*args, env=None):
    env = {"GITHUB_ACTIONS": None, "GITHUB_STEP_SUMMARY": None, **(env or {})}
    return runner.invoke(app, ["check", *map(str, args)], env=env)


def annotation_set(root: Path, weights: str, units, name: str) -> Path:
    from ganfix.annotations import AnnotationSet
    from ganfix.generator import load_generator

    gen = load_generator(f"{root}/gen/tiny.py:make", weights=str(root / "gen" / f"{weights}.pt"))
    aset = AnnotationSet.new(gen, "layer2", "artifacts")
    for u in units:
        aset.mark(u, True, "blotch")
    path = root / "annotations" / f"{name}.json"
    aset.save(path)
    return path


def test_fid_kid_gates_junit_and_job_summary(world, tmp_path):
    res = check("--config", config(world, "clean", gates=f"max_fid = {MAX_FID}\nmax_kid = 1.0\n"), "--json")
    assert res.exit_code == 0, res.output
    clean = json.loads(res.stdout)
    assert clean["passed"] and clean["metrics"]["fid"] <= MAX_FID

    summary = tmp_path / "summary.md"
    summary.write_text("earlier step\n")
    junit = tmp_path / "out" / "junit.xml"
    res = check("--config", config(world, "noisy", "noisy", gates=f"max_fid = {MAX_FID}\nmax_kid = 1.0\n"),
                "--junit", junit, env={"GITHUB_ACTIONS": "true", "GITHUB_STEP_SUMMARY": str(summary)})
    assert res.exit_code == 1, res.output
    # JUnit: one testcase per gate, metric values as properties, the failed gate as <failure>.
    root = ET.parse(junit).getroot()
    cases = {c.get("name"): c for c in root.iter("testcase")}
    assert set(cases) == {"max_fid", "max_kid"} and root.get("failures") == "1"
    props = {p.get("name"): float(p.get("value")) for p in cases["max_fid"].find("properties")}
    assert props["fid"] > MAX_FID == props["max_fid"]
    assert cases["max_fid"].find("failure") is not None and cases["max_kid"].find("failure") is None
    # Job summary appended (earlier content kept), ::error:: line for the failed gate only.
    text = summary.read_text()
    assert text.startswith("earlier step\n") and "| max_fid | ❌ FAIL |" in text and "| max_kid | ✅ pass |" in text
    errors = [l for l in res.output.splitlines() if l.startswith("::error")]
    # not Inception: the gate names the feature space and the real set instead of calling it FID
    assert len(errors) == 1 and "max_fid" in errors[0] and "FD (ganfix-test-tiny features) vs " in errors[0]


def test_baseline_written_then_regression_fails_and_runs_are_deterministic(world, tmp_path):
    base = tmp_path / "reports" / "baseline.json"
    cfg_clean = config(world, "base-clean", gates=f'baseline = "{base}"\ntolerance = 0.05\n')
    res = check("--config", cfg_clean, "--write-baseline", base, "--json")
    assert res.exit_code == 0, res.output
    written = json.loads(base.read_text())
    assert written["metrics"] == json.loads(res.stdout)["metrics"]
    res = check("--config", cfg_clean, "--json")  # same seed → same numbers → within tolerance
    assert res.exit_code == 0, res.output
    assert json.loads(res.stdout)["metrics"] == written["metrics"]
    res = check("--config", config(world, "base-noisy", "noisy", gates=f'baseline = "{base}"\ntolerance = 0.05\n'))
    assert res.exit_code == 1, res.output
    # A baseline made with another N is not comparable: a config error, not a verdict.
    res = check("--config", cfg_clean, "--samples", N // 2)
    assert res.exit_code == 2 and "samples" in res.output and "--write-baseline" in res.output


@pytest.mark.slow
def test_annotation_fingerprint_and_patch_beats_random(world):
    good = annotation_set(world, "clean", ARTIFACT_UNITS, "good")
    wrong_model = annotation_set(world, "noisy", ARTIFACT_UNITS, "wrong-model")
    wrong_units = annotation_set(world, "clean", OTHER_UNITS, "wrong-units")

    res = check("--config", config(world, "ann-bad", gates=f'annotations = "{wrong_model}"\n'), "--json")
    assert res.exit_code == 1, res.output
    (gate,) = json.loads(res.stdout)["gates"]
    assert gate["name"] == "annotations" and not gate["passed"] and "fingerprint" in gate["summary"]

    res = check("--config", config(world, "patch-good", gates=f'annotations = "{good}"\npatch_beats_random = 0.1\n',
                       real="real-repaired"), "--json")
    assert res.exit_code == 0, res.output
    report = json.loads(res.stdout)
    patch = report["gates"][1]
    assert patch["name"] == "patch_beats_random" and patch["metrics"]["relative_ci95_hi"] <= -0.1
    assert patch["summary"].startswith("patched FD (ganfix-test-tiny features) "), patch["summary"]

    res = check("--config", config(world, "patch-bad", gates=f'annotations = "{wrong_units}"\npatch_beats_random = 0.1\n',
                       real="real-repaired"), "--json")
    assert res.exit_code == 1, res.output
    gates = {g["name"]: g["passed"] for g in json.loads(res.stdout)["gates"]}
    assert gates == {"annotations": True, "patch_beats_random": False}
