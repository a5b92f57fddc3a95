"""Annotation sets: schema, atomic save, one-line errors, fingerprint and layer checks."""
from __future__ import annotations

import json

import pytest

from ganfix.annotations import SCHEMA, AnnotationSet, default_annotation_path, model_slug
from ganfix.errors import UsageError
from ganfix.generator import load_generator


@pytest.fixture()
def gen(small_progan_path):
    return load_generator(str(small_progan_path), device="cpu")


def test_round_trip_and_schema(gen, tmp_path):
    s = AnnotationSet.new(gen, "layer4", "artifacts", source={"ranking": "max", "samples": 100, "seed": 0})
    s.mark(7, text="checker blotch")
    s.mark(3)
    s.mark(5, marked=False, text="sky, not an artifact")  # a note without the mark is kept
    path = s.save(tmp_path / "a" / "layer4-artifacts.json")
    data = json.loads(path.read_text())
    assert data["schema"] == SCHEMA and data["units"] == [3, 7] and data["layer"] == "layer4"
    assert data["model"] == {"name": gen.name, "fingerprint": gen.fingerprint}
    assert data["labels"]["7"]["text"] == "checker blotch" and data["labels"]["7"]["marked"] and "time" in data["labels"]["7"]
    assert data["labels"]["5"]["marked"] is False
    assert data["source"]["ranking"] == "max" and data["created"] and data["updated"]
    back = AnnotationSet.load(path)
    assert back.units == [3, 7] and back.fingerprint == gen.fingerprint and back.to_dict() == data
    back.mark(7, marked=False)  # unmarked, its text kept
    back.mark(3, marked=False)  # unmarked without text → dropped
    assert back.units == [] and 3 not in back.labels and back.labels[7]["text"] == "checker blotch"
    assert not list(path.parent.glob("*.tmp*"))  # atomic save leaves no temp files


def test_malformed_json_is_one_line_error_and_file_untouched(tmp_path):
    path = tmp_path / "bad.json"
    path.write_bytes(b'{"schema": "ganfix.annotations/1", "units": [1, \n')
    before = path.read_bytes()
    with pytest.raises(UsageError) as exc:
        AnnotationSet.load(path)
    assert "malformed" in str(exc.value) and "\n" not in str(exc.value)
    assert path.read_bytes() == before
    for bad in ({"schema": "other/9"}, [], {"schema": SCHEMA, "model": {"name": "x"}, "layer": "l"},
                {"schema": SCHEMA, "model": {"name": "x", "fingerprint": "f"}, "layer": "l", "units": [-1]},
                {"schema": SCHEMA, "model": {"name": "x", "fingerprint": "f"}, "layer": "l", "units": [9], "num_units": 4}):
        path.write_text(json.dumps(bad))
        before = path.read_bytes()
        with pytest.raises(UsageError, match="malformed"):
            AnnotationSet.load(path)
        assert path.read_bytes() == before
    with pytest.raises(UsageError, match="not found"):
        AnnotationSet.load(tmp_path / "missing.json")


def test_fingerprint_layer_and_units_checks(gen, tmp_path):
    s = AnnotationSet.new(gen, "layer4")
    s.fingerprint = "0123456789abcdef"
    with pytest.raises(UsageError, match="force=True"):
        s.check_model(gen)
    s.check_model(gen, force=True)
    with pytest.raises(UsageError, match="layer4"):
        s.check_layer("layer2")
    s.check_layer("layer4")
    with pytest.raises(UsageError, match="no units"):
        s.require_units()
    with pytest.raises(UsageError, match="out of range"):
        s.mark(gen.layer("layer4").units)
    with pytest.raises(UsageError):
        AnnotationSet.new(gen, "nope")


def test_hand_edited_units_are_authoritative(gen, tmp_path):
    s = AnnotationSet.new(gen, "layer4")
    s.mark(1, text="a")
    path = s.save(tmp_path / "s.json")
    data = json.loads(path.read_text())
    data["units"] = [2]
    path.write_text(json.dumps(data))
    back = AnnotationSet.load(path)
    assert back.units == [2] and back.labels[1]["marked"] is False and back.labels[1]["text"] == "a"


def test_default_path_is_sanitised():
    assert model_slug("toyscenes") == "toyscenes"
    assert model_slug("/x/y/progan_church.pth") == "progan_church"
    assert model_slug("models/my gen.py:make") == "my-gen-make"
    assert str(default_annotation_path("/x/g.pt", "layer 4", "art/ifacts")) == "annotations/g/layer-4-art-ifacts.json"
