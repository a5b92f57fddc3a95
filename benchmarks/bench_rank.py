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
from ganfix.stats import UnitStats
from ganfix.stats.tally import tally_unit_stats


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
    id_batches = [ids[i:i + batch] for i in range(0, samples, batch)]
    z_batches = [gen.latents(b, 0) for b in id_batches]

    # Paired, interleaved per batch: the bare truncated forward (latents precomputed: the strict
    # floor) and rank's step (latents from ids + truncated forward + every statistic). Pairing
    # batch by batch cancels the drift of a shared, noisy machine.
    units = gen.layer(layer).units  # probe the layers before any hook is attached
    t_trunc, t_rank = [], []
    with torch.no_grad(), Trace(gen.module, [layer]) as tr:
        for rnd in range(rounds + 1):
            stats = UnitStats(units, k=10, seed=0)
            for b_ids, z in zip(id_batches, z_batches):
                a = time_it(lambda: tr.run(z))
                b = time_it(lambda: stats.add(tr.run(gen.latents(b_ids, 0))[layer], b_ids))
                if rnd:  # round 0 warms up
                    t_trunc.append(a)
                    t_rank.append(b)
    paired = sum(t_trunc) / sum(t_rank)
    per_batch = statistics.median(x / y for x, y in zip(t_trunc, t_rank))

    # End to end through the public API, against the bare passes, alternated.
    @torch.no_grad()
    def truncated():
        with Trace(gen.module, [layer]) as t:
            for z in z_batches:
                t.run(z)

    @torch.no_grad()
    def full():
        for z in z_batches[: max(1, full_samples // batch)]:
            gen.module(z)

    def rank():
        tally_unit_stats(gen, layer, samples, seed=0, batch_size=batch, use_cache=False)

    gen.fingerprint  # hashed once per model (cache key), not per pass: keep it out of the throughput
    e_trunc, e_rank, e_full = [], [], []
    for _ in range(rounds):
        e_trunc.append(time_it(truncated))
        e_rank.append(time_it(rank))
        e_full.append(time_it(full) * samples / (max(1, full_samples // batch) * batch))
    tr_s, rk_s, fu_s = (statistics.median(x) for x in (e_trunc, e_rank, e_full))
    return {"generator": gen.name, "layer": layer, "samples": samples, "batch": batch, "rounds": rounds,
            "paired_rank_over_truncated_throughput": paired, "paired_median_batch_ratio": per_batch,
            "e2e_truncated_s": tr_s, "e2e_rank_s": rk_s, "e2e_full_s_scaled": fu_s,
            "e2e_rank_over_truncated_throughput": tr_s / rk_s, "rank_over_full_throughput": fu_s / rk_s,
            "full_over_truncated_throughput": tr_s / fu_s}


CHILD = r"""
import json, sys, torch
from ganfix.generator import Generator
from ganfix.models import ProGAN
from ganfix.stats.tally import tally_unit_stats
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
    samples, full_samples, rounds = (512, 64, 1) if args.quick else (2048, 128, 2)
    r1 = p1(samples, full_samples, 64, rounds, args.layer)
    print(f"P1 {r1['generator']} {r1['layer']}: rank/truncated throughput = {r1['paired_rank_over_truncated_throughput']:.3f} "
          f"paired per batch (target ≥ 0.80; median batch {r1['paired_median_batch_ratio']:.3f}); end to end "
          f"{r1['e2e_rank_over_truncated_throughput']:.3f}; rank/full = {r1['rank_over_full_throughput']:.1f}×; "
          f"full/truncated = {r1['full_over_truncated_throughput']:.3f}  [{r1['samples']} samples, {rounds} rounds]")
    r3 = p3(2000, 20000)
    print(f"P3 peak RSS N=20000 / N=2000 = {r3['rss_ratio_large_over_small']:.3f} (target ≤ 1.15) "
          f"[{r3['small']['maxrss_kb'] / 1024:.0f} MiB vs {r3['large']['maxrss_kb'] / 1024:.0f} MiB]")
    print(json.dumps({"P1": r1, "P3": r3}, indent=2))


if __name__ == "__main__":
    main()
