"""Benchmark the dissection IoU/IQR pass: batched streaming counts vs a per-image (batch 1) loop.

Both contenders run the same generator, segmenter, layer, thresholds and samples, including the
forward pass and segmentation, and must produce the same integer counts (checked). The loop is a
fair per-image implementation (what the reference's batch-size-1 pass amounts to): for each image,
for each unit, compare the upsampled map with all L thresholds at once and count intersections with
each class by a matmul. Counts agree exactly when the forward pass is batch-invariant (tests check
this); with conv layers a few pixels at a threshold may flip from float rounding (reported). Timings alternate the contenders over rounds and report medians (the
machine is shared and noisy; only the side-by-side ratio means anything). Target: ratio ≥ 5×.

    python benchmarks/bench_dissect.py                      # toyscenes when built in, else a random ProGAN 64
    python benchmarks/bench_dissect.py --quick --layer layer4
    python benchmarks/bench_dissect.py --gen runs/toygan/generator_ema.pt --segmenter toyscenes
    python benchmarks/bench_dissect.py --cli --samples 64 --rounds 1   # whole processes (see below)

`--cli` times whole processes, start-up and imports included, alternated: `ganfix dissect GEN --layer L
-n N --no-cache --threads T` (thresholds pass + counting pass + report) vs a fresh python process that
loads the same generator and segmenter, computes the same thresholds (ganfix's quantile pass: the
reference's own sketch is slower, benchmarks/bench_stats.py) and runs the per-image counting loop, at
the same thread count.
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
import torch.nn.functional as F

from ganfix.dissection import IoUStat, dissect_counts, layer_thresholds
from ganfix.dissection.upsample import upsample_units
from ganfix.generator import Generator, load_generator
from ganfix.hooks import Trace
from ganfix.segmenters import checked_segment


def contenders(args):
    from ganfix.registry import builtin_generators, builtin_segmenters

    from ganfix.segmenters import load_segmenter

    if args.gen:
        return load_generator(args.gen, device="cpu"), load_segmenter(args.segmenter)
    if not args.synthetic and "toyscenes" in builtin_generators() and "toyscenes" in builtin_segmenters():
        return load_generator("toyscenes", device="cpu"), load_segmenter("toyscenes")
    from ganfix.dissection.synthetic import BlobSegmenter
    from ganfix.models import ProGAN

    torch.manual_seed(0)
    return Generator(ProGAN(64, z_dim=128, widths=[256, 256, 128, 64, 32]), (128,), name="progan64-random"), BlobSegmenter()


@torch.no_grad()
def per_image_loop(gen, seg, layer, thr, samples, seed) -> IoUStat:
    n_cls = len(seg.class_names)
    out = IoUStat(thr, n_cls)
    d, L = thr.shape
    with Trace(gen.module, [layer], stop=False) as tr:
        for i in range(samples):
            acts = tr.run(gen.latents([i], seed))[layer]
            labels = checked_segment(seg, gen.to_signed(tr.output))[0]
            up = upsample_units(acts, tuple(labels.shape))[:, 0].reshape(d, -1)  # the method's bilinear upsampling
            onehot = F.one_hot(labels.reshape(-1), n_cls).float()  # [P, C]
            for u in range(d):
                masks = (up[u][None, :] > thr[u][:, None]).float()  # [L, P]
                inter = (masks @ onehot).round().long()           # exact: counts < 2^24
                out.inter[u] += inter
                out.unit_on[u] += inter.sum(1)
            out.class_px += torch.bincount(labels.reshape(-1), minlength=n_cls)
            out.pixels += labels.numel()
            out.samples += 1
    return out


def per_image_process(args) -> None:
    """--role per-image: the reference side of --cli, in its own process."""
    gen, seg = contenders(args)
    thr, _ = layer_thresholds(gen, args.layer, args.samples, 0, args.batch_size, 100, use_cache=False)
    out = per_image_loop(gen, seg, args.layer, thr, args.samples, 0)
    print(json.dumps({"counts_total": int(out.inter.sum())}))


def cli_mode(args) -> dict:
    repo = Path(__file__).resolve().parents[1]
    env = {**os.environ, "PYTHONPATH": str(repo), "OMP_NUM_THREADS": str(args.threads)}
    gen_spec = args.gen or "toyscenes"
    seg_spec = args.segmenter
    common = ["--layer", args.layer, "--samples", str(args.samples), "--batch-size", str(args.batch_size),
              "--threads", str(args.threads), "--segmenter", seg_spec] + (["--gen", args.gen] if args.gen else [])
    times = {"ganfix dissect": [], "per-image process": []}
    with tempfile.TemporaryDirectory() as tmp:
        cmds = {"ganfix dissect": [sys.executable, "-m", "ganfix", "dissect", gen_spec, "--layer", args.layer,
                                   "--segmenter", seg_spec, "-n", str(args.samples), "-b", str(args.batch_size),
                                   "--no-cache", "--json", "--threads", str(args.threads), "--tiles", "0"],
                "per-image process": [sys.executable, __file__, "--role", "per-image", *common]}
        for r in range(args.rounds):
            for name, cmd in cmds.items():
                t = time.perf_counter()
                res = subprocess.run(cmd, env={**env, "GANFIX_CACHE": tmp}, capture_output=True, text=True)
                times[name].append(time.perf_counter() - t)
                if res.returncode:
                    raise SystemExit(f"{name} failed:\n{res.stderr[-2000:]}")
            print(f"  round {r}: " + ", ".join(f"{k} {v[-1]:.1f}s" for k, v in times.items())
                  + " (load {:.1f} {:.1f} {:.1f})".format(*os.getloadavg()), flush=True)
    med = {k: statistics.median(v) for k, v in times.items()}
    ratio = med["per-image process"] / med["ganfix dissect"]
    print(f"whole process: per-image reference process ÷ ganfix dissect = {ratio:.2f}× ({args.samples} samples, "
          f"{args.layer}, {args.threads} thread(s); load " + "{:.1f} {:.1f} {:.1f})".format(*os.getloadavg()))
    return {"cli_seconds": med, "cli_ratio": ratio}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--cli", action="store_true", help="whole processes: ganfix dissect vs a per-image reference process")
    ap.add_argument("--role", choices=["per-image"], help=argparse.SUPPRESS)
    ap.add_argument("--layer", default="layer4")
    ap.add_argument("--samples", type=int, default=128)
    ap.add_argument("--batch-size", type=int, default=32)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--gen", help="generator spec (default: toyscenes when built in, else a random ProGAN 64)")
    ap.add_argument("--segmenter", default="toyscenes", help="segmenter for --gen")
    ap.add_argument("--synthetic", action="store_true", help="use the random ProGAN even if toyscenes exists")
    args = ap.parse_args()
    if args.quick:
        args.samples, args.rounds = 32, 1
    torch.set_num_threads(args.threads)
    if args.role == "per-image":
        return per_image_process(args)
    if args.cli:
        return print(json.dumps(cli_mode(args)))
    gen, seg = contenders(args)
    thr, _ = layer_thresholds(gen, args.layer, args.samples, 0, args.batch_size, 100, use_cache=False)
    times = {"batched": [], "per_image": []}
    for _ in range(args.rounds):
        t = time.perf_counter()
        a = dissect_counts(gen, seg, {args.layer: thr}, args.samples, 0, args.batch_size, use_cache=False)[args.layer]
        times["batched"].append(time.perf_counter() - t)
        t = time.perf_counter()
        b = per_image_loop(gen, seg, args.layer, thr, args.samples, 0)
        times["per_image"].append(time.perf_counter() - t)
        # The counting is exact, but a conv forward at batch 32 vs 1 rounds differently in the last bit,
        # flipping the odd pixel that sits exactly at a threshold: allow a tiny fraction of differences.
        diff = int((a.inter - b.inter).abs().sum())
        assert diff <= 1e-5 * int(a.inter.sum()) and torch.equal(a.class_px, b.class_px), f"counts differ by {diff}"
    med = {k: statistics.median(v) for k, v in times.items()}
    res = {"generator": gen.name, "segmenter": type(seg).__name__, "layer": args.layer,
           "shape": list(gen.layer(args.layer).shape), "levels": 100, "samples": args.samples,
           "batch_size": args.batch_size, "threads": args.threads, "rounds": args.rounds,
           "batched_samples_per_s": args.samples / med["batched"],
           "per_image_samples_per_s": args.samples / med["per_image"],
           "ratio": med["per_image"] / med["batched"], "count_differences": diff, "counts_total": int(a.inter.sum())}
    print(json.dumps(res, indent=2))
    print(f"IoU/IQR pass: batched {res['batched_samples_per_s']:.1f} samples/s vs per-image loop "
          f"{res['per_image_samples_per_s']:.1f} samples/s → {res['ratio']:.1f}× (target ≥ 5×)")


if __name__ == "__main__":
    main()
