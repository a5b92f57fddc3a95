"""Benchmark `rank` (the streaming statistics pass) against the passes any tool must pay.

Generator: ProGAN 64×64 with the paper's widths 512-512-512-256-128 (z = 512), random weights,
ranked layer `layer4` (512 units, 8×8), batches of 64.

P1: throughput of tally_unit_stats (what `ganfix rank` runs) ÷ throughput of a bare forward pass
    truncated after the ranked layer, on the same batches (target ≥ 0.80).
P2: rank ÷ the reference statistics pass: what GAN Dissection's pass runs — the *full* forward pass,
    a streaming quantile sketch and a running top-k (re-implemented in benchmarks/reference_stats.py),
    then the q99 read-out the table needs. The full forward is run on `--ref-samples` samples and its
    time scaled to N (it costs ~15× the truncated pass per sample).
P3: peak RSS of a rank pass with N = 20 000 ÷ with N = 2 000 (target ≤ 1.15), each in a fresh
    subprocess so the peaks do not mix.
CLI (`--cli`): whole processes, start-up and imports included: `ganfix rank CKPT --layer layer4 -n N
    --no-cache` ÷ a bare python process that imports torch, loads the same checkpoint and runs the
    truncated forward on N latents (target ≥ 0.80 at N = 1024); both at the same thread count.

Timings alternate the contenders over several rounds and report medians, with the load average
beside them: this machine is shared and noisy, so only ratios measured side by side mean anything.

    python benchmarks/bench_rank.py              # P1, P2, P3 in-process, then the CLI mode
    python benchmarks/bench_rank.py --quick      # fewer samples
    python benchmarks/bench_rank.py --only cli   # one part: p1, p2, p3 or cli
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

sys.path.insert(0, str(Path(__file__).resolve().parent))
from reference_stats import RefRunningQuantile, RefRunningTopK  # noqa: E402

from ganfix.generator import Generator  # noqa: E402
from ganfix.hooks import Trace  # noqa: E402
from ganfix.models import ProGAN  # noqa: E402
from ganfix.stats import UnitStats  # noqa: E402
from ganfix.stats.tally import tally_unit_stats  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
PAPER_WIDTHS = [512, 512, 512, 256, 128]


def load() -> str:
    return "load {:.1f} {:.1f} {:.1f}".format(*os.getloadavg())


def paper_progan64() -> Generator:
    torch.manual_seed(0)
    return Generator(ProGAN(64, z_dim=512, widths=PAPER_WIDTHS), (512,), name="progan64-paper-widths")


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


@torch.no_grad()
def reference_pass(gen: Generator, layer: str, id_batches: list[list[int]]) -> float:
    """GAN Dissection's statistics pass, re-implemented: full forward with a hook on the layer, the
    streaming quantile sketch over every (sample, position) row, the running top-k of spatial maxima,
    then the q99 read-out. Returns seconds."""
    units = gen.layer(layer).units
    rq, tk = RefRunningQuantile(units, 2048), RefRunningTopK(units, 10)
    seen = {}
    handle = dict(gen.module.named_modules())[layer].register_forward_hook(lambda m, i, o: seen.__setitem__("a", o))
    t = time.perf_counter()
    try:
        for b_ids in id_batches:
            gen.module(gen.latents(b_ids, 0))
            a = seen["a"]
            rq.add(a.permute(0, 2, 3, 1).reshape(-1, units))
            tk.add(a.amax((2, 3)), torch.tensor(b_ids))
        rq.quantiles([0.99])
        tk.result()
    finally:
        handle.remove()
    return time.perf_counter() - t


def p2(samples: int, ref_samples: int, batch: int, rounds: int, layer: str) -> dict:
    """rank (tally_unit_stats + the q99 read-out) over N vs the reference pass over ref_samples, scaled to N."""
    gen = paper_progan64()
    gen.fingerprint, gen.layers  # hashed and probed once per model, outside both timings
    ref_batches = [list(range(i, min(i + batch, ref_samples))) for i in range(0, ref_samples, batch)]
    t_rank, t_ref = [], []
    for _ in range(rounds):
        t = time.perf_counter()
        stats = tally_unit_stats(gen, layer, samples, seed=0, batch_size=batch, use_cache=False)
        stats.quantile([0.99])
        t_rank.append(time.perf_counter() - t)
        t_ref.append(reference_pass(gen, layer, ref_batches) * samples / ref_samples)
    rk, rf = statistics.median(t_rank), statistics.median(t_ref)
    return {"samples": samples, "ref_samples": ref_samples, "rounds": rounds, "rank_s": rk, "reference_s_scaled": rf,
            "rank_speedup_over_reference": rf / rk}


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


TRUNCATED_CHILD = r"""
import importlib.util, sys, time, torch
t0 = time.perf_counter()
progan_py, ckpt, layer, n, batch, threads = sys.argv[1], sys.argv[2], sys.argv[3], *map(int, sys.argv[4:7])
torch.set_num_threads(threads)
spec = importlib.util.spec_from_file_location("progan_standalone", progan_py)  # the model code alone, not ganfix
mod = importlib.util.module_from_spec(spec); spec.loader.exec_module(mod)
net = mod.progan_from_state_dict(torch.load(ckpt, weights_only=True, map_location="cpu")).eval()
blocks = []
for name, block in net.named_children():
    blocks.append(block)
    if name == layer:
        break
g = torch.Generator().manual_seed(0)
with torch.no_grad():
    for lo in range(0, n, batch):
        x = torch.randn(min(batch, n - lo), net.z_dim, generator=g)
        x = x.reshape(x.shape[0], -1, 1, 1)
        for b in blocks:
            x = b(x)
print(x.shape[1])
"""


def cli_mode(samples: int, batch: int, rounds: int, layer: str, threads: int, before: str | None = None) -> dict:
    """Whole processes: `ganfix rank` vs a bare truncated forward, alternated, medians. With `before` (the
    source tree of an older ganfix), its `ganfix rank` runs alternated too."""
    gen = paper_progan64()
    env = {**os.environ, "OMP_NUM_THREADS": str(threads)}
    t_rank, t_trunc, t_before = [], [], []
    with tempfile.TemporaryDirectory() as tmp:
        ckpt = Path(tmp) / "progan64_paper.pt"
        torch.save(gen.module.state_dict(), ckpt)
        del gen
        rank_cmd = [sys.executable, "-m", "ganfix", "rank", str(ckpt), "--layer", layer, "-n", str(samples),
                    "-b", str(batch), "--no-cache", "--json", "--threads", str(threads)]
        trunc_cmd = [sys.executable, "-c", TRUNCATED_CHILD, str(REPO / "ganfix" / "models" / "progan.py"), str(ckpt),
                     layer, str(samples), str(batch), str(threads)]
        contenders = [(trunc_cmd, t_trunc, REPO), (rank_cmd, t_rank, REPO)]
        if before:
            contenders.append((rank_cmd, t_before, Path(before).resolve()))
        for r in range(rounds + 1):  # round 0 warms the OS file cache
            for cmd, out, tree in contenders:
                t = time.perf_counter()
                res = subprocess.run(cmd, env={**env, "PYTHONPATH": str(tree), "GANFIX_CACHE": str(Path(tmp) / "cache")},
                                     capture_output=True, text=True, cwd=tree)
                took = time.perf_counter() - t
                if res.returncode:
                    raise SystemExit(f"{' '.join(cmd[:4])} … failed:\n{res.stderr[-2000:]}")
                if r:
                    out.append(took)
            if r:
                print(f"  round {r}: truncated forward process {t_trunc[-1]:.1f}s, ganfix rank process {t_rank[-1]:.1f}s"
                      + (f", before: {t_before[-1]:.1f}s" if before else "") + f" ({load()})", flush=True)
    tr, rk = statistics.median(t_trunc), statistics.median(t_rank)
    out = {"samples": samples, "threads": threads, "rounds": rounds, "truncated_process_s": tr, "rank_process_s": rk,
           "rank_over_truncated_throughput": tr / rk}
    if before:
        out.update(before_rank_process_s=statistics.median(t_before),
                   before_rank_over_truncated_throughput=tr / statistics.median(t_before))
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--layer", default="layer4")
    ap.add_argument("--samples", type=int, help="N for P1, P2 and the CLI mode (default 1024; 512 with --quick)")
    ap.add_argument("--ref-samples", type=int, help="samples of the reference pass, scaled to N (default 128; 64 quick)")
    ap.add_argument("--rounds", type=int, help="default 2 (1 with --quick)")
    ap.add_argument("--threads", type=int, default=1, help="torch threads in every contender (default 1)")
    ap.add_argument("--only", choices=["p1", "p2", "p3", "cli"], action="append")
    ap.add_argument("--before", help="CLI mode: source tree of an older ganfix whose `ganfix rank` runs alternated")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    samples = args.samples or (512 if args.quick else 1024)
    ref_samples = args.ref_samples or (64 if args.quick else 128)
    rounds = args.rounds or (1 if args.quick else 2)
    parts = set(args.only or ["p1", "p2", "p3", "cli"])
    print(f"bench_rank: ProGAN 64 widths {PAPER_WIDTHS}, {args.layer}, N={samples}, {rounds} round(s), "
          f"{args.threads} thread(s), {load()}", flush=True)
    out = {}
    if "p1" in parts:
        r1 = out["P1"] = p1(samples, ref_samples, 64, rounds, args.layer)
        print(f"P1 rank/truncated throughput = {r1['paired_rank_over_truncated_throughput']:.3f} paired per batch "
              f"(target ≥ 0.80; median batch {r1['paired_median_batch_ratio']:.3f}); end to end "
              f"{r1['e2e_rank_over_truncated_throughput']:.3f}; rank/full forward = {r1['rank_over_full_throughput']:.1f}×; "
              f"full/truncated = {r1['full_over_truncated_throughput']:.3f}  ({load()})", flush=True)
    if "p2" in parts:
        r2 = out["P2"] = p2(samples, ref_samples, 64, rounds, args.layer)
        print(f"P2 rank ÷ reference statistics pass (full forward + streaming quantiles + top-k, {ref_samples} samples "
              f"scaled to {samples}) = {r2['rank_speedup_over_reference']:.1f}× faster (target ≥ 20×)  ({load()})", flush=True)
    if "p3" in parts:
        r3 = out["P3"] = p3(2000, 20000)
        print(f"P3 peak RSS N=20000 / N=2000 = {r3['rss_ratio_large_over_small']:.3f} (target ≤ 1.15) "
              f"[{r3['small']['maxrss_kb'] / 1024:.0f} MiB vs {r3['large']['maxrss_kb'] / 1024:.0f} MiB]  ({load()})",
              flush=True)
    if "cli" in parts:
        rc = out["CLI"] = cli_mode(samples, 64, rounds, args.layer, args.threads, args.before)
        print(f"CLI whole process: ganfix rank ÷ truncated forward throughput = {rc['rank_over_truncated_throughput']:.3f} "
              + (f"(before: {rc['before_rank_over_truncated_throughput']:.3f}) " if args.before else "")
              + f"(target ≥ 0.80; {samples} samples, {args.threads} thread(s))  ({load()})", flush=True)
    print(json.dumps(out, indent=2))


if __name__ == "__main__":
    main()
