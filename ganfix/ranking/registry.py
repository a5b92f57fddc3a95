"""One ranking verb: named Rankers in a registry, and `rank(gen, layer, by=…)` that runs one.

A Ranker orders the units of a layer. It has a `name` (what `--by` and `by=` accept; a ranker with
`argument` set is asked for as `name:<argument>`, e.g. `iou:door`), a one-line `description`, the
keyword `options` it accepts with their defaults, and `rank(ctx, **options) -> Ranking`. The context
holds what every ranker may need (generator, layer, samples, seed, batch size, cache, progress) and
tallies the layer's UnitStats once, on demand, for rankers and reports that want them.

    from ganfix.ranking import RankContext, Ranking, register_ranker

    class Loudest:
        name, description, argument = "loudest", "largest single activation", None
        options = {}
        def rank(self, ctx: RankContext) -> Ranking:
            return ctx.ranking_from_scores(ctx.stats().topk.values[:, 0])   # higher first

    register_ranker(Loudest())          # a second ranker named "loudest" is refused (ValueError)
"""
from __future__ import annotations

import inspect
from dataclasses import dataclass, field
from typing import Any, Callable, ContextManager, Mapping, Optional, Protocol, runtime_checkable

import torch

from .. import defaults
from ..errors import UsageError
from ..generator import Generator
from ..stats import UnitStats
from .core import Ranking

ProgressFactory = Callable[[str, int], ContextManager[Callable[[int], None]]]


@runtime_checkable
class Ranker(Protocol):
    name: str
    description: str
    argument: Optional[str]      # None, or what follows "name:" (e.g. "class" for iou:<class>)
    options: Mapping[str, Any]   # keyword options of rank() and their defaults

    def rank(self, ctx: "RankContext", **options: Any) -> Ranking: ...


def silent_progress(description: str, total: int):
    from contextlib import nullcontext

    return nullcontext(lambda n=1: None)


def progress_factory(progress: ProgressFactory | bool | None) -> ProgressFactory:
    """True/None: progress on stderr (a bar on a terminal, periodic lines otherwise); False: silent."""
    if progress is False:
        return silent_progress
    if progress is None or progress is True:
        from ..progress import progress as stderr_progress

        return stderr_progress
    return progress


@dataclass
class RankContext:
    """What a ranker is given: the layer to rank and how to sample it."""
    gen: Generator
    layer: str
    by: str = ""                           # as asked for, e.g. "iou:door"
    samples: int = defaults.RANK_SAMPLES
    seed: int = defaults.SEED
    batch_size: int = defaults.BATCH_SIZE
    k: int = defaults.TOP_K
    use_cache: bool = True
    argument: Optional[str] = None         # the part after "name:" in by="name:argument"
    units: Optional[list[int]] = None      # restrict costly per-unit rankers (e.g. the ablation scan) to these
    progress: ProgressFactory = silent_progress
    _stats: Optional[UnitStats] = field(default=None, repr=False)

    def stats(self) -> UnitStats:
        """The layer's UnitStats from one streaming pass (cached on disk and here)."""
        if self._stats is None:
            from ..stats.tally import tally_unit_stats

            with self.progress(f"tally {self.layer}", self.samples) as step:
                self._stats = tally_unit_stats(self.gen, self.layer, self.samples, seed=self.seed,
                                               batch_size=self.batch_size, k=self.k, use_cache=self.use_cache,
                                               on_batch=step)
        return self._stats

    def ranking_from_scores(self, scores: torch.Tensor, **details: Any) -> Ranking:
        """Higher score first; equal scores keep unit order (a stable sort), so rankings are deterministic."""
        scores = scores.float()
        return Ranking(self.layer, self.by, scores, torch.argsort(-scores, stable=True).tolist(), details=dict(details))


_RANKERS: dict[str, Ranker] = {}


def register_ranker(ranker: Ranker) -> Ranker:
    """Add a ranker; a name already registered is refused (ValueError), as torch-fidelity's register_* do."""
    name = getattr(ranker, "name", None)
    if not isinstance(name, str) or not name or ":" in name:
        raise ValueError(f"a ranker needs a name without ':' (got {name!r})")
    for attr in ("description", "options", "rank"):
        if not hasattr(ranker, attr):
            raise ValueError(f"ranker {name!r} has no {attr!r}")
    if name in _RANKERS:
        raise ValueError(f"a ranker named {name!r} is already registered")
    _RANKERS[name] = ranker
    return ranker


def rankers() -> dict[str, Ranker]:
    _load_builtin_rankers()
    return dict(_RANKERS)


def ranker_names() -> list[str]:
    """As `--by` accepts them: `max`, …, `iou:<class>`."""
    return [n if r.argument is None else f"{n}:<{r.argument}>" for n, r in rankers().items()]


def get_ranker(by: str) -> tuple[Ranker, Optional[str]]:
    """The ranker for `by` ("name" or "name:argument") and its argument; UsageError listing the valid names."""
    _load_builtin_rankers()
    name, _, arg = by.partition(":")
    ranker = _RANKERS.get(name)
    if ranker is None:
        raise UsageError(f"unknown ranking {by!r}; choose one of: {', '.join(ranker_names())}")
    if ranker.argument is not None and not arg:
        raise UsageError(f"ranking {name!r} needs a {ranker.argument}: by={name}:<{ranker.argument}>")
    if ranker.argument is None and arg:
        raise UsageError(f"ranking {name!r} takes no argument, got {by!r}")
    return ranker, (arg or None)


def check_options(ranker: Ranker, options: Mapping[str, Any]) -> dict[str, Any]:
    """The ranker's options with the given ones filled in; UsageError on a name it does not take."""
    unknown = sorted(set(options) - set(ranker.options))
    if unknown:
        takes = ", ".join(ranker.options) or "no options"
        raise UsageError(f"ranking {ranker.name!r} does not take {', '.join(unknown)} (it takes: {takes})")
    return {**ranker.options, **options}


_builtins_loaded = False


def _load_builtin_rankers() -> None:
    global _builtins_loaded
    if not _builtins_loaded:
        _builtins_loaded = True
        from . import builtin  # noqa: F401  (registers max, mean, sparsity, ablation, iou, ace)


class StatsRanker:
    """A ranker computed from the layer's UnitStats alone: score = fn(stats), one per unit."""
    argument = None
    options: Mapping[str, Any] = {}

    def __init__(self, name: str, fn: Callable[[UnitStats], torch.Tensor], description: str = ""):
        self.name, self.fn, self.description = name, fn, description

    def scores(self, stats: UnitStats) -> torch.Tensor:
        return self.fn(stats).float()

    def rank(self, ctx: RankContext) -> Ranking:
        return ctx.ranking_from_scores(self.scores(ctx.stats()))


def register_strategy(name: str, fn: Callable[[UnitStats], torch.Tensor], description: str = "") -> Ranker:
    """Register a ranker computed from UnitStats: `fn(stats) -> Tensor[d]`, higher ranks first."""
    return register_ranker(StatsRanker(name, fn, description))


def signature_options(fn: Callable, skip: int = 1) -> dict[str, Any]:
    """The keyword options (and defaults) of a function, after its first `skip` parameters."""
    params = list(inspect.signature(fn).parameters.values())[skip:]
    return {p.name: p.default for p in params if p.default is not inspect.Parameter.empty}
