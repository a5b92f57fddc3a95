"""docs/reproduce.py in its small mode: every section runs and records N and intervals."""
from __future__ import annotations

import importlib.util
import json
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


def _load():
    spec = importlib.util.spec_from_file_location("reproduce", ROOT / "docs" / "reproduce.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


@pytest.mark.slow
def test_reproduce_small_mode_writes_every_section(tmp_path):
    mod = _load()
    out = tmp_path / "r.json"
    mod.main(["--small", "--out", str(out), "--quiet"])
    r = json.loads(out.read_text())
    assert r["meta"]["mode"] == "small"
    t1 = r["table1"]
    assert set(t1["spaces"]) == {"toyscenes", "toyscenes-ssl"}
    for space in t1["spaces"].values():
        runs = space["runs"]
        assert len(runs) == 3 * 2  # latent seeds × real seeds
        for run in runs:
            lo, hi = run["ci95_vs_random"]
            assert lo <= hi and len(run["random_draw_fids"]) == r["config"]["draws"]
            assert 0 <= run["random_beats_patch"]["fraction"] <= 1
    assert set(r["draws"]["sizes"]) == {"2", "4"}
    for space in r["sensitivity"]["spaces"].values():
        assert space["rows"][0]["fraction"] == 0 and space["rows"][0]["relative_increase"] == pytest.approx(0)
        assert space["rows"][-1]["fd"] != space["fd_generated"]  # blotches on half the images move FD (direction: measured)
    assert set(r["layers"]["conventions"]) == {"reference", "unconstrained"}
    door = r["ace"]["classes"]["door"]
    assert len(door["units"]) == 2 and "ace" in door["set"]["ci95"]
    ctx = r["context"]
    assert set(ctx["seeds"]) == {"0", "1"} and [s["samples"] for s in ctx["stability"]] == [1, 2]
    assert r["tracing"]["layers"]


def test_planted_blotch_is_deterministic_and_saturated():
    import torch

    mod = _load()
    imgs = torch.full((3, 3, 64, 64), 128, dtype=torch.uint8)
    a, b = mod.plant_blotch(imgs, [0, 1, 2]), mod.plant_blotch(imgs, [0, 1, 2])
    assert torch.equal(a, b) and not torch.equal(a[0], a[1])
    changed = (a != 128).any(1)  # [N, H, W]
    area = changed.flatten(1).sum(1)
    assert bool(((area > 60) & (area < 300)).all())  # π·5² ≈ 79 … π·9² ≈ 254 pixels
    px = a.permute(0, 2, 3, 1)[changed]
    assert bool(((px == 0) | (px == 255)).all())


def test_published_numbers_come_from_the_committed_full_run():
    """README's Table-1 rows and docs/dissection.md's ACE figures are the committed docs/reproduce.json, and
    that run was made on the built-in generator as it ships (a new generator makes the numbers stale)."""
    import ganfix
    from ganfix.scoring import num

    run = json.loads((ROOT / "docs" / "reproduce.json").read_text())
    assert run["meta"]["mode"] == "full"
    assert run["meta"]["fingerprint"] == ganfix.load_generator("toyscenes").fingerprint
    readme = (ROOT / "README.md").read_text()
    for r in run["table1"]["spaces"]["toyscenes"]["runs"] + run["table1"]["spaces"]["toyscenes-ssl"]["runs"]:
        row = f"{r['original']:.3f} → {r['patched']:.3f}, random {r['random_mean']:.3f} ± {r['random_std']:.3f}"
        lo, hi = r["ci95_vs_random"]
        ci = f"{num(lo, '+.3f')} … {num(hi, '+.3f')}"
        assert row in readme and ci in readme, (row, ci)
    dissection = (ROOT / "docs" / "dissection.md").read_text()
    for cls, v in run["ace"]["classes"].items():
        lo, hi = v["set"]["ci95"]["ace"]
        assert f"{v['set']['ace']:.4f} ({lo:.4f} … {hi:.4f})" in dissection, cls
        units = re.sub(r" \(\d\.\d+\)", "", dissection)  # the table shows the first units' single-unit ACE
        assert f"| {cls} | {', '.join(map(str, v['units']))} |" in units, cls
