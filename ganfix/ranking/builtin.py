"""The built-in rankers: max, mean, sparsity (from UnitStats), ablation (single-unit ablation scan),
iou:<class> (dissection IoU with a segmentation class) and ace:<class> (single-unit causal effect)."""
from __future__ import annotations

from typing import Optional

import torch

from .. import defaults
from ..errors import UsageError
from .core import Ranking, sparsity, topk_mean
from .registry import RankContext, register_ranker, register_strategy

register_strategy("max", topk_mean, "mean of the top-k per-sample maxima")
register_strategy("mean", lambda s: s.mean, "mean activation")
register_strategy("sparsity", sparsity, "strong but rare firing: top-k mean ÷ (|q99| + std)")


class AblationRanker:
    """Each unit ablated alone on the same latents: units whose removal lowers FID most rank first.
    Optionally (`suggest=N`) forward selection builds a set of up to N units from the helpful ones."""
    name = "ablation"
    argument = None
    description = ("ablate each unit alone and rank by how much FID drops (artifact candidates first); one scoring "
                   "pass per unit")
    options = {"scan_samples": defaults.SCAN_SAMPLES, "features": None, "real": None, "real_seed": defaults.REAL_SEED,
                "inception_weights": None, "kid_subset_size": None, "suggest": 0}

    def rank(self, ctx: RankContext, scan_samples: int, features: Optional[str], real: Optional[str], real_seed: int,
             inception_weights: Optional[str], kid_subset_size: Optional[int], suggest: int) -> Ranking:
        from ..inputs import at_least, check_features, open_real
        from ..scoring import check_kid_subset
        from .ablation import greedy_set, scan_ablations

        at_least("scan_samples", scan_samples, 2)
        if suggest < 0:
            raise UsageError(f"suggest must be 0 (off) or a number of units, got {suggest}")
        real_src = open_real(ctx.gen, real, real_seed, scan_samples, param="scan_samples")
        features = check_features(ctx.gen, features, inception_weights)
        check_kid_subset(scan_samples, kid_subset_size, param="scan_samples")
        total = len(ctx.units) if ctx.units is not None else ctx.gen.layer(ctx.layer).units
        with ctx.progress(f"ablation scan {ctx.layer}", total) as step:
            scan = scan_ablations(ctx.gen, ctx.layer, real_src, features, scan_samples, ctx.seed, ctx.units,
                                  inception_weights, kid_subset_size, ctx.batch_size, ctx.use_cache,
                                  on_unit=lambda u: step(1), kid_subsets=defaults.SCAN_KID_SUBSETS)
        suggested = None
        if suggest:
            with ctx.progress(f"forward selection {ctx.layer}", len(scan.helpful())) as step:
                suggested = greedy_set(ctx.gen, scan, real_src, features, suggest, inception_weights, ctx.batch_size,
                                       ctx.use_cache, on_step=lambda u: step(1))
        ranking = scan.ranking()
        ranking.details = {"scan": scan, "suggested": suggested, "real_seed": real_seed,
                           "real": real if real is not None else defaults.real_for(ctx.gen)}
        return ranking


class _ClassRanker:
    """Shared by iou:<class> and ace:<class>: the segmenter, the class and the layer's dissection."""
    argument = "class"

    def dissection(self, ctx: RankContext, segmenter):
        from ..dissection import dissect
        from ..segmenters import class_index, load_segmenter, require_segmenter

        segmenter = require_segmenter(ctx.gen, segmenter)  # None: the built-in generator's own
        seg = load_segmenter(segmenter) if isinstance(segmenter, str) else segmenter  # a spec, or a Segmenter
        cls = class_index(seg, ctx.argument)
        with ctx.progress(f"dissect {ctx.layer}", 2 * ctx.samples) as step:
            dis = dissect(ctx.gen, [ctx.layer], seg, ctx.samples, ctx.seed, ctx.batch_size, use_cache=ctx.use_cache,
                          on_batch=step)[ctx.layer]
        return seg, cls, dis


class IouRanker(_ClassRanker):
    name = "iou"
    description = "IoU of the unit's firing region with a segmentation class (dissection), e.g. iou:tree"
    options = {"segmenter": None}

    def rank(self, ctx: RankContext, segmenter) -> Ranking:
        _, cls, dis = self.dissection(ctx, segmenter)
        return ctx.ranking_from_scores(torch.nan_to_num(dis.iou_uc[:, cls], nan=-1.0), dissection=dis, class_index=cls)


class AceRanker(_ClassRanker):
    name = "ace"
    description = ("average causal effect of the unit alone on a class (ablate where present, insert where absent), "
                   "e.g. ace:door; scores the top `candidates` units by IoU")
    options = {"segmenter": None, "candidates": defaults.ACE_CANDIDATES,
               "ace_samples": defaults.ACE_UNIT_SAMPLES, "insert_value": defaults.INSERT_VALUE}

    def rank(self, ctx: RankContext, segmenter, candidates: int, ace_samples: int, insert_value: str) -> Ranking:
        from ..dissection import insertion_values, single_unit_ace

        seg, cls, dis = self.dissection(ctx, segmenter)
        value = insertion_values(ctx.gen, seg, ctx.layer, cls, ctx.samples, ctx.seed, ctx.batch_size, insert_value,
                                 use_cache=ctx.use_cache)
        cands = dis.class_ranking(cls)[: candidates or dis.num_units]
        with ctx.progress("single-unit ACE", len(cands)) as step:
            per_unit = single_unit_ace(ctx.gen, seg, ctx.layer, cls, value, cands, min(ace_samples, ctx.samples),
                                       ctx.seed, ctx.batch_size, on_unit=step)
        scores = torch.full((dis.num_units,), float("-inf"))
        for u, a in per_unit.items():
            scores[u] = a
        return ctx.ranking_from_scores(scores, dissection=dis, class_index=cls, ace=per_unit, insert_values=value)


class AutomaticRanker:
    """The automatic artifact rankers (ganfix.ranking.automatic) on one pool of ctx.samples seeded samples."""
    argument = None
    options = {"features": None, "real": None, "real_seed": defaults.REAL_SEED, "inception_weights": None,
               "top_samples": None}

    def __init__(self, name: str):
        from .automatic import DESCRIPTIONS

        self.name, self.description = name, DESCRIPTIONS[name]

    def rank(self, ctx: RankContext, features: Optional[str], real: Optional[str], real_seed: int,
             inception_weights: Optional[str], top_samples: Optional[int]) -> Ranking:
        from ..inputs import features_name, open_real
        from .automatic import NEEDS_REAL, rank_automatic

        real_src = open_real(ctx.gen, real, real_seed, ctx.samples) if NEEDS_REAL[self.name] else None
        with ctx.progress(f"pool pass {ctx.layer}", ctx.samples) as step:
            auto = rank_automatic(ctx.gen, ctx.layer, self.name, real_src, features_name(ctx.gen, features),
                                  ctx.samples, ctx.seed, top_samples, inception_weights, ctx.batch_size, ctx.use_cache,
                                  on_batch=step)
        auto.ranking.details = {"automatic": auto}
        return auto.ranking


register_ranker(AblationRanker())
register_ranker(IouRanker())
register_ranker(AceRanker())


def _register_automatic() -> None:
    from .automatic import AUTOMATIC

    for name in AUTOMATIC:
        register_ranker(AutomaticRanker(name))


_register_automatic()
