"""Second run with the same real set vs the first: the effect of ganfix's feature caches.

Three `score_generator` runs side by side, each in a fresh cache directory where stated:
  cold:     empty cache (real features and generated features computed);
  same:     the same generator again (real + generated features cached) — target ≤ 0.35× cold;
  new ckpt: another generator (perturbed weights) against the same real set — only the real-set
            features come from the cache: the CI case of a new checkpoint each run.
Rounds alternate and medians are reported; this machine is shared and noisy.

    python benchmarks/bench_real_cache.py [--samples 1000] [--rounds 2]
"""
from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time

import torch

from ganfix.generator import load_generator, Generator
from ganfix.real_data import RealSource
from ganfix.scoring import score_generator


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--samples", type=int, default=1000)
    ap.add_argument("--rounds", type=int, default=2)
    ap.add_argument("--gen", default="toyscenes")
    args = ap.parse_args()
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
    print(f"cold {c:.1f}s · same run again {s:.1f}s · new checkpoint, same real set {n:.1f}s "
          f"[{args.samples} samples, median of {args.rounds}]")
    print(f"second run ÷ first run (same generator, same real set) = {s / c:.3f}   (target ≤ 0.35)")
    print(f"new checkpoint ÷ first run (real-set features from cache only) = {n / c:.3f}")


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
