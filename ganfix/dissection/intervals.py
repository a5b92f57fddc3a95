"""Bootstrap intervals over samples for ACE and insertion context, from saved per-sample values.

Samples are the resampling unit (a sample's insertions at different positions share its scene, so
they are not independent). Deterministic for a seed. Everything here works on plain arrays that the
results save in their JSON, so an interval can be recomputed from a report alone.
"""
from __future__ import annotations

import numpy as np

DEFAULT_BOOTSTRAP = 1000
# Below these, percentile-bootstrap intervals are too unreliable to state an ordering from them.
MIN_SAMPLES_FOR_STATEMENTS = 10
MIN_SAMPLES_PER_CLASS = 5


def _rng(seed: int) -> np.random.Generator:
    return np.random.default_rng([int(seed), 0xC1])


def _ci(values: np.ndarray) -> list[float]:
    return [float(np.percentile(values, 2.5)), float(np.percentile(values, 97.5))]


def ace_intervals(original, ablated, inserted, bootstrap: int = DEFAULT_BOOTSTRAP, seed: int = 0) -> dict:
    """95 % percentile intervals of ACE = E[inserted] − E[ablated], removed = E[original] − E[ablated],
    its fraction of the class, and added = E[inserted] − E[original], from per-sample class fractions."""
    o, a, i = (np.asarray(v, dtype=np.float64) for v in (original, ablated, inserted))
    n = o.size
    if n == 0 or bootstrap <= 0:
        return {}
    idx = _rng(seed).integers(0, n, (bootstrap, n))
    mo, ma, mi = o[idx].mean(1), a[idx].mean(1), i[idx].mean(1)
    removed = mo - ma
    frac = np.divide(removed, mo, out=np.zeros_like(removed), where=mo > 0)
    return {"ace": _ci(mi - ma), "removed": _ci(removed), "removed_fraction_of_class": _ci(frac),
            "added": _ci(mi - mo), "bootstrap": bootstrap, "samples": n}


def context_intervals(gain_sum, count, class_names: list[str], bootstrap: int = DEFAULT_BOOTSTRAP, seed: int = 0,
                      min_insertions: int = 1) -> dict:
    """Per location class: mean gain (Σ gain / Σ insertions over samples) with a 95 % interval, and
    for every ordered pair the interval of the difference (same resampled samples for both).

    gain_sum, count: [S, C] per-sample sums of the class-pixel gain and numbers of insertions, by the
    class at the insertion point. Classes with fewer than `min_insertions` insertions are left out.
    `supported` lists the pairs "a > b" whose difference interval lies above 0, in the order of the
    point estimates; everything else is not distinguishable at this N. No pair is stated with fewer
    than MIN_SAMPLES_FOR_STATEMENTS samples, or for a class present in fewer than
    MIN_SAMPLES_PER_CLASS of them (a percentile bootstrap over a handful of samples is too narrow)."""
    g = np.asarray(gain_sum, dtype=np.float64)
    c = np.asarray(count, dtype=np.float64)
    S, C = g.shape
    tot_n = c.sum(0)
    keep = [k for k in range(C) if tot_n[k] >= max(min_insertions, 1)]
    present = (c > 0).sum(0)
    point = {k: float(g[:, k].sum() / tot_n[k]) for k in keep}
    rows = []
    if bootstrap > 0 and S > 0:
        idx = _rng(seed).integers(0, S, (bootstrap, S))
        gs, cs = g[idx].sum(1), c[idx].sum(1)  # [B, C]
        means = np.divide(gs, cs, out=np.full_like(gs, np.nan), where=cs > 0)
    else:
        means = None
    order = sorted(keep, key=lambda k: -point[k])
    for k in order:
        row = {"location_class": class_names[k], "insertions": int(tot_n[k]), "mean_gain": point[k],
               "samples_with_insertions": int((c[:, k] > 0).sum())}
        if means is not None:
            m = means[:, k]
            row["ci95"] = _ci(m[~np.isnan(m)]) if np.isfinite(m).any() else None
        rows.append(row)
    pairs, supported = [], []
    if means is not None:
        for i, a in enumerate(order):
            for b in order[i + 1:]:
                d = means[:, a] - means[:, b]
                d = d[~np.isnan(d)]
                if d.size == 0:
                    continue
                ci = _ci(d)
                pairs.append({"a": class_names[a], "b": class_names[b], "diff": point[a] - point[b], "ci95": ci})
                enough = S >= MIN_SAMPLES_FOR_STATEMENTS and min(present[a], present[b]) >= MIN_SAMPLES_PER_CLASS
                if ci[0] > 0 and enough:
                    supported.append(f"{class_names[a]} > {class_names[b]}")
    return {"rows": rows, "pairs": pairs, "supported": supported, "samples": S, "bootstrap": bootstrap,
            "statement_rule": f"difference interval above 0, at least {MIN_SAMPLES_FOR_STATEMENTS} samples and each "
                              f"class present in at least {MIN_SAMPLES_PER_CLASS}",
            "order": [class_names[k] for k in order]}


def trace_intervals(per_sample: dict, bootstrap: int = DEFAULT_BOOTSTRAP, seed: int = 0) -> dict:
    """Downstream tracing with intervals: per later layer, mean normalised |Δ| of insertions that
    produced the class (visible) and of those that did not, and the interval of visible − not visible.

    per_sample: {"visible_sum": {layer: [S, C_l]}, "not_visible_sum": {layer: [S, C_l]},
    "visible_n": [S], "not_visible_n": [S], "channel_l1": {layer: [S, C_l]}} (SweepResult.per_sample_trace)."""
    vn = np.asarray(per_sample["visible_n"], dtype=np.float64)
    nn = np.asarray(per_sample["not_visible_n"], dtype=np.float64)
    S = vn.size
    if S == 0:
        return {}
    rng = _rng(seed)
    idx = rng.integers(0, S, (bootstrap, S)) if bootstrap > 0 else None
    out = {}
    for layer in per_sample["visible_sum"]:
        vs = np.asarray(per_sample["visible_sum"][layer], dtype=np.float64)
        ns = np.asarray(per_sample["not_visible_sum"][layer], dtype=np.float64)
        l1 = np.asarray(per_sample["channel_l1"][layer], dtype=np.float64)

        def curve(rows):
            lm = np.clip(l1[rows].mean(0), 1e-12, None)
            v = vs[rows].sum(0) / vn[rows].sum() / lm if vn[rows].sum() > 0 else None
            n_ = ns[rows].sum(0) / nn[rows].sum() / lm if nn[rows].sum() > 0 else None
            return (None if v is None else float(v.mean())), (None if n_ is None else float(n_.mean()))

        v0, n0 = curve(np.arange(S))
        row = {"visible": v0, "not_visible": n0}
        if idx is not None and v0 is not None and n0 is not None:
            boots = [curve(r) for r in idx]
            diffs = np.array([a - b for a, b in boots if a is not None and b is not None])
            row["diff"] = v0 - n0
            row["diff_ci95"] = _ci(diffs) if diffs.size else None
        out[layer] = row
    return out
