"""torchrun on CPU (gloo): results identical to one process; a failing rank ends the job."""
import json
import os
import subprocess
import sys
import textwrap

import pytest

from ganfix import distributed

pytestmark = pytest.mark.slow


def _env(tmp_path, **extra):
    return {**os.environ, "PYTHONPATH": os.getcwd() + os.pathsep + os.environ.get("PYTHONPATH", ""),
            "OMP_NUM_THREADS": "1", "GANFIX_CACHE": str(tmp_path / "cache"), **extra}


def _run(args, tmp_path, nproc=1, timeout=300, **extra):
    cache = tmp_path / f"cache{nproc}"  # a cold cache per run: the ranks must compute, not read rank 0's file
    launcher = [sys.executable, "-m", "ganfix"] if nproc == 1 else \
        [sys.executable, "-m", "torch.distributed.run", "--standalone", f"--nproc_per_node={nproc}", "-m", "ganfix"]
    return subprocess.run(launcher + args, capture_output=True, text=True, timeout=timeout,
                          env={**_env(tmp_path, **extra), "GANFIX_CACHE": str(cache)})


def _assert_same(a, b, path=""):
    if isinstance(a, dict):
        assert a.keys() == b.keys(), path
        for k in a:
            _assert_same(a[k], b[k], f"{path}.{k}")
    elif isinstance(a, list):
        assert len(a) == len(b), path
        for i, (x, y) in enumerate(zip(a, b)):
            _assert_same(x, y, f"{path}[{i}]")
    elif isinstance(a, float):
        assert abs(a - b) <= 1e-6 * max(1.0, abs(a)), (path, a, b)
    else:
        assert a == b, (path, a, b)


def test_shards_cover_ids_once(monkeypatch):
    for world in (1, 2, 3, 7):
        blocks = []
        for r in range(world):
            monkeypatch.setattr(distributed, "rank", lambda r=r: r)
            monkeypatch.setattr(distributed, "world_size", lambda w=world: w)
            blocks.append(distributed.shard(10, start=5))
        assert [i for b in blocks for i in b] == list(range(5, 15))


@pytest.mark.parametrize("nproc", [2, 3])
def test_rank_json_identical_under_torchrun(tmp_path, nproc):
    args = ["rank", "toyscenes", "--layer", "layer4", "--samples", "97", "--batch-size", "16", "--json"]
    one = _run(args, tmp_path, 1)
    many = _run(args, tmp_path, nproc)
    assert one.returncode == 0, one.stderr[-2000:]
    assert many.returncode == 0, many.stderr[-2000:]
    _assert_same(json.loads(one.stdout), json.loads(many.stdout))  # top-k ids, order: exact; moments ≤ 1e-6


@pytest.mark.parametrize("args", [
    ["score", "toyscenes", "--features", "toyscenes", "--samples", "60", "--json"],
    ["dissect", "toyscenes", "--layer", "layer4", "--samples", "40", "--json"],
    ["rank", "toyscenes", "--layer", "layer4", "--by", "ablation", "--units", "0,1,2", "--scan-samples", "40",
     "--features", "toyscenes", "--json"],
], ids=["score", "dissect", "rank-ablation"])
def test_scoring_and_dissection_identical_under_torchrun(tmp_path, args):
    one = _run(args, tmp_path, 1)
    two = _run(args, tmp_path, 2)
    assert one.returncode == 0, one.stderr[-2000:]
    assert two.returncode == 0, two.stderr[-2000:]
    _assert_same(json.loads(one.stdout), json.loads(two.stdout))  # counts/ids exact; distances ≤ 1e-6 relative


def test_only_rank_zero_writes(tmp_path):
    out = tmp_path / "out"
    res = _run(["rank", "toyscenes", "--layer", "layer4", "--samples", "30", "--json", "--out", str(out)], tmp_path, 2)
    assert res.returncode == 0, res.stderr[-2000:]
    assert json.loads(res.stdout)["layer"] == "layer4"  # one JSON document: rank 1 printed nothing
    assert sorted(p.name for p in out.iterdir()) == ["ranking.json", "unit_stats.pt"]
    assert not [p for p in tmp_path.rglob("*.tmp")]


def test_failing_rank_ends_the_job(tmp_path):
    gen = tmp_path / "flaky.py"
    gen.write_text(textwrap.dedent("""
        import os, torch
        from torch import nn
        class G(nn.Module):
            def __init__(self):
                super().__init__()
                self.fc = nn.Linear(4, 3 * 16 * 16)
                self.z_dim = 4
            def forward(self, z):
                if os.environ.get("RANK") == "1":
                    raise RuntimeError("boom on rank 1")
                return self.fc(z).view(-1, 3, 16, 16)
        def factory():
            return G()
    """))
    res = _run(["rank", f"{gen}:factory", "--z-shape", "4", "--layer", "fc", "--samples", "20"], tmp_path, 2, timeout=240,
               GANFIX_DIST_TIMEOUT="60")
    assert res.returncode != 0
    assert "boom on rank 1" in res.stderr
