"""Fuzzing the files users hand-edit (issue 11): annotation JSON and ganfix.toml / [tool.ganfix].

Whatever the content, reading it either works or is one UsageError line (the CLI's exit 2); it never
raises anything else (which the CLI would report as an internal error, exit 3) and never changes the
file. Kept fast (about 100 examples each, no scoring): each test reads files, nothing more."""
from __future__ import annotations

import json
import math
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from ganfix.cli.app import app
from ganfix.errors import GanfixError

FUZZ = settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture,
                                                                          HealthCheck.too_slow])

# -- annotation JSON ---------------------------------------------------------------------------------------

scalars = st.one_of(st.none(), st.booleans(), st.integers(-2**70, 2**70), st.floats(allow_nan=False, allow_infinity=False),
                    st.text(max_size=12))
json_values = st.recursive(scalars, lambda inner: st.one_of(st.lists(inner, max_size=4),
                                                           st.dictionaries(st.text(max_size=6), inner, max_size=4)),
                           max_leaves=20)
unit_keys = st.one_of(st.integers(0, 70).map(str), st.text(max_size=4), st.sampled_from(["²", "٣", "-1", "01", " 3", "1e2"]))
labels = st.dictionaries(unit_keys, st.one_of(
    st.fixed_dictionaries({}, optional={"marked": st.one_of(st.booleans(), st.sampled_from(["false", "true", 0, 1, None])),
                                        "text": st.one_of(st.text(max_size=8), json_values),
                                        "time": st.one_of(st.text(max_size=8), json_values)}),
    json_values), max_size=5)
annotation_sets = st.fixed_dictionaries(
    {},
    optional={
        "schema": st.one_of(st.just("ganfix.annotations/1"), json_values),
        "model": st.one_of(st.fixed_dictionaries({}, optional={"name": st.one_of(st.just("toyscenes"), json_values),
                                                               "fingerprint": st.one_of(st.just("abc"), json_values)}),
                           json_values),
        "layer": st.one_of(st.just("layer4"), json_values),
        "set": st.one_of(st.just("artifacts"), json_values),
        "num_units": st.one_of(st.integers(-2, 100), json_values),
        "units": st.one_of(st.lists(st.integers(-3, 80), max_size=5), json_values),
        "labels": st.one_of(labels, json_values),
        "source": json_values,
        "created": json_values,
        "updated": json_values,
    })


def _read_set(path: Path):
    from ganfix.annotations import AnnotationSet

    before = path.read_bytes()
    try:
        aset = AnnotationSet.load(path)
    except GanfixError as exc:  # exit 2: one line
        assert "\n" not in str(exc)
        aset = None
    assert path.read_bytes() == before, "reading never changes the file"
    return aset


@FUZZ
@given(data=annotation_sets)
def test_fuzz_annotation_structures(tmp_path_factory, data):
    path = tmp_path_factory.mktemp("fz") / "set.json"
    path.write_text(json.dumps(data))
    aset = _read_set(path)
    if aset is not None:  # what loads is exactly typed: the patch can trust it
        assert all(isinstance(u, int) and not isinstance(u, bool) and u >= 0 for u in aset.units)
        assert all(isinstance(l["marked"], bool) and isinstance(l["text"], str) for l in aset.labels.values())
        if aset.num_units is not None:
            assert all(u < aset.num_units for u in aset.units)
        again = tmp_path_factory.mktemp("fz") / "again.json"
        aset.save(again)
        assert _read_set(again).units == aset.units  # what loads also saves and reloads


@FUZZ
@given(text=st.one_of(st.text(max_size=200), st.binary(max_size=200).map(lambda b: b.decode("latin-1")),
                      st.integers(1, 3000).map(lambda n: "[" * n + "]" * n),
                      st.integers(1, 3000).map(lambda n: '{"a":' * n + "1" + "}" * n)))
def test_fuzz_annotation_text(tmp_path_factory, text):
    path = tmp_path_factory.mktemp("fz") / "set.json"
    path.write_bytes(text.encode("utf-8", "surrogatepass"))
    _read_set(path)


# -- ganfix.toml / pyproject.toml -------------------------------------------------------------------------

def _toml_key(k: str) -> str:
    return k if k and all(c.isalnum() or c in "_-" for c in k) and k.isascii() else json.dumps(k)


def _toml_value(v) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, int):
        return str(v)
    if isinstance(v, float):
        return "nan" if math.isnan(v) else ("inf" if v == math.inf else "-inf" if v == -math.inf else repr(v))
    if isinstance(v, str):
        return json.dumps(v)
    if isinstance(v, list):
        return "[" + ", ".join(_toml_value(x) for x in v) + "]"
    return "{" + ", ".join(f"{_toml_key(k)} = {_toml_value(x)}" for k, x in v.items()) + "}"


def to_toml(table: dict, prefix: str = "") -> str:
    """A minimal TOML writer (inline tables for nesting below the first level)."""
    plain = {k: v for k, v in table.items() if not isinstance(v, dict)}
    tables = {k: v for k, v in table.items() if isinstance(v, dict)}
    out = "".join(f"{_toml_key(k)} = {_toml_value(v)}\n" for k, v in plain.items())
    for k, v in tables.items():
        out += f"\n[{prefix}{_toml_key(k)}]\n" + "".join(
            f"{_toml_key(kk)} = {_toml_value(vv)}\n" for kk, vv in v.items())
    return out


toml_scalars = st.one_of(st.booleans(), st.integers(-2**63, 2**63 - 1), st.floats(), st.text(max_size=10))
toml_values = st.recursive(toml_scalars, lambda inner: st.one_of(st.lists(inner, max_size=3),
                                                                st.dictionaries(st.text(max_size=5), inner, max_size=3)),
                           max_leaves=8)
KNOWN = ["generator", "weights", "weights_key", "strip_prefix", "z_shape", "output_range", "image_shape", "trust_pickle", "features", "real", "samples", "seed",
         "device", "inception_weights", "random_draws", "bootstrap"]
GATES = ["max_fid", "max_kid", "annotations", "patch_beats_random", "baseline", "tolerance"]
configs = st.fixed_dictionaries(
    {"generator": st.one_of(st.just("toyscenes"), st.just("missing.pt"), st.just("x.py:factory"), toml_values)},
    optional={
        **{k: toml_values for k in KNOWN[1:]},
        "samples": st.one_of(st.integers(-5, 10**20), toml_values),
        "seed": st.one_of(st.integers(-5, 2**63 - 1), toml_values),
        "z_shape": st.one_of(st.lists(st.integers(-2, 10**9), max_size=3), toml_values),
        "gates": st.one_of(st.fixed_dictionaries({}, optional={g: toml_values for g in GATES}), toml_values),
        "typo_key": toml_values,
    })


def _load(path: Path):
    from ganfix.checking.config import load_config

    try:
        return load_config(path)
    except GanfixError as exc:
        assert "\n" not in str(exc)
        return None


@FUZZ
@given(cfg=configs, where=st.sampled_from(["ganfix.toml", "pyproject.toml"]))
def test_fuzz_check_config(tmp_path_factory, cfg, where):
    folder = tmp_path_factory.mktemp("cfg")
    text = to_toml(cfg) if where == "ganfix.toml" else "[tool.ganfix]\n" + to_toml(cfg, "tool.ganfix.")
    (folder / where).write_text(text)
    loaded = _load(folder / where)
    if loaded is not None:
        assert isinstance(loaded.samples, int) and loaded.samples >= 2 and isinstance(loaded.generator, str)


@FUZZ
@given(text=st.text(max_size=300))
def test_fuzz_config_text(tmp_path_factory, text):
    folder = tmp_path_factory.mktemp("cfg")
    (folder / "ganfix.toml").write_text(text, encoding="utf-8", errors="surrogatepass")
    _load(folder / "ganfix.toml")
    (folder / "pyproject.toml").write_text(text, encoding="utf-8", errors="surrogatepass")
    _load(folder / "pyproject.toml")


# The CLI end to end on a few fuzzed files: exit 0 or 2, never a traceback (kept to a handful: each run
# loads the built-in generator).
@settings(max_examples=6, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=annotation_sets)
def test_fuzz_annotation_cli(tmp_path_factory, data):
    path = tmp_path_factory.mktemp("cli") / "set.json"
    path.write_text(json.dumps(data))
    res = CliRunner().invoke(app, ["annotate", "toyscenes", "--layer", "layer4", "--annotations", str(path), "--mark", "1",
                                   "--force"])
    assert res.exit_code in (0, 2), res.output
    assert "Traceback" not in res.output
