"""Benchmark `rank` (the streaming statistics pass) against the passes any tool must pay.

P1: throughput of tally_unit_stats (what `ganfix rank` runs) ÷ throughput of a bare forward pass
    truncated after the ranked layer, on the same batches (target ≥ 0.80); and ÷ a full forward
    pass, for reference (GAN Dissection's statistics pass runs the whole generator).
P3: peak RSS of a rank pass with N = 20 000 ÷ with N = 2 000 (target ≤ 1.15), each in a fresh
    subprocess so the peaks do not mix.

Timings alternate the contenders over several rounds and report medians: this machine is shared
and noisy, so only ratios measured side by side mean anything.

    python benchmarks/bench_rank.py            # full
    python benchmarks/bench_rank.py --quick    # fewer samples
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

import torch

from ganfix.generator import Generator
from ganfix.hooks import Trace
from ganfix.models import ProGAN
from ganfix.tally import tally_unit_stats


def paper_progan64() -> Generator:
    torch.manual_seed(0)
    return Generator(ProGAN(64, z_dim=512), (512,), name="progan64-paper-widths")


def time_it(fn) -> float:
    t = time.perf_counter()
    fn()
    return time.perf_counter() - t


def p1(samples: int, full_samples: int, batch: int, rounds: int, layer: str) -> dict:
    gen = paper_progan64()
    ids = list(range(samples))
    batches = [gen.latents(ids[i:i + batch], 0) for i in range(0, samples, batch)]

    @torch.no_grad()
    def truncated():
        with Trace(gen.module, [layer]) as tr:
            for z in batches:
                tr.run(z)

    @torch.no_grad()
    def full():
        for z in batches[: max(1, full_samples // batch)]:
            gen.module(z)

    def rank():  # includes latent generation from ids, the hook, all statistics
        tally_unit_stats(gen, layer, samples, seed=0, batch_size=batch, use_cache=False)

    truncated(); rank()  # warm up
    t_trunc, t_rank, t_full = [], [], []
    for _ in range(rounds):
        t_trunc.append(time_it(truncated))
        t_rank.append(time_it(rank))
        t_full.append(time_it(full) * samples / (max(1, full_samples // batch) * batch))
    tr, rk, fu = (statistics.median(x) for x in (t_trunc, t_rank, t_full))
    return {"generator": gen.name, "layer": layer, "samples": samples, "batch": batch, "rounds": rounds,
            "truncated_s": tr, "rank_s": rk, "full_s_scaled": fu,
            "rank_over_truncated_throughput": tr / rk, "rank_over_full_throughput": fu / rk,
            "full_over_truncated_throughput": tr / fu}


CHILD = r"""
import json, sys, torch
from ganfix.generator import Generator
from ganfix.models import ProGAN
from ganfix.tally import tally_unit_stats
torch.manual_seed(0)
gen = Generator(ProGAN(64, z_dim=128, widths=[128, 128, 128, 64, 32]), (128,), name="progan64-small")
n = int(sys.argv[1])
stats = tally_unit_stats(gen, "layer4", n, seed=0, batch_size=64, use_cache=False)
# VmHWM is this process's own peak; ru_maxrss would include the parent's peak inherited across exec.
hwm = next(int(l.split()[1]) for l in open("/proc/self/status") if l.startswith("VmHWM:"))
print(json.dumps({"n": n, "maxrss_kb": hwm,
                  "kept_positions": stats.sample.size, "rank_error_bound": stats.sample.rank_error_bound()}))
"""


def p3(small: int, large: int) -> dict:
    out = {}
    env = dict(os.environ, OMP_NUM_THREADS=os.environ.get("OMP_NUM_THREADS", "2"))
    for n in (small, large):
        res = subprocess.run([sys.executable, "-c", CHILD, str(n)], capture_output=True, text=True, env=env, check=True)
        out[n] = json.loads(res.stdout.strip().splitlines()[-1])
    return {"small": out[small], "large": out[large],
            "rss_ratio_large_over_small": out[large]["maxrss_kb"] / out[small]["maxrss_kb"]}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--layer", default="layer4")
    args = ap.parse_args()
    samples, full_samples, rounds = (256, 64, 2) if args.quick else (1024, 128, 3)
    r1 = p1(samples, full_samples, 64, rounds, args.layer)
    print(f"P1 {r1['generator']} {r1['layer']}: rank/truncated throughput = {r1['rank_over_truncated_throughput']:.3f} "
          f"(target ≥ 0.80); rank/full = {r1['rank_over_full_throughput']:.1f}×; full/truncated = "
          f"{r1['full_over_truncated_throughput']:.3f}  [{r1['samples']} samples, median of {rounds}]")
    r3 = p3(2000, 20000)
    print(f"P3 peak RSS N=20000 / N=2000 = {r3['rss_ratio_large_over_small']:.3f} (target ≤ 1.15) "
          f"[{r3['small']['maxrss_kb'] / 1024:.0f} MiB vs {r3['large']['maxrss_kb'] / 1024:.0f} MiB]")
    print(json.dumps({"P1": r1, "P3": r3}, indent=2))


if __name__ == "__main__":
    main()
