"""docs/api.md runs: its Python blocks, in order, in one namespace (small N), and the issue's snippet."""
from __future__ import annotations

import contextlib
import io
import os
import re
from pathlib import Path

import pytest

DOC = Path(__file__).resolve().parent.parent / "docs" / "api.md"


def python_blocks(text: str) -> list[str]:
    return re.findall(r"```python\n(.*?)```", text, re.S)


@pytest.mark.slow
def test_api_walkthrough_runs(tmp_path, monkeypatch):
    blocks = python_blocks(DOC.read_text(encoding="utf-8"))
    assert len(blocks) >= 7  # load, rank, sheets, patch, repair, export, dissect (+ a ranker)
    monkeypatch.chdir(tmp_path)
    ns: dict = {}
    out = io.StringIO()
    try:
        with contextlib.redirect_stdout(out):
            for i, code in enumerate(blocks):
                exec(compile(code, f"{DOC.name} block {i + 1}", "exec"), ns)
    finally:
        from ganfix.ranking.registry import _RANKERS

        _RANKERS.pop("peak", None)
    text = out.getvalue()
    assert "beats random" in text or "no clear difference" in text or "WORSE" in text  # the verdict was printed
    assert text.count("True") >= 1  # the standalone .pt2 program matches the hooked generator
    assert (tmp_path / "api-walkthrough" / "sheets" / "index.html").is_file()
    assert (tmp_path / "api-walkthrough" / "before_after.png").is_file()
    assert (tmp_path / "api-walkthrough" / "export" / "patched_generator.pt2").is_file()
    result = ns["result"]
    assert set(result.to_json()) >= {"original", "patched", "random", "delta", "settings"}
    assert len(result.random["draws"]) == 2 and result.delta_vs_random[1] is not None


@pytest.mark.slow
def test_issue_snippet_prints_a_repair_summary(capsys):
    import ganfix

    gen = ganfix.load_generator("toyscenes")
    ranking = ganfix.rank(gen, "layer4", by="sparsity", samples=500)
    result = ganfix.repair(gen, ganfix.Patch("layer4", ranking.top(8)), real="world", features="toyscenes",
                           samples=300, random_draws=3)
    print(result.verdict(), result.to_json()["patched"])
    printed = capsys.readouterr().out
    assert "random ablation" in printed and "'fid':" in printed and "'kid_mean':" in printed
    assert result.report["settings"]["samples"] == 300 and len(result.random["draws"]) == 3


def test_library_errors_name_parameters_and_the_cli_names_flags():
    import ganfix
    from ganfix.cli.common import flag_message
    from ganfix.worst import worst_samples

    gen = ganfix.load_generator("toyscenes")
    with pytest.raises(ganfix.UsageError, match=r"pool=50 must be at least samples=100"):
        ganfix.repair(gen, ganfix.Patch("layer4", [1, 2]), samples=100, select="top", pool=50, progress=False)
    flags = {"pool": "--pool", "samples": "--samples", "features": "--features", "force": "--force"}
    assert flag_message("pool=50 must be at least samples=100", flags) == "--pool 50 must be at least --samples 100"
    assert flag_message("use features='toyscenes' or force=True; key=v", flags) == \
        "use --features toyscenes or --force; key=v"
    assert flag_message("samples must be at least 1, got 0; pool=3", flags) == "--samples must be at least 1, got 0; --pool 3"
    # a library switch that is off (use_cache=False) is the CLI's negative flag
    assert flag_message("or pass use_cache=False", {"no_cache": "--no-cache"}) == "or pass --no-cache"
    with pytest.raises(ganfix.UsageError, match=r"n=0 must be between 1 and samples=50"):
        worst_samples(gen, "layer4", None, "toyscenes", samples=50, n=0)


def test_workflow_names_stay_functions_after_submodule_imports():
    import importlib

    import ganfix

    for mod in ("ganfix.exporting", "ganfix.repairing.report", "ganfix.dissection.report", "ganfix.dissection.tiles",
                "ganfix.checking.outputs", "ganfix.checking.metrics"):
        importlib.import_module(mod)
    assert all(callable(getattr(ganfix, n)) for n in ("rank", "repair", "export", "dissect", "ace", "check", "score"))
    assert os.path.basename(ganfix.defaults.__file__) == "defaults.py"
