"""Throughput of `rank` and of the ablation scan with 1 vs N processes under torchrun, side by side.

Whole processes (start-up included) on the embedded toyscenes generator, alternated over rounds;
each process gets `--threads-per-process` torch threads (OMP_NUM_THREADS and --threads), so that
N processes × threads never exceed the CPUs given with --cpus. Prints the median time of each
contender and the speed-up ratio, with the machine's load average beside it (shared machine).

    python benchmarks/bench_distributed.py                  # 2 processes, 1 thread each, 2 rounds
    python benchmarks/bench_distributed.py --nproc 4 --threads-per-process 4   # e.g. a 16-core GPU host
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

ROOT = Path(__file__).resolve().parents[1]


def run(args: list[str], nproc: int, threads: int) -> float:
    with tempfile.TemporaryDirectory() as cache:  # cold cache: every run computes
        env = {**os.environ, "OMP_NUM_THREADS": str(threads), "GANFIX_CACHE": cache,
               "PYTHONPATH": str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", "")}
        launcher = [sys.executable, "-m", "ganfix"] if nproc == 1 else \
            [sys.executable, "-m", "torch.distributed.run", "--standalone", f"--nproc_per_node={nproc}", "-m", "ganfix"]
        t = time.perf_counter()
        res = subprocess.run(launcher + args + ["--threads", str(threads)], env=env, capture_output=True, text=True)
        elapsed = time.perf_counter() - t
        if res.returncode != 0:
            raise SystemExit(f"failed ({nproc} proc): {' '.join(args)}\n{res.stderr[-2000:]}")
        return elapsed


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--nproc", type=int, default=2)
    ap.add_argument("--threads-per-process", type=int, default=1)
    ap.add_argument("--rounds", type=int, default=2)
    ap.add_argument("--samples", type=int, default=4000, help="rank: samples in the statistics pass")
    ap.add_argument("--scan-units", type=int, default=8, help="ablation scan: units scanned")
    ap.add_argument("--scan-samples", type=int, default=300)
    a = ap.parse_args()
    jobs = {
        "rank (statistics pass)": ["rank", "toyscenes", "--layer", "layer4", "--samples", str(a.samples), "--json"],
        "rank --by ablation (scan)": ["rank", "toyscenes", "--layer", "layer4", "--by", "ablation", "--features", "toyscenes",
                                      "--units", ",".join(map(str, range(a.scan_units))), "--scan-samples", str(a.scan_samples), "--json"],
    }
    out = {"nproc": a.nproc, "threads_per_process": a.threads_per_process, "rounds": a.rounds,
           "load_before": os.getloadavg(), "results": {}}
    for name, args in jobs.items():
        times = {1: [], a.nproc: []}
        for _ in range(a.rounds):  # alternate the contenders so load drifts hit both
            for n in (1, a.nproc):
                times[n].append(run(args, n, a.threads_per_process))
        one, many = statistics.median(times[1]), statistics.median(times[a.nproc])
        out["results"][name] = {"1_process_s": one, f"{a.nproc}_processes_s": many, "speedup": one / many}
        print(f"{name}: 1 process {one:.1f} s, {a.nproc} processes {many:.1f} s → speed-up {one / many:.2f}× "
              f"({a.threads_per_process} thread(s) per process)", flush=True)
    out["load_after"] = os.getloadavg()
    print(json.dumps(out, indent=2))


if __name__ == "__main__":
    main()
