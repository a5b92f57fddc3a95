"""`ganfix.rank(gen, layer, by=…)`: run one registered ranker on a layer → Ranking (with the layer's UnitStats)."""
from __future__ import annotations

from typing import Any, Iterable, Optional

from .. import defaults
from ..errors import UsageError
from ..generator import Generator
from ..ranking import Ranking
from ..ranking.registry import RankContext, check_options, get_ranker, progress_factory, rankers
from ..stats.tally import check_sample_args


def rank(gen: Generator, layer: str, by: str = defaults.RANKING, *, samples: int = defaults.RANK_SAMPLES,
         seed: int = defaults.SEED, batch_size: int = defaults.BATCH_SIZE, k: int = defaults.TOP_K,
         units: Optional[Iterable[int]] = None, use_cache: bool = True, with_stats: bool = True, progress=None,
         **options: Any) -> Ranking:
    """Rank the units of `layer` with the ranker `by` (see `ganfix.ranking.ranker_names()`).

    `samples`/`seed` are the statistics pass (and the samples of iou/ace); `units` restricts per-unit scans
    (ablation) to those units; `options` go to the ranker (e.g. `features=`, `real=`, `scan_samples=`,
    `suggest=` for ablation; `segmenter=` for iou/ace). The ranking carries the layer's UnitStats
    (`ranking.stats`, one cached pass) unless `with_stats=False`, and what the ranker found on the way
    (`ranking.details`, e.g. the ablation scan)."""
    check_sample_args(samples, batch_size, k)
    ranker, argument = get_ranker(by)
    _refuse_foreign_options(ranker, options)
    opts = check_options(ranker, options)
    gen.layer(layer)
    only = gen.check_units(layer, units) if units is not None else None
    ctx = RankContext(gen, layer, by, samples, seed, batch_size, k, use_cache, argument, only, progress_factory(progress))
    ranking = ranker.rank(ctx, **opts)
    if with_stats and ranking.stats is None:
        ranking.stats = ctx.stats()
    return ranking


def _refuse_foreign_options(ranker, options: dict) -> None:
    """An option of another ranker (e.g. suggest= without by="ablation") names the ranker that takes it."""
    for name in options:
        if name in ranker.options:
            continue
        takers = [n for n, r in rankers().items() if name in r.options]
        if takers:
            raise UsageError(f"{name}= works with the {takers[0]} ranking, not {ranker.name!r}; add by={takers[0]}")


def ranking_report(gen: Generator, ranking: Ranking, samples: int, seed: int,
                   units: Optional[Iterable[int]] = None) -> dict:
    """The JSON of `ganfix rank` (ranking.json): one row per unit (rank, score, statistics; ΔFID/ΔKID when an
    ablation scan ran), restricted to `units` when given, plus the scan's settings and any suggested set."""
    stats = ranking.stats
    only = set(units) if units is not None else None
    scan = ranking.details.get("scan")
    rows = [dict(rank=i + 1, score=float(ranking.scores[u]), **stats.summary(u)) for i, u in enumerate(ranking.order)
            if only is None or u in only]
    if scan is not None:
        for r in rows:
            r["delta_fid"], r["delta_kid"] = scan.delta(r["unit"])
    auto = ranking.details.get("automatic")
    if auto is not None:
        for r in rows:
            r["methods"] = {m: float(v[r["unit"]]) for m, v in auto.methods.items()}
    report = {"generator": gen.describe(), "layer": ranking.layer, "by": ranking.by, "samples": samples, "seed": seed,
              "quantile_rank_error_bound": stats.sample.rank_error_bound(), "units": rows}
    if scan is not None:
        report["ablation_scan"] = {"samples": scan.samples, "features": scan.features, "base_fid": scan.base_fid,
                                   "base_kid": scan.base_kid, "real": ranking.details["real"],
                                   "real_seed": ranking.details["real_seed"]}
        if ranking.details.get("suggested") is not None:
            report["suggested"] = ranking.details["suggested"].to_dict()
    if auto is not None:
        report["automatic"] = auto.settings
    return report
