"""`ganfix demo` end to end on the embedded world (small settings), and the shipped annotation set."""
from __future__ import annotations

import json
from pathlib import Path

import pytest

from ganfix.annotations import AnnotationSet
from ganfix.cli.app import app
from ganfix.demo import PACKAGED_SET, shipped_annotation_path

ROOT = Path(__file__).resolve().parent.parent


def test_shipped_set_fits_the_shipped_generator(toyscenes_gen):
    sets = sorted((ROOT / "annotations" / "toyscenes").glob("*-artifacts.json"))
    assert len(sets) == 1
    assert shipped_annotation_path() == sets[0]
    assert PACKAGED_SET.read_bytes() == sets[0].read_bytes()  # the packaged copy is the same file
    ann = AnnotationSet.load(sets[0])
    gen = toyscenes_gen
    ann.check_model(gen)  # raises on a fingerprint mismatch
    info = gen.layer(ann.layer)
    assert 5 <= len(ann.units) <= info.units // 2
    assert all(ann.labels[u].get("text") for u in ann.units)  # every labelled unit says what it saw


@pytest.mark.slow
def test_demo_runs_end_to_end(tmp_path, runner):
    out = tmp_path / "demo"
    res = runner.invoke(app, ["demo", "--out", str(out), "--samples", "120", "--rank-samples", "200",
                                   "--random-draws", "2", "--bootstrap", "0"])
    assert res.exit_code == 0, res.output
    assert "Table 1" in res.output and "no bootstrap interval computed" in res.output and "next:" in res.output
    report = json.loads((out / "report.json").read_text())
    assert {"original", "patched", "random", "delta", "export"} <= set(report)
    assert len(report["random"]["draws"]) == 2
    for name in ("report.md", "before_after.png", "sheets/index.html", "export/patched_generator.pt2", "annotations.json"):
        assert (out / name).exists(), name
