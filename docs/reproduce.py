"""Regenerate the numbers README.md and docs/dissection.md publish, with N and intervals, into one JSON.

    python docs/reproduce.py --out docs/reproduce.json --jobs 2 # full run (56 min on 2 busy cores; committed as docs/reproduce.json)
    python docs/reproduce.py --small --out /tmp/reproduce.json  # tiny N, same code paths (the test runs this)

Sections (each records its settings, N and wall time):
- table1: the demo's Table-1 analog — the shipped annotation set on the built-in `toyscenes`
  generator vs original vs K random sets, for every latent seed × real seed, in both feature spaces
  (`toyscenes`, the segmenter's encoder the set was selected in; `toyscenes-ssl`, the independent
  self-supervised encoder), with score_repair's intervals (hierarchical for patched − random);
- draws: how the patched − random interval moves between disjoint sets of K random draws (K = 5,
  10, 20) — the reason the default is 10;
- sensitivity: each space's FD increase per % of generated images carrying a planted saturated
  colour blotch, next to the increase from ablating random units;
- layers: interpretable units per layer under the reference and the unconstrained IQR convention;
- ace: best causal units at layer4 for door, tree and window (single-unit ACE), the set's ACE and
  its ablation curve, with bootstrap intervals over samples;
- context: door insertion by location (Fig. 8) on several latent seeds, intervals, the orderings
  the intervals support, and how that depends on N (prefixes of the same samples);
- tracing: downstream change (Fig. 9) for visible vs not-visible insertions, with intervals.
Not covered (too slow for one run here; their commands are in README): the per-layer ablation
scans and forward selection, the labelling history, benchmarks, and docs/world.md (its own script:
`python -m ganfix.world.report`).
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np
import torch

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

FULL = {
    "samples": 1000, "latent_seeds": [2, 3, 4], "real_seeds": [3, 5], "draws": 10, "bootstrap": 200,
    "spaces": ["toyscenes", "toyscenes-ssl"],
    "draw_study": {"latent_seed": 2, "real_seed": 3, "max_draws": 20, "sizes": [5, 10, 20], "bootstrap": 100},
    "sensitivity": {"latent_seed": 2, "real_seed": 3, "fractions": [0.0, 0.1, 0.25, 0.5, 1.0]},
    "dissect": {"samples": 300, "seed": 0, "levels": 100},
    "ace": {"layer": "layer4", "classes": ["door", "tree", "window"], "candidates": 16, "ace_samples": 20,
            "samples": 100, "n": 10, "seed": 0, "curve": [1, 2, 3, 5, 10]},
    "context": {"class": "door", "seeds": [0, 1, 2], "samples": 48, "prefixes": [8, 16, 32, 48], "patch": 2,
                "min_insertions": 20},
}
SMALL = {
    "samples": 48, "latent_seeds": [2, 3, 4], "real_seeds": [3, 5], "draws": 3, "bootstrap": 20,
    "spaces": ["toyscenes", "toyscenes-ssl"],
    "draw_study": {"latent_seed": 2, "real_seed": 3, "max_draws": 4, "sizes": [2, 4]},
    "sensitivity": {"latent_seed": 2, "real_seed": 3, "fractions": [0.0, 0.5]},
    "dissect": {"samples": 16, "seed": 0, "levels": 20, "layers": ["layer3", "layer4"]},
    "ace": {"layer": "layer4", "classes": ["door"], "candidates": 3, "ace_samples": 4, "samples": 8, "n": 2, "seed": 0,
            "curve": [1, 2]},
    "context": {"class": "door", "seeds": [0, 1], "samples": 2, "prefixes": [1, 2], "patch": 4, "min_insertions": 1},
}

PALETTE = np.array([[255, 0, 255], [0, 255, 255], [255, 255, 0], [255, 0, 0], [0, 255, 0], [0, 0, 255]], dtype=np.uint8)


def plant_blotch(images: torch.Tensor, ids, seed: int = 0) -> torch.Tensor:
    """A saturated colour disc (radius 5–9 px at 64 px) on each image, placed by (seed, id)."""
    out = images.clone()
    _, _, h, w = out.shape
    yy, xx = np.mgrid[0:h, 0:w]
    for k, i in enumerate(ids):
        rng = np.random.default_rng([seed, int(i), 0xB10])
        r = rng.uniform(5, 9) * h / 64
        cy, cx = rng.uniform(r, h - r), rng.uniform(r, w - r)
        mask = torch.from_numpy((yy - cy) ** 2 + (xx - cx) ** 2 <= r * r)
        colour = torch.from_numpy(PALETTE[rng.integers(len(PALETTE))]).view(3, 1)
        out[k][:, mask] = colour.expand(3, int(mask.sum()))
    return out


def _timed(name: str, fn, log):
    t0 = time.time()
    log(f"[{name}] …")
    out = fn()
    out["wall_seconds"] = round(time.time() - t0, 1)
    log(f"[{name}] done in {out['wall_seconds']} s")
    return out


def _summ(values) -> dict:
    v = np.asarray(values, dtype=np.float64)
    return {"mean": float(v.mean()), "min": float(v.min()), "max": float(v.max()), "n": int(v.size)}


def table1(cfg, gen, patch, log) -> dict:
    from ganfix.real_data import RealSource
    from ganfix.scoring import score_repair

    out = {"settings": {k: cfg[k] for k in ("samples", "latent_seeds", "real_seeds", "draws", "bootstrap", "spaces")},
           "units": patch.units, "layer": patch.layer, "spaces": {}}
    for space in cfg["spaces"]:
        runs = []
        for ls in cfg["latent_seeds"]:
            for rs in cfg["real_seeds"]:
                rep = score_repair(gen, patch, RealSource.from_spec("world", seed=rs, resolution=64), space, cfg["samples"],
                                   ls, cfg["draws"], "all", None, cfg["bootstrap"])
                o, p, r = rep["original"]["fid"], rep["patched"]["fid"], rep["random"]
                runs.append({"latent_seed": ls, "real_seed": rs, "original": o, "patched": p,
                             "original_kid": rep["original"]["kid_mean"], "patched_kid": rep["patched"]["kid_mean"],
                             "random_mean": r["fid_mean"], "random_std": r["fid_std"], "random_kid_mean": r["kid_mean"],
                             "random_draw_fids": [d["fid"] for d in r["draws"]],
                             "patched_minus_original": rep["delta"]["fid_patched_minus_original"],
                             "ci95_vs_original": rep["delta"]["ci95"],
                             "patched_minus_random": rep["delta"]["fid_patched_minus_random_mean"],
                             "ci95_vs_random": rep["delta"]["ci95_vs_random"],
                             "ci95_vs_random_paired": rep["delta"]["ci95_vs_random_paired"],
                             "random_beats_patch": rep["random_beats_patch"],
                             "relative_vs_original": (p - o) / o, "relative_random_vs_original": (r["fid_mean"] - o) / o})
                log(f"  {space} latent {ls} real {rs}: {o:.3f} → {p:.3f}, random {r['fid_mean']:.3f}")
        out["spaces"][space] = {
            "runs": runs,
            "summary": {k: _summ([x[k] for x in runs]) for k in ("original", "patched", "random_mean",
                                                                 "relative_vs_original", "relative_random_vs_original")},
            "patch_beats_random_in_all_runs": all(x["ci95_vs_random"][1] < 0 for x in runs),
            "patch_beats_original_in_all_runs": all(x["ci95_vs_original"][1] < 0 for x in runs),
            "paired_ci_excluded_zero_but_hierarchical_did_not": sum(
                x["ci95_vs_random_paired"][1] < 0 <= x["ci95_vs_random"][1] for x in runs),
        }
    return out


def draw_study(cfg, gen, patch, log) -> dict:
    from ganfix.extractors import real_features, resolve_extractor
    from ganfix.real_data import RealSource
    from ganfix.scoring import generated_features, real_stats, repair_bootstrap

    c = cfg["draw_study"]
    ex = resolve_extractor("toyscenes")
    fe = ex.build()
    ids = list(range(cfg["samples"]))
    ls = c["latent_seed"]
    rstats = real_stats(real_features(RealSource.from_spec("world", seed=c["real_seed"], resolution=64), cfg["samples"], ex))
    units = gen.layer(patch.layer).units
    feats = {"original": generated_features(gen, ids, ls, ex, fe), "patched": generated_features(gen, ids, ls, ex, fe, patch)}
    rand = [generated_features(gen, ids, ls, ex, fe, patch.random_like(units, d, ls)) for d in range(c["max_draws"])]
    sizes = {}
    for k in c["sizes"]:
        groups = []
        for g0 in range(0, c["max_draws"] - k + 1, k):  # disjoint sets of k draws
            f = dict(feats, **{f"random{j}": rand[g0 + j] for j in range(k)})
            b = repair_bootstrap(f, rstats, k, c.get("bootstrap", cfg["bootstrap"]), ls)
            groups.append({"draws": list(range(g0, g0 + k)), "ci95_vs_random": b["ci95_vs_random"],
                           "ci95_vs_random_paired": b["ci95_vs_random_paired"]})
        his = [g["ci95_vs_random"][1] for g in groups]
        widths = [g["ci95_vs_random"][1] - g["ci95_vs_random"][0] for g in groups]
        sizes[str(k)] = {"groups": groups, "upper_end_range": [min(his), max(his)], "mean_width": float(np.mean(widths))}
        log(f"  K={k}: upper ends {['%.3f' % h for h in his]}")
    return {"settings": {"bootstrap": cfg["bootstrap"], **c, "samples": cfg["samples"], "features": "toyscenes"},
            "sizes": sizes}


def sensitivity(cfg, gen, table, log) -> dict:
    from ganfix.extractors import extract, real_features, resolve_extractor
    from ganfix.real_data import RealSource
    from ganfix.scoring import fid, generated_features, real_stats

    c = cfg["sensitivity"]
    ids = list(range(cfg["samples"]))
    with torch.no_grad():
        images = torch.cat([gen.to_uint8(gen.module(gen.latents(ids[i:i + 100], c["latent_seed"]))).cpu()
                            for i in range(0, len(ids), 100)])
    out = {"settings": {**c, "samples": cfg["samples"], "blotch": "saturated colour disc, radius 5–9 px of 64"}, "spaces": {}}
    for space in cfg["spaces"]:
        ex = resolve_extractor(space)
        fe = ex.build()
        rstats = real_stats(real_features(RealSource.from_spec("world", seed=c["real_seed"], resolution=64), cfg["samples"], ex))
        base = generated_features(gen, ids, c["latent_seed"], ex, fe)
        fd0 = fid(base, rstats)
        rows = []
        for frac in c["fractions"]:
            m = int(round(frac * len(ids)))
            feats = base.clone()
            if m:
                feats[:m] = extract(ex, plant_blotch(images[:m], ids[:m]), 64, fe)
            f = fid(feats, rstats)
            rows.append({"fraction": frac, "fd": f, "relative_increase": (f - fd0) / fd0})
        slope = float(np.polyfit([100 * r["fraction"] for r in rows], [r["relative_increase"] for r in rows], 1)[0])
        runs = [r for r in table["spaces"][space]["runs"] if r["latent_seed"] == c["latent_seed"]
                and r["real_seed"] == c["real_seed"]] if table and space in table.get("spaces", {}) else []
        rnd = runs[0]["relative_random_vs_original"] if runs else None
        out["spaces"][space] = {"fd_generated": fd0, "rows": rows, "relative_increase_per_percent": slope,
                                "random_ablation_relative_increase": rnd,
                                "blotch_percent_matching_random_ablation": (rnd / slope) if rnd is not None and slope > 0 else None}
        log(f"  {space}: {slope * 100:+.2f} % FD per 1 % blotched images; random ablation {rnd}")
    return out


def layers(cfg, gen, seg, log) -> dict:
    from ganfix.workflow.dissect import spatial_layers
    from ganfix.dissection import Criteria, dissect

    c = cfg["dissect"]
    names = c.get("layers") or spatial_layers(gen)
    out = {"settings": {**c, "layers": names, "criteria": {}}, "conventions": {}}
    for conv in ("reference", "unconstrained"):
        crit = Criteria(convention=conv)
        res = dissect(gen, names, seg, c["samples"], c["seed"], 32, c["levels"], crit)
        out["settings"]["criteria"][conv] = vars(crit)
        rows = {}
        for l, d in res.items():
            units = d.units()
            rows[l] = {"units": d.num_units, "interpretable": sum(u["interpretable"] for u in units),
                       "by_class": d.interpretable_by_class(units), "best_unit_by_class": d.best_unit_by_class()}
        out["conventions"][conv] = rows
        log(f"  {conv}: " + ", ".join(f"{l} {r['interpretable']}" for l, r in rows.items()))
        if conv == "reference":
            out["_reference_result"] = res  # used by the ace section, removed before writing
    return out


def ace(cfg, gen, seg, dis, log) -> dict:
    from ganfix.dissection import average_causal_effect, insertion_values, select_by_ace, single_unit_ace
    from ganfix.segmenters import class_index

    c = cfg["ace"]
    layer = c["layer"]
    if dis is None or layer not in dis:
        from ganfix.dissection import dissect

        dis = dissect(gen, [layer], seg, cfg["dissect"]["samples"], cfg["dissect"]["seed"], 32, cfg["dissect"]["levels"])
    d = dis[layer]
    out = {"settings": {**c, "selection": "single-unit ACE among the candidates with the highest IoU (reference convention)"},
           "classes": {}}
    for name in c["classes"]:
        cls = class_index(seg, name)
        value = insertion_values(gen, seg, layer, cls, c["samples"], c["seed"])
        cands = d.class_ranking(cls)[:c["candidates"]]
        per_unit = single_unit_ace(gen, seg, layer, cls, value, cands, c["ace_samples"], c["seed"])
        chosen, scores = select_by_ace(per_unit, c["n"])
        res = average_causal_effect(gen, seg, layer, chosen, cls, c["samples"], c["seed"], value=value)
        curve = []
        for k in c["curve"]:
            if k > len(chosen):
                continue
            r = average_causal_effect(gen, seg, layer, chosen[:k], cls, c["samples"], c["seed"], do_insert=False)
            ci = r.intervals()
            curve.append({"n": k, "removed_fraction_of_class": r.removed_rel,
                          "ci95": ci.get("removed_fraction_of_class")})
        out["classes"][name] = {"units": chosen, "single_unit_ace": scores, "set": res.to_json(per_sample=False),
                                "curve": curve, "_value": value, "_cls": cls}
        log(f"  {name}: units {chosen[:5]}… set ACE {res.ace:.4f} {res.intervals().get('ace')}")
    return out


def context(cfg, gen, seg, ace_out, log) -> tuple[dict, dict]:
    from ganfix.dissection import insertion_sweep
    from ganfix.dissection.intervals import context_intervals

    c = cfg["context"]
    layer = cfg["ace"]["layer"]
    a = ace_out["classes"][c["class"]]
    out = {"settings": {**c, "layer": layer, "units": a["units"], "stride": 1}, "seeds": {}}
    tracing = None
    per_seed = {}
    for i, s in enumerate(c["seeds"]):
        sw = insertion_sweep(gen, seg, layer, a["units"], a["_value"], a["_cls"], c["samples"], s, 32, 1, c["patch"],
                             trace=(i == 0))
        g, n = torch.stack(sw.per_sample_sum).numpy(), torch.stack(sw.per_sample_n).numpy()
        per_seed[s] = (g, n)
        out["seeds"][str(s)] = sw.context_intervals(min_insertions=c["min_insertions"])
        if i == 0:
            tracing = {"settings": {"seed": s, "samples": c["samples"], "visible": "gain ≥ 10 % of the patch footprint"},
                       "counts": sw.trace_n, "layers": sw.trace_intervals()}
        log(f"  seed {s}: order {out['seeds'][str(s)]['order']}, supported {out['seeds'][str(s)]['supported']}")
    stability = []
    for k in c["prefixes"]:
        res = {s: context_intervals(g[:k], n[:k], seg.class_names, seed=s, min_insertions=c["min_insertions"])
               for s, (g, n) in per_seed.items()}
        orders = [r["order"] for r in res.values()]
        supported = [set(r["supported"]) for r in res.values()]
        contradictions = sorted({f"{x}" for sup in supported for x in sup
                                 if any(f"{x.split(' > ')[1]} > {x.split(' > ')[0]}" in o for o in supported)})
        stability.append({"samples": k, "orders": orders, "same_order_all_seeds": all(o == orders[0] for o in orders),
                          "same_top_all_seeds": all(o[:1] == orders[0][:1] for o in orders),
                          "supported_per_seed": [sorted(x) for x in supported],
                          "supported_in_all_seeds": sorted(set.intersection(*supported)) if supported else [],
                          "contradictions": contradictions})
    out["stability"] = stability
    return out, tracing


def _setup():
    from ganfix.annotations import AnnotationSet
    from ganfix.demo import shipped_annotation_path
    from ganfix.generator import load_generator
    from ganfix.patch import Patch
    from ganfix.segmenters import load_segmenter

    torch.set_num_threads(1)
    gen = load_generator("toyscenes")
    ann_path = shipped_annotation_path()
    return gen, load_segmenter("toyscenes"), Patch.from_annotations(AnnotationSet.load(ann_path), gen), ann_path


def run_part(part: str, cfg: dict, sections: list[str], quiet: bool = False) -> dict:
    """One independent part of the run (a process of its own with --jobs > 1): 'table1:<space>', 'draws',
    'sensitivity' or 'effects' (layers → ace → context/tracing, which depend on each other)."""
    log = (lambda s: None) if quiet else (lambda s: print(f"{part} {s}", file=sys.stderr, flush=True))
    gen, seg, patch, _ = _setup()
    out: dict = {}
    if part.startswith("table1:"):
        out["table1"] = _timed("table1", lambda: table1(dict(cfg, spaces=[part.split(":", 1)[1]]), gen, patch, log), log)
    elif part == "draws":
        out["draws"] = _timed("draws", lambda: draw_study(cfg, gen, patch, log), log)
    elif part == "sensitivity":
        out["sensitivity"] = _timed("sensitivity", lambda: sensitivity(cfg, gen, None, log), log)
    elif part == "effects":
        dis = None
        if "layers" in sections:
            out["layers"] = _timed("layers", lambda: layers(cfg, gen, seg, log), log)
            dis = out["layers"].pop("_reference_result")
        if "ace" in sections or "context" in sections:
            ace_out = _timed("ace", lambda: ace(cfg, gen, seg, dis, log), log)
            if "context" in sections:
                holder = {}

                def run_ctx():
                    ctx, holder["tracing"] = context(cfg, gen, seg, ace_out, log)
                    return ctx

                out["context"] = _timed("context", run_ctx, log)
                out["tracing"] = holder["tracing"]
            for v in ace_out["classes"].values():
                v.pop("_value"), v.pop("_cls")
            out["ace"] = ace_out
    return out


def main(argv=None) -> dict:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--out", type=Path, required=True)
    p.add_argument("--small", action="store_true", help="tiny N: checks that everything runs (seconds), numbers meaningless")
    p.add_argument("--sections", default="table1,draws,sensitivity,layers,ace,context",
                   help="comma-separated subset of the sections")
    p.add_argument("--jobs", type=int, default=1, help="independent parts in parallel processes (one thread each)")
    p.add_argument("--quiet", action="store_true")
    args = p.parse_args(argv)
    cfg = SMALL if args.small else FULL
    sections = [s.strip() for s in args.sections.split(",") if s.strip()]
    t0 = time.time()
    gen, _, _, ann_path = _setup()
    parts = [f"table1:{sp}" for sp in cfg["spaces"]] if "table1" in sections else []
    parts += [p_ for p_ in ("draws", "sensitivity") if p_ in sections]
    if {"layers", "ace", "context"} & set(sections):
        parts.append("effects")
    if args.jobs > 1:
        import multiprocessing as mp
        from concurrent.futures import ProcessPoolExecutor

        with ProcessPoolExecutor(min(args.jobs, len(parts)), mp_context=mp.get_context("spawn")) as pool:
            pieces = list(pool.map(run_part, parts, [cfg] * len(parts), [sections] * len(parts), [args.quiet] * len(parts)))
    else:
        pieces = [run_part(p_, cfg, sections, args.quiet) for p_ in parts]
    result = {"meta": {"command": "python docs/reproduce.py" + (" --small" if args.small else ""),
                       "mode": "small" if args.small else "full", "generator": "toyscenes", "fingerprint": gen.fingerprint,
                       "annotations": ann_path.name, "torch": torch.__version__, "threads_per_process": 1,
                       "jobs": args.jobs, "date": time.strftime("%Y-%m-%d")}, "config": cfg}
    for piece in pieces:
        for key, val in piece.items():
            if key == "table1" and "table1" in result:
                result["table1"]["spaces"].update(val["spaces"])
                result["table1"]["settings"]["spaces"] += val["settings"]["spaces"]
                result["table1"]["wall_seconds"] = max(result["table1"]["wall_seconds"], val["wall_seconds"])
            else:
                result[key] = val
    if "sensitivity" in result and "table1" in result:  # the random-ablation comparison needs table1's runs
        c = cfg["sensitivity"]
        for space, sv in result["sensitivity"]["spaces"].items():
            runs = [r for r in result["table1"]["spaces"].get(space, {}).get("runs", [])
                    if r["latent_seed"] == c["latent_seed"] and r["real_seed"] == c["real_seed"]]
            if runs:
                rnd = runs[0]["relative_random_vs_original"]
                sv["random_ablation_relative_increase"] = rnd
                slope = sv["relative_increase_per_percent"]
                sv["blotch_percent_matching_random_ablation"] = rnd / slope if slope > 0 else None
    result["meta"]["wall_seconds"] = round(time.time() - t0, 1)
    from ganfix.atomic import atomic_write_json

    atomic_write_json(args.out, result)
    if not args.quiet:
        print(f"wrote {args.out} ({result['meta']['wall_seconds']} s)", file=sys.stderr)
    return result


if __name__ == "__main__":
    main()
