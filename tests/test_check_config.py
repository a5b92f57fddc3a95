"""`ganfix check` config: TOML / [tool.ganfix] loading, path resolution, and config errors → exit 2, one line."""
from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from ganfix.checking.config import DEFAULT_SAMPLES, find_config, load_config
from ganfix.cli.app import app
from cli_helpers import one_line_error, runner
from ganfix.errors import UsageError



def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(textwrap.dedent(text))
    return path


def check_error(args, *needles):
    return one_line_error(runner.invoke(app, ["check", *map(str, args)]), *needles)


def test_ganfix_toml_paths_resolve_against_config_folder(tmp_path):
    (tmp_path / "ci" / "ann.json").parent.mkdir()
    (tmp_path / "ci" / "ann.json").write_text("{}")
    cfg = load_config(write(tmp_path / "ci" / "ganfix.toml", """
        generator = "toyscenes"
        samples = 300
        seed = 7
        [gates]
        max_fid = 40
        max_kid = 0.02
        annotations = "ann.json"
        patch_beats_random = 0.1
        baseline = "reports/baseline.json"
        tolerance = 0.05
    """))
    assert cfg.samples == 300 and cfg.seed == 7 and cfg.features == "toyscenes" and cfg.real == "world"
    g = cfg.gates
    assert g.max_fid == 40.0 and isinstance(g.max_fid, float) and g.max_kid == 0.02
    assert g.annotations == tmp_path / "ci" / "ann.json"
    assert g.baseline == tmp_path / "ci" / "reports" / "baseline.json"  # may not exist yet (--write-baseline)
    assert g.enabled() == ["annotations", "max_fid", "max_kid", "baseline", "patch_beats_random"]


def test_pyproject_tool_table_and_discovery(tmp_path, tmp_path_factory):
    write(tmp_path / "pyproject.toml", """
        [project]
        name = "mygan"
        [tool.ganfix]
        generator = "toyscenes"
        [tool.ganfix.gates]
        max_fid = 50.0
    """)
    sub = tmp_path / "src" / "deep"
    sub.mkdir(parents=True)
    found = find_config(sub)
    assert found == tmp_path / "pyproject.toml"
    cfg = load_config(found)
    assert cfg.gates.max_fid == 50.0 and cfg.samples == DEFAULT_SAMPLES
    other = tmp_path_factory.mktemp("other")
    write(other / "pyproject.toml", "[project]\nname = 'x'\n")
    with pytest.raises(UsageError, match="no ganfix.toml"):
        find_config(other)


def test_unknown_key_names_it_and_lists_valid_ones(tmp_path):
    cfg = write(tmp_path / "ganfix.toml", 'generator = "toyscenes"\nsampels = 10\n[gates]\nmax_fid = 1\n')
    check_error(["--config", cfg], "sampels", "samples", "features", "generator")
    cfg = write(tmp_path / "g2.toml", 'generator = "toyscenes"\n[gates]\nmax_fdi = 1\n')
    check_error(["--config", cfg], "max_fdi", "[gates]", "max_fid", "patch_beats_random", "tolerance")
    cfg = write(tmp_path / "pyproject.toml", '[tool.ganfix]\ngenerator = "toyscenes"\ncolour = "red"\n')
    check_error(["--config", cfg], "colour", "[tool.ganfix]")


@pytest.mark.parametrize("body, needles", [
    ('[gates]\nmax_fid = "abc"', ["max_fid", "number", "abc"]),
    ('[gates]\nmax_kid = true', ["max_kid", "number"]),
    ('[gates]\nmax_fid = -3', ["max_fid", "≥ 0"]),
    ('[gates]\nmax_fid = nan', ["max_fid", "finite"]),
    ('samples = "many"\n[gates]\nmax_fid = 1', ["samples", "integer"]),
    ('samples = 1\n[gates]\nmax_fid = 1', ["samples", "at least 2"]),
    ('output_range = [1, 0]\n[gates]\nmax_fid = 1', ["output_range", "lo < hi"]),
    ('gates = 3', ["gates", "table"]),
    ('[gates]\ntolerance = 0.1', ["tolerance", "baseline"]),
])
def test_bad_types_and_values_exit_2(tmp_path, body, needles):
    cfg = write(tmp_path / "ganfix.toml", 'generator = "toyscenes"\n' + body + "\n")
    check_error(["--config", cfg], *needles)


def test_missing_files_exit_2(tmp_path):
    check_error(["--config", tmp_path / "nope.toml"], "nope.toml", "not found")
    cfg = write(tmp_path / "ganfix.toml", 'generator = "toyscenes"\n[gates]\nannotations = "ann/missing.json"\n')
    check_error(["--config", cfg], "annotations", "missing.json")
    cfg = write(tmp_path / "g2.toml", 'generator = "models/g.pt"\n[gates]\nmax_fid = 1\n')
    check_error(["--config", cfg], "generator", "g.pt")
    cfg = write(tmp_path / "g3.toml", 'generator = "toyscenes"\nreal = "photos"\n[gates]\nmax_fid = 1\n')
    check_error(["--config", cfg], "real", "photos")


def test_other_config_errors_exit_2(tmp_path):
    bad = write(tmp_path / "bad.toml", "generator = \n")
    check_error(["--config", bad], "not valid TOML")
    nogen = write(tmp_path / "nogen.toml", "[gates]\nmax_fid = 1\n")
    check_error(["--config", nogen], "generator")
    nogates = write(tmp_path / "nogates.toml", 'generator = "toyscenes"\n')
    check_error(["--config", nogates], "no gates")
    patch_alone = write(tmp_path / "p.toml", 'generator = "toyscenes"\n[gates]\npatch_beats_random = 0.1\n')
    check_error(["--config", patch_alone], "patch_beats_random", "annotations")
    ok = write(tmp_path / "ok.toml", 'generator = "toyscenes"\n[gates]\nmax_fid = 1\n')
    check_error(["--config", ok, "--samples", 1], "--samples")


def test_shipped_example_config_is_valid_and_points_at_the_shipped_set():
    from pathlib import Path

    from ganfix.checking.config import load_config

    root = Path(__file__).resolve().parent.parent
    cfg = load_config(root / "docs" / "ganfix-toyscenes.toml")
    assert cfg.generator == "toyscenes" and cfg.features == "toyscenes" and cfg.samples == 1000
    assert Path(cfg.gates.annotations).resolve() == (root / "annotations" / "toyscenes" / "layer4-artifacts.json").resolve()
    assert cfg.gates.max_fid and cfg.gates.max_kid and cfg.gates.patch_beats_random
