"""Painting on toyscenes without a browser: strokes move the segmenter's class pixels the expected
way, undo restores bit for bit, save + replay (library and CLI) reproduce the image exactly."""
from __future__ import annotations

import json

import pytest
import torch

from ganfix.cli.app import app
from ganfix.errors import UsageError
from cli_helpers import runner
from paint_helpers import cells_of, toy_painting



@pytest.fixture(scope="module")
def painting():
    return toy_painting(0)


def test_palette_units_and_values(painting):
    pal = painting.palette
    assert [e.name for e in pal.entries] == ["tree", "door"] and painting.grid == (8, 8)
    for e in pal.entries:
        assert len(e.units) == 8 and len(set(e.units)) == 8 and all(v > 0 for v in e.values)


def test_tree_on_ground_adds_tree_and_undo_restores(painting):
    painting.new_sample(0)
    before = painting.render()
    ground = cells_of(painting, "ground")
    assert len(ground) >= 4
    base = painting.class_pixels(before)
    painting.stroke("add", "tree", ground)
    after = painting.class_pixels(painting.render())
    assert after["tree"] > base["tree"] + 50 and after["ground"] < base["ground"]
    painting.stroke("remove", "tree", [[r, c] for r in range(8) for c in range(8)])
    assert painting.class_pixels(painting.render())["tree"] < after["tree"]
    painting.undo()
    painting.undo()
    assert torch.equal(painting.render(), before)  # bit for bit
    assert painting.redo() and painting.class_pixels(painting.render()) == after


def test_door_on_buildings_adds_door(painting):
    gained = 0
    for s in range(4):
        painting.new_sample(s)
        base = painting.class_pixels(painting.render())["door"]
        cells = cells_of(painting, "building")
        if not cells:
            continue
        painting.stroke("add", "door", cells)
        gained += painting.class_pixels(painting.render())["door"] - base
    assert gained > 0


def test_save_and_replay_reproduce_the_image(painting, tmp_path):
    from ganfix.paint import replay

    painting.new_sample(2)
    painting.stroke("add", "tree", cells_of(painting, "ground")[:6])
    painting.stroke("remove", "door", [[4, 4], [4, 5]])
    saved = painting.save(tmp_path / "s")
    data = json.loads((tmp_path / "s" / "edits.json").read_text())
    assert data["sample"] == 2 and [e["op"] for e in data["edits"]] == ["add", "remove"]
    assert data["edits"][1]["values"] == [0.0] * 8 and data["edits"][0]["cells"] == cells_of(painting, "ground")[:6]
    assert saved["counts"]["change"]["tree"] == saved["counts"]["after"]["tree"] - saved["counts"]["before"]["tree"]
    again = replay(tmp_path / "s" / "edits.json", tmp_path / "r", painting.gen, painting.segmenter)
    assert (tmp_path / "r" / "image.png").read_bytes() == (tmp_path / "s" / "image.png").read_bytes()
    assert again["counts"] == saved["counts"]
    res = runner.invoke(app, ["paint", "--replay", str(tmp_path / "s" / "edits.json"), "--out", str(tmp_path / "c"), "--json"])
    assert res.exit_code == 0, res.output
    assert (tmp_path / "c" / "image.png").read_bytes() == (tmp_path / "s" / "image.png").read_bytes()


@pytest.mark.parametrize("op,cls,cells,needle", [
    ("paint", "tree", [[0, 0]], "op"), ("add", "cloud", [[0, 0]], "palette"), ("add", "tree", [], "cell"),
    ("add", "tree", [[8, 0]], "grid"), ("add", "tree", [[0, True]], "grid"), ("add", "tree", "0,0", "cell"),
])
def test_bad_strokes(painting, op, cls, cells, needle):
    n = len(painting.edits)
    with pytest.raises(UsageError, match=needle):
        painting.stroke(op, cls, cells)
    assert len(painting.edits) == n


def test_bad_replays(painting, tmp_path):
    good = painting.to_json()
    for mutate, needle in [(lambda d: d.update(schema="x"), "schema"),
                           (lambda d: d["model"].update(fingerprint="0" * 16), "fingerprint"),
                           (lambda d: d.update(edits=[{"op": "add", "class": "tree", "units": [999], "values": [1.0], "cells": [[0, 0]]}]), "999"),
                           (lambda d: d.update(edits=[{"op": "add", "class": "tree", "units": [1], "values": [1.0, 2.0], "cells": [[0, 0]]}]), "malformed edit 0")]:
        d = json.loads(json.dumps(good))
        mutate(d)
        f = tmp_path / "e.json"
        f.write_text(json.dumps(d))
        res = runner.invoke(app, ["paint", "toyscenes", "--replay", str(f), "--out", str(tmp_path / "o")])
        assert res.exit_code == 2 and needle in res.output, res.output
    res = runner.invoke(app, ["paint", "toyscenes"])
    assert res.exit_code == 2 and "--layer" in res.output
