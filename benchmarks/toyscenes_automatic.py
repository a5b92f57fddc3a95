"""The shipped toy generator: the automatic artifact set (no labels) vs the hand-labelled shipped set, and
sequential ablation, scored on held-out latents and a held-out real set against random ablation.

Detection (automatic rankers, sequential detection): samples 0…N−1 of seed 0 against the world's seed-1
real set. Scoring: samples of seed 2 against the seed-3 real set — the README demo's protocol, never
looked at while detecting. FD in the `toyscenes` feature space (not Inception FID).

    python benchmarks/toyscenes_automatic.py            # ~15 min on 2 busy cores
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import torch  # noqa: E402

from ganfix.annotations import AnnotationSet  # noqa: E402
from ganfix.generator import load_generator  # noqa: E402
from ganfix.patch import Patch  # noqa: E402
from ganfix.ranking.automatic import rank_automatic  # noqa: E402
from ganfix.real_data import RealSource  # noqa: E402
from ganfix.repairing.sequential import sequential_repair  # noqa: E402
from ganfix.scoring import score_repair  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--samples", type=int, default=1000)
    ap.add_argument("--rankers", default="artifact,rare", help="automatic sets to score (top --units of each)")
    ap.add_argument("--units", type=int, default=8)
    ap.add_argument("--random-draws", type=int, default=5)
    ap.add_argument("--sequential", default="layer4,layer5,layer6")
    ap.add_argument("--per-layer", type=int, default=4)
    ap.add_argument("--skip-sets", action="store_true")
    ap.add_argument("--json", type=Path, default=None, help="also write all results here")
    args = ap.parse_args()
    torch.set_num_threads(1)
    t0 = time.perf_counter()
    gen = load_generator("toyscenes", device="cpu")
    detect_real = RealSource.from_spec("world", seed=1)
    score_real = RealSource.from_spec("world", seed=3)
    hand = AnnotationSet.load(ROOT / "annotations/toyscenes/layer4-artifacts.json").units
    out: dict = {"hand": hand}
    if not args.skip_sets:
        sets = {"hand-labelled (shipped)": hand}
        for by in args.rankers.split(","):
            auto = rank_automatic(gen, "layer4", by, detect_real, "toyscenes", args.samples, seed=0)
            sets[f"automatic: {by} top {args.units}"] = sorted(auto.ranking.top(args.units))
        print(f"\ntoyscenes layer4, {args.units}-unit sets; scored on {args.samples} samples of seed 2 vs {args.samples} "
              f"real scenes of seed 3, FD (toyscenes features); random: {args.random_draws} draws of the same size")
        print("| set | units | FD original | FD patched | random (mean ± std) | patched − original (95 % CI) | patched − random (95 % CI) |")
        print("|---|---|---:|---:|---:|---:|---:|")
        out["sets"] = {}
        for name, units in sets.items():
            r = score_repair(gen, Patch("layer4", units, model_name=gen.name, fingerprint=gen.fingerprint), score_real,
                             "toyscenes", args.samples, seed=2, random_draws=args.random_draws)
            d = r["delta"]
            print(f"| {name} | {','.join(map(str, units))} | {r['original']['fid']:.3f} | {r['patched']['fid']:.3f} | "
                  f"{r['random']['fid_mean']:.3f} ± {r['random']['fid_std']:.3f} | {d['fid_patched_minus_original']:+.3f} "
                  f"({d['ci95'][0]:+.3f} … {d['ci95'][1]:+.3f}) | {d['fid_patched_minus_random_mean']:+.3f} "
                  f"({d['ci95_vs_random'][0]:+.3f} … {d['ci95_vs_random'][1]:+.3f}) |", flush=True)
            out["sets"][name] = {"units": units, "original": r["original"], "patched": r["patched"],
                                 "random": {k: v for k, v in r["random"].items() if k != "draws"}, "delta": d}
    if args.sequential:
        layers = args.sequential.split(",")
        res = sequential_repair(gen, layers, detect_real, "toyscenes", "artifact", args.per_layer, args.samples, 0,
                                args.samples, 2, 0.2, 3, eval_real=score_real,
                                on_stage=lambda s: print(f"  {s}", file=sys.stderr, flush=True))
        v = res.variants
        print(f"\nsequential ablation {', '.join(layers)} ({args.per_layer} units per layer, detected by `artifact`): "
              + "; ".join(f"{s['layer']}: {','.join(map(str, s['units']))}" for s in res.steps))
        print(f"evaluation: {args.samples} samples of seed 2 vs the seed-3 real set; artifact samples = the "
              f"{res.settings['artifact_samples']} least realistic, normal = the {res.settings['normal_samples']} most realistic")
        print("| variant | FD artifact samples | FD all | normal: feature change | normal: pixel change |")
        print("|---|---:|---:|---:|---:|")
        for name in ("original", "sequential", "one-layer", "random"):
            m = v[name]
            sd = (lambda k: f" ± {m[k + '_std']:.3f}") if name == "random" else (lambda k: "")
            print(f"| {name} | {m['fd_artifact_samples']:.3f}{sd('fd_artifact_samples')} | {m['fd_all']:.3f}{sd('fd_all')} | "
                  f"{m['normal_feature_change']:.3f}{sd('normal_feature_change')} | {m['normal_pixel_change']:.4f}{sd('normal_pixel_change')} |")
        print(f"one-layer units: {v['one-layer']['units']}")
        out["sequential"] = res.to_dict()
    if args.json:
        args.json.write_text(json.dumps(out, indent=2, default=str))
    print(f"\ntotal wall time {time.perf_counter() - t0:.0f} s")


if __name__ == "__main__":
    main()
