"""Statistics alone: ganfix's UnitStats (top-k, moments, quantile sample) vs a re-implementation of
GAN Dissection's running statistics (benchmarks/reference_stats.py), on the same activation stream.

Stream: layer4 of a ProGAN 64 with the paper's widths (512-512-512-256-128, random weights), N
samples (default 1024) → [N, 512, 8, 8], batches of 64, computed once and fed to both. Each
contender's time = streaming updates + the read-out a user's command needs: `rank`'s table needs
one level (q99); dissection needs 100 levels. Rounds alternate the contenders; medians reported,
with the load average beside them (shared machine: trust the ratio). Accuracy: relative error of
the tail mass above each estimated quantile, |P(a > q̂) − (1 − q)| / (1 − q), mean over units,
against the exact quantiles of the whole stream.

    python benchmarks/bench_stats.py [--samples 1024] [--rounds 3] [--threads 1]
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from reference_stats import RefRunningQuantile, RefRunningTopK  # noqa: E402

from ganfix.generator import Generator  # noqa: E402
from ganfix.hooks import Trace  # noqa: E402
from ganfix.models import ProGAN  # noqa: E402
from ganfix.stats import UnitStats  # noqa: E402

LEVELS_100 = torch.linspace(0, 1, 100).tolist()


def stream(samples: int, batch: int) -> list[tuple[list[int], torch.Tensor]]:
    torch.manual_seed(0)
    gen = Generator(ProGAN(64, z_dim=512, widths=[512, 512, 512, 256, 128]), (512,), name="progan64-paper")
    out = []
    with torch.no_grad(), Trace(gen.module, ["layer4"]) as tr:
        for lo in range(0, samples, batch):
            ids = list(range(lo, min(lo + batch, samples)))
            out.append((ids, tr.run(gen.latents(ids, 0))["layer4"].clone()))
    return out


def run_ganfix(batches, levels):
    s = UnitStats(batches[0][1].shape[1], k=10, seed=0)
    for ids, a in batches:
        s.add(a, ids)
    t = time.perf_counter()
    q = s.quantile(levels)
    return s, q, time.perf_counter() - t


def run_reference(batches, levels):
    d = batches[0][1].shape[1]
    rq, tk = RefRunningQuantile(d, 2048), RefRunningTopK(d, 10)
    for ids, a in batches:
        rq.add(a.permute(0, 2, 3, 1).reshape(-1, d))
        tk.add(a.amax((2, 3)), torch.tensor(ids))
    t = time.perf_counter()
    q = rq.quantiles(levels)
    return rq, q, time.perf_counter() - t


def tail_error(values_sorted: torch.Tensor, est: torch.Tensor, q: float) -> float:
    """Mean over units of |P(a > q̂) − (1 − q)| / (1 − q)."""
    n = values_sorted.shape[1]
    above = n - torch.searchsorted(values_sorted, est.reshape(-1, 1).contiguous(), right=True).squeeze(1)
    return float(((above.double() / n - (1 - q)).abs() / (1 - q)).mean())


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--samples", type=int, default=1024)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--threads", type=int, default=1)
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    batches = stream(a.samples, 64)
    result = {"samples": a.samples, "threads": a.threads, "rounds": a.rounds, "load_before": os.getloadavg(), "readouts": {}}
    for name, levels in (("table (q99)", [0.99]), ("dissection (100 levels)", LEVELS_100)):
        t_g, t_r, ro_g, ro_r = [], [], [], []
        for _ in range(a.rounds):
            t = time.perf_counter(); _, qg, rg = run_ganfix(batches, levels); t_g.append(time.perf_counter() - t); ro_g.append(rg)
            t = time.perf_counter(); _, qr, rr = run_reference(batches, levels); t_r.append(time.perf_counter() - t); ro_r.append(rr)
        g, r = statistics.median(t_g), statistics.median(t_r)
        result["readouts"][name] = {"ganfix_s": g, "reference_s": r, "speedup": r / g,
                                    "ganfix_readout_s": statistics.median(ro_g), "reference_readout_s": statistics.median(ro_r)}
        print(f"{name}: ganfix {g:.2f} s (read-out {statistics.median(ro_g):.3f} s) vs reference-style "
              f"{r:.2f} s (read-out {statistics.median(ro_r):.3f} s) → {r / g:.2f}× faster", flush=True)
    # accuracy against the exact quantiles of the whole stream
    d = batches[0][1].shape[1]
    allv = torch.cat([x.permute(1, 0, 2, 3).reshape(d, -1) for _, x in batches], 1).sort(dim=1).values
    qs = [0.99, 0.999]
    _, qg, _ = run_ganfix(batches, qs)
    _, qr, _ = run_reference(batches, qs)
    acc = {str(q): {"ganfix": tail_error(allv, qg[:, i], q), "reference": tail_error(allv, qr[:, i], q)} for i, q in enumerate(qs)}
    result["tail_mass_relative_error"] = acc
    for q, v in acc.items():
        print(f"tail-mass relative error at q={q}: ganfix {v['ganfix']:.3f}, reference-style {v['reference']:.3f}")
    result["load_after"] = os.getloadavg()
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
