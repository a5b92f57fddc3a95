"""Planted-artifact benchmark: do the automatic rankers find known artifact units?

Builds generators from the built-in toy generator (`toyscenes`) with K = 4 artifact units planted at
layer4 (64 units, 8×8) or layer5 (32 units, 16×16) by ganfix.ranking.planted (kinds: saturated
blotches, stripes, checkerboards, colour fringes, border patches; strengths 0.4–1.0; firing rates
2–20 %). Two splits that share no kind and no seed:

- train:    kinds blotch, stripes, fringe; planting seeds 0, 1 (used to choose the `artifact` weights);
- held-out: kinds checker, border;          planting seeds 2, 3.

Every ranker reads one pool pass per generator (`--samples` seeded samples; images' features in the
`toyscenes` space; real set: the embedded renderer, `--real-seed`). Prints precision@K, average precision
and wall time per ranker, side by side, per split; `--fit` also grid-searches the `artifact` weights on
the train split and reports them on held-out. `--with-ablation` adds the single-unit ablation scan
(`--by ablation`; one scoring pass per unit, slow on CPU).

    python benchmarks/bench_artifact_rankers.py --fit              # ~5 min on 2 busy cores (pool 600)
    python benchmarks/bench_artifact_rankers.py --samples 2000 --fit
"""
from __future__ import annotations

import argparse
import itertools
import random
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import numpy as np  # noqa: E402
import torch  # noqa: E402

from ganfix.extractors import real_features, resolve_extractor  # noqa: E402
from ganfix.generator import load_generator  # noqa: E402
from ganfix.ranking.automatic import method_scores  # noqa: E402
from ganfix.ranking.combined import WEIGHTS, combine  # noqa: E402
from ganfix.ranking.planted import Plant, plant_artifacts  # noqa: E402
from ganfix.ranking.pool import pool_pass  # noqa: E402
from ganfix.real_data import RealSource  # noqa: E402

SPLITS = {"train": (("blotch", "stripes", "fringe"), (0, 1)), "held-out": (("checker", "border"), (2, 3))}
LAYERS = ("layer4", "layer5")
STRENGTHS = (0.4, 0.7, 1.0)
RATES = (0.02, 0.05, 0.1, 0.2)
K = 4
METHODS = ("unit-fid", "realism", "rare", "local-activation")


def configs(split: str):
    kinds, seeds = SPLITS[split]
    for seed, layer in itertools.product(seeds, LAYERS):
        rng = random.Random(f"{split}-{seed}-{layer}")
        units = rng.sample(range(64 if layer == "layer4" else 32), K)
        plants = [Plant(u, kinds[i % len(kinds)], rng.choice(STRENGTHS), RATES[i % len(RATES)]) for i, u in enumerate(units)]
        yield f"{split}/s{seed}/{layer}", layer, plants, seed


def precision_at_k(order: list[int], truth: set[int]) -> float:
    return len(set(order[:len(truth)]) & truth) / len(truth)


def average_precision(order: list[int], truth: set[int]) -> float:
    hits, total = 0, 0.0
    for i, u in enumerate(order):
        if u in truth:
            hits += 1
            total += hits / (i + 1)
    return total / len(truth)


def order_of(scores: torch.Tensor) -> list[int]:
    s = scores.double()
    s = torch.where(torch.isfinite(s), s, torch.full_like(s, -1e300))
    return torch.argsort(-s, stable=True).tolist()


def run_split(base, split, args, real_feats, extractor, weights):
    rows = []
    for name, layer, plants, seed in configs(split):
        gen = plant_artifacts(base, layer, plants, seed=seed, name=f"toyscenes+{name}")
        t0 = time.perf_counter()
        pool = pool_pass(gen, layer, args.samples, args.seed, extractor, 64, use_cache=False)
        t_pool = time.perf_counter() - t0
        timings: dict[str, float] = {}
        top = args.top or max(2, args.samples // 10)
        methods, _ = method_scores(pool, real_feats, list(METHODS), top, timings)
        t1 = time.perf_counter()
        methods["artifact"] = combine({m: methods[m] for m in METHODS}, weights)
        timings["artifact"] = time.perf_counter() - t1 + sum(timings[m] for m in METHODS)
        truth = {p.unit for p in plants}
        row = {"name": name, "truth": truth, "t_pool": t_pool, "methods": {}, "raw": methods}
        for m, s in methods.items():
            o = order_of(s)
            row["methods"][m] = (precision_at_k(o, truth), average_precision(o, truth), timings[m])
            row.setdefault("margins", {})[m] = margin(s, truth)
        if args.with_ablation:
            from ganfix.ranking.ablation import scan_ablations

            t2 = time.perf_counter()
            scan = scan_ablations(gen, layer, RealSource.from_spec("world", seed=args.real_seed), "toyscenes",
                                  args.ablation_samples, args.seed, use_cache=False)
            o = scan.ranking().order
            row["methods"]["ablation"] = (precision_at_k(o, truth), average_precision(o, truth), time.perf_counter() - t2)
        rows.append(row)
        print(f"  {name}: " + "  ".join(f"{m} P@K {v[0]:.2f}" for m, v in row["methods"].items())
              + f"  (pool pass {t_pool:.1f} s)", file=sys.stderr, flush=True)
    return rows


def table(split, rows):
    methods = list(rows[0]["methods"])
    print(f"\n{split} split: {len(rows)} generators × K = {K} planted units "
          f"(P@K and AP: mean over generators [min–max]; time: mean seconds per generator, after the shared pool pass)")
    print("| ranker | precision@K | AP | margin | time (s) |")
    print("|---|---:|---:|---:|---:|")
    for m in methods:
        p = np.array([r["methods"][m][0] for r in rows])
        a = np.array([r["methods"][m][1] for r in rows])
        t = np.array([r["methods"][m][2] for r in rows])
        mg = [r["margins"][m] for r in rows if m in r["margins"]]
        mg_text = f"{np.mean(mg):+.2f} [{min(mg):+.2f}…{max(mg):+.2f}]" if mg else "—"
        print(f"| {m} | {p.mean():.3f} [{p.min():.2f}–{p.max():.2f}] | {a.mean():.3f} [{a.min():.2f}–{a.max():.2f}] | "
              f"{mg_text} | {t.mean():.2f} |")
    print(f"| (shared pool pass) | | | | {np.mean([r['t_pool'] for r in rows]):.1f} |")


def margin(scores: torch.Tensor, truth: set[int]) -> float:
    """Lowest planted score − highest other score, in units of the scores' std (> 0: a clean separation)."""
    s = scores.double()
    finite = torch.isfinite(s)
    s = torch.where(finite, s, s[finite].min() if finite.any() else torch.zeros_like(s))
    mask = torch.zeros(len(s), dtype=torch.bool)
    mask[list(truth)] = True
    return float((s[mask].min() - s[~mask].max()) / s.std().clamp_min(1e-12))


def fit_weights(rows):
    """Grid search of the four weights (0, 0.5, 1, 2) on the train rows: best mean AP, then mean P@K, then the
    mean separation margin (so among weightings that all rank perfectly, the one separating most clearly wins)."""
    best = None
    for w in itertools.product((0.0, 0.5, 1.0, 2.0), repeat=len(METHODS)):
        if not any(w):
            continue
        weights = dict(zip(METHODS, w))
        aps, ps, ms = [], [], []
        for r in rows:
            combined = combine({m: r["raw"][m] for m in METHODS}, weights)
            o = order_of(combined)
            aps.append(average_precision(o, r["truth"]))
            ps.append(precision_at_k(o, r["truth"]))
            ms.append(margin(combined, r["truth"]))
        key = (round(float(np.mean(aps)), 6), round(float(np.mean(ps)), 6), float(np.mean(ms)))
        if best is None or key > best[0]:
            best = (key, weights)
    return best


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--samples", type=int, default=600, help="pool samples per generator (and real images)")
    ap.add_argument("--top", type=int, default=None, help="top samples per unit (default 10%% of the pool)")
    ap.add_argument("--seed", type=int, default=0, help="seed of the pool latents")
    ap.add_argument("--real-seed", type=int, default=1)
    ap.add_argument("--fit", action="store_true", help="grid-search the artifact weights on the train split")
    ap.add_argument("--with-ablation", action="store_true", help="also run the single-unit ablation scan")
    ap.add_argument("--ablation-samples", type=int, default=300)
    ap.add_argument("--splits", default="train,held-out")
    args = ap.parse_args()
    torch.set_num_threads(1)
    t_start = time.perf_counter()
    base = load_generator("toyscenes", device="cpu")
    extractor = resolve_extractor("toyscenes")
    real_feats = real_features(RealSource.from_spec("world", seed=args.real_seed), args.samples, extractor)
    weights = dict(WEIGHTS)
    results = {}
    for split in args.splits.split(","):
        print(f"{split}:", file=sys.stderr, flush=True)
        results[split] = run_split(base, split, args, real_feats, extractor, weights)
        if split == "train" and args.fit:
            (ap_, p_, m_), weights = fit_weights(results[split])
            print(f"fitted artifact weights on train: {weights} (train mean AP {ap_:.3f}, P@K {p_:.3f}, margin {m_:.2f})")
    if args.fit:  # the fitted weights, on every split run
        for split, rows in results.items():
            for r in rows:
                combined = combine({m: r["raw"][m] for m in METHODS}, weights)
                r["margins"]["artifact"] = margin(combined, r["truth"])
                o = order_of(combined)
                r["methods"]["artifact"] = (precision_at_k(o, r["truth"]), average_precision(o, r["truth"]),
                                            r["methods"]["artifact"][2])
    print(f"\nbench_artifact_rankers: toyscenes + planted units, pool {args.samples} samples (seed {args.seed}), "
          f"real: world seed {args.real_seed}, features toyscenes; artifact weights {weights}")
    for split, rows in results.items():
        table(split, rows)
    print(f"\ntotal wall time {time.perf_counter() - t_start:.0f} s")


if __name__ == "__main__":
    main()
