"""Second run with the same real set vs the first: the effect of ganfix's caches.

In-process (default): three `score_generator` runs side by side, each in a fresh cache directory where stated:
  cold:     empty cache (real features, generated features and the metrics computed);
  same:     the same generator again (a lookup of the cached result) — target ≤ 0.35× cold;
  new ckpt: another generator (perturbed weights) against the same real set — only the real-set
            features come from the cache: the CI case of a new checkpoint each run.

Whole process (`--cli`): the same three as `ganfix score … --json` subprocesses, start-up and imports
included (what a user waits for). With `--before TREE` (a source tree of an older ganfix, e.g. a
`git worktree add /tmp/before <commit>`), the older code's processes run alternated with these, each with
its own fresh cache, so before and after are measured side by side under the same load.

Rounds alternate and medians are reported, with the load average beside them; this machine is shared
and noisy: trust the ratios, not the seconds.

    python benchmarks/bench_real_cache.py [--samples 1000] [--rounds 2]
    python benchmarks/bench_real_cache.py --cli --samples 500 --rounds 1 [--before /tmp/before]
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import torch

REPO = Path(__file__).resolve().parents[1]


def load() -> str:
    return "load {:.1f} {:.1f} {:.1f}".format(*os.getloadavg())


def in_process(args) -> dict:
    from ganfix.generator import Generator, load_generator
    from ganfix.real_data import RealSource
    from ganfix.scoring import score_generator

    gen = load_generator(args.gen)
    real = RealSource.from_spec("world", seed=1, resolution=64)
    cold, same, new = [], [], []
    for r in range(args.rounds):
        with tempfile.TemporaryDirectory() as cache:
            os.environ["GANFIX_CACHE"] = cache
            t = time.perf_counter(); a = score_generator(gen, real, "toyscenes", args.samples, seed=r); cold.append(time.perf_counter() - t)
            t = time.perf_counter(); b = score_generator(gen, real, "toyscenes", args.samples, seed=r); same.append(time.perf_counter() - t)
            assert a["fid"] == b["fid"], "a cached run must give the same numbers"
            other = Generator(_perturbed(gen.module, r), gen.z_shape, gen.output_range, name="perturbed")
            t = time.perf_counter(); score_generator(other, real, "toyscenes", args.samples, seed=r); new.append(time.perf_counter() - t)
    c, s, n = (statistics.median(x) for x in (cold, same, new))
    print(f"in-process: cold {c:.1f}s · same run again {s:.1f}s · new checkpoint, same real set {n:.1f}s "
          f"[{args.samples} samples, median of {args.rounds}; {load()}]")
    print(f"  second run ÷ first run (same generator, same real set) = {s / c:.3f}   (target ≤ 0.35)")
    print(f"  new checkpoint ÷ first run (real-set features from cache only) = {n / c:.3f}")
    return {"cold_s": c, "same_s": s, "new_s": n, "same_over_cold": s / c, "new_over_cold": n / c}


def _cli(tree: Path, cache: str, spec: str, samples: int, extra: list[str]) -> tuple[float, float]:
    env = {**os.environ, "GANFIX_CACHE": cache, "PYTHONPATH": str(tree), "OMP_NUM_THREADS": os.environ.get("OMP_NUM_THREADS", "1")}
    cmd = [sys.executable, "-m", "ganfix", "score", spec, "-n", str(samples), "--json", *extra]
    t = time.perf_counter()
    res = subprocess.run(cmd, env=env, capture_output=True, text=True, cwd=tree)
    took = time.perf_counter() - t
    if res.returncode:
        raise SystemExit(f"{' '.join(cmd)} (PYTHONPATH={tree}) failed:\n{res.stderr[-2000:]}")
    return took, json.loads(res.stdout)["fid"]


def whole_process(args) -> dict:
    trees = {"after": REPO}
    if args.before:
        trees = {"before": Path(args.before).resolve(), **trees}
    from ganfix.generator import load_generator

    gen = load_generator(args.gen)
    times = {name: {"cold": [], "same": [], "new": []} for name in trees}
    with tempfile.TemporaryDirectory() as tmp:
        for r in range(args.rounds):
            ckpt = Path(tmp) / f"perturbed{r}.pt"
            torch.save(_perturbed(gen.module, r).state_dict(), ckpt)
            for name, tree in trees.items():  # alternated: before, after, before, after …
                cache = tempfile.mkdtemp(dir=tmp)
                extra = ["--seed", str(r)]
                c, fa = _cli(tree, cache, args.gen, args.samples, extra)
                s, fb = _cli(tree, cache, args.gen, args.samples, extra)
                assert fa == fb, "a cached run must give the same numbers"
                n, _ = _cli(tree, cache, str(ckpt), args.samples, extra + ["--real", "world", "--features", "toyscenes"])
                for k, v in zip(("cold", "same", "new"), (c, s, n)):
                    times[name][k].append(v)
                print(f"  round {r} {name}: cold {c:.1f}s, same {s:.1f}s, new checkpoint {n:.1f}s ({load()})", flush=True)
    out = {}
    for name, t in times.items():
        c, s, n = (statistics.median(t[k]) for k in ("cold", "same", "new"))
        out[name] = {"cold_s": c, "same_s": s, "new_s": n, "same_over_cold": s / c, "new_over_cold": n / c}
        print(f"whole process, {name}: second `ganfix score` ÷ first = {s / c:.3f} (target ≤ 0.35); "
              f"new checkpoint ÷ first = {n / c:.3f}  [{args.samples} samples, median of {args.rounds}]")
    print(f"({load()})")
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--samples", type=int, default=1000)
    ap.add_argument("--rounds", type=int, default=2)
    ap.add_argument("--gen", default="toyscenes")
    ap.add_argument("--cli", action="store_true", help="whole `ganfix score` processes instead of in-process calls")
    ap.add_argument("--before", help="with --cli: source tree of an older ganfix, measured alternated with this one")
    args = ap.parse_args()
    print(f"bench_real_cache: {args.gen}, {args.samples} samples, {args.rounds} round(s), "
          f"OMP_NUM_THREADS={os.environ.get('OMP_NUM_THREADS')}, {load()}")
    result = whole_process(args) if args.cli else in_process(args)
    print(json.dumps(result))


def _perturbed(module, seed):
    import copy

    m = copy.deepcopy(module)
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for p in m.parameters():
            p.add_(torch.randn(p.shape, generator=g) * 0.01 * p.std().clamp_min(1e-3))
    return m


if __name__ == "__main__":
    main()
