"""The ranker registry: one verb (ganfix.rank) for every ranking, duplicate names refused, plug-in rankers."""
from __future__ import annotations

import json

import pytest
import torch
from typer.testing import CliRunner

import ganfix
from ganfix.cli.app import app
from ganfix.errors import UsageError
from ganfix.ranking import RankContext, get_ranker, rank_units, ranker_names, register_ranker
from ganfix.ranking.registry import _RANKERS
from synthetic_fixtures import gen, seg  # noqa: F401  (pytest fixtures)


def test_builtin_rankers_are_registered():
    assert ranker_names()[:6] == ["max", "mean", "sparsity", "ablation", "iou:<class>", "ace:<class>"]
    with pytest.raises(UsageError, match="needs a class"):
        get_ranker("iou")
    with pytest.raises(UsageError, match="choose one of: max, mean, sparsity, ablation"):
        get_ranker("nope")


def test_duplicate_names_are_refused():
    with pytest.raises(ValueError, match="already registered"):
        register_ranker(get_ranker("max")[0])
    from ganfix.registry import get_builtin_generator, register_generator

    with pytest.raises(ValueError, match="already registered"):
        register_generator(get_builtin_generator("toyscenes"))


def test_statistics_rankers_agree_with_rank_units(small_progan_path):
    g = ganfix.load_generator(str(small_progan_path))
    r = ganfix.rank(g, "layer4", by="sparsity", samples=64, progress=False)
    assert r.by == "sparsity" and r.order == rank_units(r.stats, by="sparsity").order and len(r.order) == 32
    with pytest.raises(UsageError, match="ganfix.rank"):
        rank_units(r.stats, by="ablation")  # not a statistic: the message says what to call
    with pytest.raises(UsageError, match="add by=ablation"):
        ganfix.rank(g, "layer4", by="max", samples=64, suggest=3)


class Loudest:
    name, argument = "test-loudest", None
    description = "largest single activation seen"
    options = {"negate": False}

    def rank(self, ctx: RankContext, negate: bool):
        best = ctx.stats().topk.values[:, 0]
        return ctx.ranking_from_scores(-best if negate else best)


def test_a_registered_ranker_runs_in_the_library_and_the_cli(small_progan_path):
    register_ranker(Loudest())
    try:
        g = ganfix.load_generator(str(small_progan_path))
        r = ganfix.rank(g, "layer4", by="test-loudest", samples=64, progress=False)
        flipped = ganfix.rank(g, "layer4", by="test-loudest", samples=64, progress=False, negate=True)
        assert torch.equal(flipped.scores, -r.scores) and r.scores[r.order[0]] == r.scores.max()
        res = CliRunner().invoke(app, ["rank", str(small_progan_path), "--layer", "layer4", "--samples", "64",
                                       "--by", "test-loudest", "--top", "32", "--json"])
        assert res.exit_code == 0, res.output
        assert [u["unit"] for u in json.loads(res.stdout)["units"]] == r.order
    finally:
        _RANKERS.pop("test-loudest")


def test_iou_and_ace_rankers_find_the_constructed_door_unit(gen, seg):
    r = ganfix.rank(gen, "layer1", by="iou:door", samples=24, batch_size=8, segmenter=seg, progress=False)
    assert r.top(1) == [gen.module.door_unit] and r.details["dissection"].layer == "layer1"
    a = ganfix.rank(gen, "layer1", by="ace:door", samples=16, batch_size=8, segmenter=seg, candidates=4,
                    ace_samples=8, progress=False, with_stats=False)
    assert a.top(1) == [gen.module.door_unit] and a.stats is None
    assert torch.isinf(a.scores).sum() == a.scores.numel() - 4  # only the candidates were scored
