"""FID/KID scoring with torch-fidelity: a generator, or a repair against random ablations.

All metric arithmetic is torch-fidelity's own (`fid_features_to_statistics`,
`fid_statistics_to_metric`, `kid_features_to_metric`); ganfix extracts features once per variant
through torch-fidelity's extraction loop so it can also bootstrap over samples.

Repair protocol (the paper's Table 1): the original generator, the patched one and K random
patches (same layer, same number of units, excluding the labelled ones) are scored on the *same*
latents. Samples are either ids 0…N−1 (`selection="all"`) or the N of a pool of M ids where the
labelled units fire most (`selection="top"`, the paper used 10k of the highest activation).
"""
from __future__ import annotations

import hashlib
from typing import Callable, Optional

import numpy as np
import torch

from . import defaults
from . import distributed
from .cache import cache_key, features_validator, load_cached, save_cached
from .errors import NonFiniteSamples, UsageError
from .extractors import Extractor, extract, real_features, real_features_key, resolve_extractor
from .generator import Generator
from .hooks import Trace
from .patch import Patch
from .real_data import RealSource


def fid(a: torch.Tensor, b_stats: dict) -> float:
    from torch_fidelity.metric_fid import KEY_METRIC_FID, fid_features_to_statistics, fid_statistics_to_metric

    return float(fid_statistics_to_metric(fid_features_to_statistics(a.cpu()), b_stats, False)[KEY_METRIC_FID])


def real_stats(real_feats: torch.Tensor) -> dict:
    from torch_fidelity.metric_fid import fid_features_to_statistics

    return fid_features_to_statistics(real_feats.cpu())


def kid(a: torch.Tensor, b: torch.Tensor, subset_size: int, subsets: int = 100, seed: int = 0) -> tuple[float, float]:
    from torch_fidelity.metric_kid import KEY_METRIC_KID_MEAN, KEY_METRIC_KID_STD, kid_features_to_metric

    out = kid_features_to_metric(a.cpu(), b.cpu(), kid_subset_size=subset_size, kid_subsets=subsets, rng_seed=seed, verbose=False)
    return float(out[KEY_METRIC_KID_MEAN]), float(out[KEY_METRIC_KID_STD])


def check_kid_subset(samples: int, kid_subset_size: Optional[int], param: str = "samples") -> int:
    # Default: torch-fidelity's 1000, but at most half the samples so that subsets differ (KID std > 0).
    size = min(1000, max(2, samples // 2)) if kid_subset_size is None else kid_subset_size
    if size < 2:
        raise UsageError(f"KID needs at least 2 samples per subset; got {param}={samples}")
    if size > samples:
        raise UsageError(f"{param}={samples} is fewer than KID's subset size kid_subset_size={size}; "
                         f"score more samples or use a smaller subset")
    return size


def check_repair_args(samples: int, random_draws: int, select: str, pool: Optional[int], bootstrap: Optional[int],
                      kid_subset_size: Optional[int], batch_size: int = defaults.BATCH_SIZE) -> int:
    """Validate score_repair's arguments before any work; returns the KID subset size."""
    if samples < 1:
        raise UsageError(f"samples must be at least 1, got {samples}")
    if batch_size < 1:
        raise UsageError(f"batch_size must be at least 1, got {batch_size}")
    subset = check_kid_subset(samples, kid_subset_size)
    if random_draws < 1:
        raise UsageError(f"random_draws must be at least 1, got {random_draws} (the baseline is the point of the comparison)")
    if select not in ("all", "top"):
        raise UsageError(f"select={select} must be 'all' or 'top'")
    if select == "top" and pool is not None and pool < samples:
        raise UsageError(f"pool={pool} must be at least samples={samples}")
    if bootstrap is not None and bootstrap < 0:
        raise UsageError(f"bootstrap must be at least 0, got {bootstrap}")
    return subset


def generated_features_key(gen: Generator, ids: list[int], seed: int, extractor: Extractor, patch: Patch | None) -> str:
    """Everything the features depend on: model tensors, patch, exact sample ids, seed, extractor, range, device."""
    ids_digest = hashlib.sha256(np.asarray(ids, dtype=np.int64).tobytes()).hexdigest()
    shape = {"image_shape": list(gen.reshape)} if getattr(gen, "reshape", None) else {}
    return cache_key("gen_features", fingerprint=gen.fingerprint, z_shape=list(gen.z_shape), **shape,
                     output_range=list(gen.output_range), device=gen.device.type, seed=seed, ids=ids_digest,
                     patch=None if patch is None else {"layer": patch.layer, "units": patch.units, "value": patch.value,
                                                         "spatial": patch.spatial},
                     extractor=extractor.identity)


def _few(ids: list[int], limit: int = 10) -> str:
    return ", ".join(map(str, ids[:limit])) + (f", … (+{len(ids) - limit} more)" if len(ids) > limit else "")


def check_finite_images(which: str, total: int, seed: int, bad_images: list[int], consequence: str) -> None:
    """Refuse NaN/Inf generated images (they would become black pixels), naming how many and which sample ids."""
    if bad_images:
        raise NonFiniteSamples(f"{which} produced non-finite values (NaN/Inf) in {len(bad_images)} of {total} samples "
                               f"(seed {seed}, sample ids {_few(bad_images)}); {consequence}: "
                               "check the checkpoint, z_shape= and output_range=")


def check_finite_samples(gen: Generator, ids: list[int], seed: int, patch: Patch | None, bad_images: list[int],
                         bad_feats: list[int], extractor: Extractor) -> None:
    """NaN/Inf images would become black pixels and a plausible-looking FID: refuse, naming the samples."""
    which = f"{gen.name}{' (patched: ' + patch.layer + ' units ' + _few(patch.units, 8) + ')' if patch is not None else ''}"
    check_finite_images(which, len(ids), seed, bad_images, "FID/KID of such images would be meaningless")
    if bad_feats:
        raise NonFiniteSamples(f"the {extractor.name} features of {which} are non-finite (NaN/Inf) for {len(bad_feats)} of "
                               f"{len(ids)} samples (seed {seed}, sample ids {_few(bad_feats)}); check the feature extractor")


def check_finite_real(feats: torch.Tensor, extractor: Extractor, real: RealSource) -> torch.Tensor:
    bad = (~torch.isfinite(feats).all(1)).nonzero().flatten().tolist()
    if bad:
        raise NonFiniteSamples(f"the {extractor.name} features of {len(bad)} of {len(feats)} real images from "
                               f"{real.location} are non-finite (NaN/Inf) (image indices {_few(bad)}); check the feature extractor")
    return feats


# Bump when the metric arithmetic or the reports' structure changes: cached results made before are then recomputed.
METRICS_VERSION = 1


def _fidelity_version() -> str:
    """torch-fidelity does the FID/KID arithmetic: its version is part of every cached result (read from the
    installed metadata, without importing it)."""
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("torch-fidelity")
    except PackageNotFoundError:
        return "unknown"


def metrics_key(kind: str, real_key: str, generated: dict[str, str], **settings) -> str:
    """Key of a cached FID/KID/bootstrap result: the feature cache keys of the real set and of every
    generated variant (which name the model, patch, sample ids, latent seed, extractor), every setting
    that changes the numbers, and the versions of the arithmetic (torch-fidelity's formulas, numpy's bootstrap
    draws, scipy's matrix square root)."""
    import scipy

    return cache_key(kind, real=real_key, generated=generated, metrics_version=METRICS_VERSION,
                     torch_fidelity=_fidelity_version(), numpy=np.__version__, scipy=scipy.__version__, **settings)


def _json_validator(required: set[str]) -> Callable[[object], dict]:
    """For {"json": str} entries: the decoded dict, which must hold `required` keys."""
    import json

    from .cache import CacheEntryInvalid

    def check(obj) -> dict:
        text = obj.get("json") if isinstance(obj, dict) else None
        out = json.loads(text) if isinstance(text, str) else None
        if not isinstance(out, dict) or not required <= set(out):
            raise CacheEntryInvalid(f"expected a result with {', '.join(sorted(required))}")
        return out
    return check


def _json_round_trip(result: dict) -> tuple[dict, dict]:
    """(the result as it reads back from the cache, the cache entry): a miss and a hit return equal dicts."""
    import json

    text = json.dumps(result)
    return json.loads(text), {"json": text}


@torch.no_grad()
def generated_features(gen: Generator, ids: list[int], seed: int, extractor: Extractor, fe, patch: Patch | None = None,
                       batch_size: int = 64, on_batch: Callable[[int], None] | None = None, use_cache: bool = True) -> torch.Tensor:
    """Generate ids in batches (patched if given), convert to uint8, extract features; never holds all images.
    Cached by generated_features_key, so an identical re-run (e.g. the same checkpoint in CI) is cheap."""
    key = generated_features_key(gen, ids, seed, extractor, patch)
    if use_cache:
        hit = distributed.cached_collectively(
            lambda: load_cached("gen_features", key, validate=features_validator(len(ids))))
        if hit is not None:
            if on_batch:
                on_batch(len(ids))
            return hit
    feats = []
    bad_images: list[int] = []  # sample ids whose image holds NaN/Inf (to_uint8 would turn them into black pixels)
    bad_feats: list[int] = []
    ctx = patch.applied(gen) if patch is not None else None
    if ctx is not None:
        ctx.__enter__()
    try:
        mine = distributed.shard(len(ids))  # positions in ids: all of them, or this rank's block under torchrun
        for lo in range(mine.start, mine.stop, batch_size):
            batch_ids = ids[lo:min(lo + batch_size, mine.stop)]
            raw = gen.module(gen.latents(batch_ids, seed))
            finite = torch.isfinite(raw.reshape(raw.shape[0], -1)).all(1).cpu()
            bad_images += [i for i, ok in zip(batch_ids, finite.tolist()) if not ok]
            images = gen.to_uint8(raw).cpu()
            f = extract(extractor, images, batch_size, fe)
            bad_feats += [i for i, ok in zip(batch_ids, torch.isfinite(f).all(1).tolist()) if not ok]
            feats.append(f)
            if on_batch:
                on_batch(len(batch_ids) * distributed.world_size())
    finally:
        if ctx is not None:
            ctx.__exit__(None, None, None)
    # under torchrun: every rank's block, concatenated in rank order = the ids' order; every rank sees every
    # rank's non-finite ids, so all of them refuse together (no rank left waiting in a collective)
    bad_images = [i for part in distributed.gather(bad_images) for i in part]
    bad_feats = [i for part in distributed.gather(bad_feats) for i in part]
    check_finite_samples(gen, ids, seed, patch, bad_images, bad_feats, extractor)
    out = torch.cat([f for f in distributed.gather(torch.cat(feats) if feats else None) if f is not None])
    if use_cache:
        save_cached("gen_features", key, {"features": out})
    return out


@torch.no_grad()
def top_activation_ids(gen: Generator, patch: Patch, pool: int, n: int, seed: int, batch_size: int = 64,
                       use_cache: bool = False) -> list[int]:
    """The n ids of 0…pool−1 where the patch's units fire most (sum over units of spatial means);
    cached (with `use_cache`) by model, layer, units, pool, n, seed and device."""
    if n > pool:
        raise UsageError(f"pool={pool} must be at least samples={n}")
    key = cache_key("top_ids", fingerprint=gen.fingerprint, z_shape=list(gen.z_shape), device=gen.device.type,
                    layer=patch.layer, units=list(patch.units), pool=pool, n=n, seed=seed)
    if use_cache:
        def valid(obj):
            ids = obj.get("ids") if isinstance(obj, dict) else None
            if not isinstance(ids, list) or len(ids) != n or not all(isinstance(i, int) and 0 <= i < pool for i in ids):
                from .cache import CacheEntryInvalid
                raise CacheEntryInvalid(f"expected {n} sample ids below {pool}")
            return ids
        hit = distributed.cached_collectively(lambda: load_cached("top_ids", key, validate=valid))
        if hit is not None:
            return hit
    ids = _top_activation_ids(gen, patch, pool, n, seed, batch_size)
    if use_cache:
        save_cached("top_ids", key, {"ids": ids})
    return ids


def _top_activation_ids(gen: Generator, patch: Patch, pool: int, n: int, seed: int, batch_size: int) -> list[int]:
    scores = []
    idx = torch.tensor(patch.units)
    with Trace(gen.module, [patch.layer]) as tr:
        for lo in range(0, pool, batch_size):
            ids = list(range(lo, min(pool, lo + batch_size)))
            acts = tr.run(gen.latents(ids, seed))[patch.layer]
            scores.append(acts[:, idx.to(acts.device)].flatten(2).mean(2).sum(1).cpu())
    order = torch.argsort(torch.cat(scores), descending=True, stable=True)[:n]
    return sorted(int(i) for i in order)


def score_generator(gen: Generator, real: RealSource, features: str | None = None, samples: int = defaults.SCORE_SAMPLES,
                    seed: int = defaults.SEED, patch: Patch | None = None, inception_weights: str | None = None,
                    kid_subset_size: int | None = defaults.KID_SUBSET_SIZE, batch_size: int = defaults.BATCH_SIZE,
                    use_cache: bool = True, on_batch=None, kid_subsets: int = defaults.KID_SUBSETS,
                    offline: bool | None = None) -> dict:
    """FID/KID of ids 0…samples−1 (optionally patched) against `samples` real images; `features` None: the
    generator's default (ganfix.defaults.features_for)."""
    if batch_size < 1:
        raise UsageError(f"batch_size must be at least 1, got {batch_size}")
    from .real_sets import offline_features_for

    subset = check_kid_subset(samples, kid_subset_size)
    extractor = resolve_extractor(features or defaults.features_for(gen), inception_weights, offline,
                                  offline_features_for(gen))
    ids = list(range(samples))
    real_key = real_features_key(real, samples, extractor)
    key = metrics_key("score_metrics", real_key, {"generated": generated_features_key(gen, ids, seed, extractor, patch)},
                      samples=samples, kid_subset_size=subset, kid_subsets=kid_subsets, kid_seed=seed)
    labels = {"samples": samples, "features": extractor.name, "feature_layer": extractor.layer,
              "metric": extractor.metric_name, "real_label": real.label}
    if use_cache:  # the numbers of an identical earlier run: nothing is generated, extracted or imported
        hit = distributed.cached_collectively(
            lambda: load_cached("score_metrics", key, validate=_json_validator({"fid", "kid_mean", "kid_std"})))
        if hit is not None:
            if on_batch:
                on_batch(samples)
            return {**hit, **labels}
    real_feats = check_finite_real(real_features(real, samples, extractor, batch_size, use_cache, key=real_key),
                                   extractor, real)
    gen_feats = generated_features(gen, ids, seed, extractor, None, patch, batch_size, on_batch, use_cache)
    k_mean, k_std = kid(gen_feats, real_feats, subset, kid_subsets, seed=seed)
    numbers, entry = _json_round_trip({"fid": fid(gen_feats, real_stats(real_feats)), "kid_mean": k_mean, "kid_std": k_std})
    if use_cache:
        save_cached("score_metrics", key, entry)
    return {**numbers, **labels}


# Random unit sets per repair score. 10, not 5: see docs/reproduce.py's "draws" section — with 5 the
# hierarchical interval's upper end moves by more between independent draw sets.
DEFAULT_RANDOM_DRAWS = defaults.RANDOM_DRAWS


def _interval(values: list[float]) -> list[float]:
    return [float(np.percentile(values, 2.5)), float(np.percentile(values, 97.5))]


def auto_bootstrap(feature_dim: int) -> int:
    """Resamples when not given: 200, but 10 for wide features (Inception's 2048-d) where each FID's
    matrix square root costs ~10 s on a CPU and a resample needs 2 + K of them."""
    return 200 if feature_dim <= 512 else 10


HIERARCHICAL_METHOD = ("hierarchical bootstrap: each resample draws the samples (paired across variants) and, "
                       "independently, the random unit sets (with replacement from the K draws)")


def repair_bootstrap(feats: dict[str, torch.Tensor], rstats: dict, draws: int, bootstrap: int, seed: int) -> dict:
    """Bootstrap intervals for a repair from per-sample features of `original`, `patched`, `random0…`.

    Samples are resampled with replacement, paired (the same latents for every variant). For
    patched − random the random unit sets are resampled too (K of the K draws, with replacement,
    from an independent stream): the interval then includes how much the answer depends on which
    random units were drawn (`ci95_vs_random`). `ci95_vs_random_paired` keeps the draws fixed (the
    sample-only interval, narrower when the draws disagree); with identical draws both are equal.
    `per_draw_ci95[d]` is the paired interval of patched − draw d."""
    if bootstrap == 0:
        return {"ci95": None, "ci95_vs_random": None, "ci95_vs_random_paired": None, "per_draw_ci95": [None] * draws}
    n = feats["original"].shape[0]
    rng = np.random.default_rng([seed, 0xB007])  # samples: the same stream as the earlier paired-only bootstrap
    rng_draws = np.random.default_rng([seed, 0xD4A5])
    d_orig, d_paired, d_hier, per_draw = [], [], [], [[] for _ in range(draws)]
    for _ in range(bootstrap):
        idx = torch.from_numpy(rng.integers(0, n, n))
        pick = rng_draws.integers(0, draws, draws)
        f_o = fid(feats["original"][idx], rstats)
        f_p = fid(feats["patched"][idx], rstats)
        f_r = np.array([fid(feats[f"random{d}"][idx], rstats) for d in range(draws)])
        d_orig.append(f_p - f_o)
        d_paired.append(f_p - float(f_r.mean()))
        d_hier.append(f_p - float(f_r[pick].mean()))
        for d in range(draws):
            per_draw[d].append(f_p - float(f_r[d]))
    return {"ci95": _interval(d_orig), "ci95_vs_random": _interval(d_hier), "ci95_vs_random_paired": _interval(d_paired),
            "per_draw_ci95": [_interval(v) for v in per_draw]}


def random_beats_patch(random_fids: list[float], patched_fid: float) -> dict:
    """Permutation-style answer: how often does a random unit set of the same size do at least as well?

    `fraction`: share of the K draws with FID ≤ the patch's; `ci95`: the exact (Clopper–Pearson)
    binomial interval for that share among all random sets; `p_value`: (k + 1) / (K + 1), the
    Monte-Carlo permutation p-value for "the patch is no better than a random set"."""
    from scipy.stats import beta

    k, K = int(sum(f <= patched_fid for f in random_fids)), len(random_fids)
    lo = 0.0 if k == 0 else float(beta.ppf(0.025, k, K - k + 1))
    hi = 1.0 if k == K else float(beta.ppf(0.975, k + 1, K - k))
    return {"count": k, "draws": K, "fraction": k / K, "ci95": [lo, hi], "p_value": (k + 1) / (K + 1)}


def score_repair(gen: Generator, patch: Patch, real: RealSource, features: str | None = None,
                 samples: int = defaults.SCORE_SAMPLES, seed: int = defaults.SEED, random_draws: int = defaults.RANDOM_DRAWS,
                 selection: str = defaults.SELECT, pool: int | None = None, bootstrap: int | None = defaults.BOOTSTRAP,
                 inception_weights: str | None = None, kid_subset_size: int | None = defaults.KID_SUBSET_SIZE,
                 batch_size: int = defaults.BATCH_SIZE, use_cache: bool = True,
                 progress: Callable[[str, int, int], None] | None = None, kid_subsets: int = defaults.KID_SUBSETS,
                 offline: bool | None = None) -> dict:
    """Original vs patched vs K random patches on the same latents, with bootstrap intervals."""
    subset = check_repair_args(samples, random_draws, selection, pool, bootstrap, kid_subset_size, batch_size)
    patch.check(gen, force=True)
    if selection == "all":
        ids = list(range(samples))
    else:  # "top" (check_repair_args refuses anything else)
        ids = top_activation_ids(gen, patch, pool or samples * defaults.POOL_FACTOR, samples, seed, batch_size, use_cache)
    from .real_sets import offline_features_for

    extractor = resolve_extractor(features or defaults.features_for(gen), inception_weights, offline,
                                  offline_features_for(gen))
    num_units = gen.layer(patch.layer).units
    randoms = [patch.random_like(num_units, d, seed) for d in range(random_draws)]
    variants = [("original", None), ("patched", patch)] + [(f"random{d}", p) for d, p in enumerate(randoms)]
    real_key = real_features_key(real, samples, extractor)
    # The whole report (FIDs, KIDs, bootstrap intervals) of an identical earlier run; `bootstrap` as requested
    # (None: the automatic count, which the extractor in the feature keys decides).
    key = metrics_key("repair_report", real_key,
                      {name: generated_features_key(gen, ids, seed, extractor, p) for name, p in variants},
                      samples=samples, seed=seed, selection=selection, pool=pool if selection == "top" else None,
                      random_draws=random_draws, bootstrap=bootstrap, kid_subset_size=subset, kid_subsets=kid_subsets)
    if use_cache:
        hit = distributed.cached_collectively(lambda: load_cached(
            "repair_report", key, validate=_json_validator({"settings", "original", "patched", "random", "delta"})))
        if hit is not None:
            if progress:
                for name, _ in variants:
                    progress(name, len(ids), len(variants) * len(ids))
            hit["settings"].update(generator=gen.name, real_label=real.label)  # names only: not part of the key
            return hit
    real_feats = check_finite_real(real_features(real, samples, extractor, batch_size, use_cache, key=real_key),
                                   extractor, real)
    rstats = real_stats(real_feats)
    feats: dict[str, torch.Tensor] = {}
    for i, (name, p) in enumerate(variants):
        cb = (lambda n, name=name: progress(name, n, len(variants) * len(ids))) if progress else None
        feats[name] = generated_features(gen, ids, seed, extractor, None, p, batch_size, cb, use_cache)

    def metrics(name: str) -> dict:
        k_mean, k_std = kid(feats[name], real_feats, subset, kid_subsets, seed=seed)
        return {"fid": fid(feats[name], rstats), "kid_mean": k_mean, "kid_std": k_std}

    scores = {name: metrics(name) for name, _ in variants}
    draws = [{"units": p.units, **scores[f"random{d}"]} for d, p in enumerate(randoms)]
    rand_fids = [d["fid"] for d in draws]
    rand_kids = [d["kid_mean"] for d in draws]

    if bootstrap is None:
        bootstrap = auto_bootstrap(real_feats.shape[1])
    boot = repair_bootstrap(feats, rstats, random_draws, bootstrap, seed)
    rand_mean = float(np.mean(rand_fids))
    for d, draw in enumerate(draws):
        draw["fid_patched_minus_draw"] = scores["patched"]["fid"] - draw["fid"]
        draw["ci95_patched_minus_draw"] = boot["per_draw_ci95"][d]
    report = {
        "settings": {"generator": gen.name, "fingerprint": gen.fingerprint, "layer": patch.layer, "units": patch.units,
                     "samples": samples, "seed": seed, "selection": selection, "pool": pool if selection == "top" else None,
                     "features": extractor.name, "feature_layer": extractor.layer, "metric": extractor.metric_name,
                     "real_label": real.label, "random_draws": random_draws,
                     "bootstrap": bootstrap, "kid_subset_size": subset, "kid_subsets": kid_subsets, "real": real.identity(samples)},
        "original": scores["original"],
        "patched": scores["patched"],
        "random": {"draws": draws, "fid_mean": rand_mean, "fid_std": float(np.std(rand_fids, ddof=1)) if len(rand_fids) > 1 else 0.0,
                   "fid_sem": float(np.std(rand_fids, ddof=1) / np.sqrt(len(rand_fids))) if len(rand_fids) > 1 else 0.0,
                   "kid_mean": float(np.mean(rand_kids)), "kid_std": float(np.std(rand_kids, ddof=1)) if len(rand_kids) > 1 else 0.0},
        "delta": {
            "fid_patched_minus_original": scores["patched"]["fid"] - scores["original"]["fid"],
            "ci95": boot["ci95"],
            "fid_patched_minus_random_mean": scores["patched"]["fid"] - rand_mean,
            "ci95_vs_random": boot["ci95_vs_random"],
            "ci95_vs_random_paired": boot["ci95_vs_random_paired"],
            "ci95_vs_random_method": HIERARCHICAL_METHOD,
        },
        "random_beats_patch": random_beats_patch(rand_fids, scores["patched"]["fid"]),
        "sample_ids": {"first": ids[:16], "count": len(ids)},
    }
    report, entry = _json_round_trip(report)
    if use_cache:
        save_cached("repair_report", key, entry)
    return report


def num(value: float, spec: str = ".2f") -> str:
    """`value` formatted with `spec`, negative numbers with the minus sign (U+2212) the reports and docs use."""
    return format(value, spec).replace("-", "\u2212")


def verdict(report: dict) -> str:
    """One sentence on whether the patch beats random ablation, judged on the bootstrap interval."""
    d = report["delta"]
    ci = d.get("ci95_vs_random")
    if ci is None:
        return "no bootstrap interval computed"
    rb = report.get("random_beats_patch")
    beaten = f"; {rb['count']} of {rb['draws']} random sets did as well" if rb else ""
    settings = report.get("settings", {})
    metric = settings.get("metric", "FID")
    if settings.get("real_label"):
        metric = f"{metric} vs {settings['real_label']}"
    interval = f"95% CI {num(ci[0])}…{num(ci[1])}"
    if ci[1] < 0:
        return (f"the patch beats random ablation: {metric} {num(d['fid_patched_minus_random_mean'])} vs random mean "
                f"({interval}, samples and random draws resampled){beaten}")
    if ci[0] > 0:
        return f"the patch is WORSE than random ablation ({interval}){beaten}"
    return f"no clear difference from random ablation ({interval} of patched − random includes 0){beaten}"
