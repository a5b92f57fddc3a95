"""The options rank and annotate share: the statistics pass and ranking, and what the rankers that score
against real data (the ablation scan, the automatic rankers) score against."""
from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Optional

import typer

from .. import defaults
from .common import SeedOpt, generator_options, handle_errors, option_group

ScanSamplesOpt = typer.Option(defaults.SCAN_SAMPLES, "--scan-samples", help="With --by ablation: images scored per unit.")
ScanFeaturesOpt = typer.Option(None, "--features", help="With --by ablation, unit-fid, realism or artifact: feature extractor: inception "
                               "(needs torch-fidelity's weights file; the default except for built-ins that name their "
                               "own: toyscenes for the toy generator), a registered one, e.g. toyscenes (offline), or "
                               "your own as path/to/extractor.py:factory (imports and runs that file; see "
                               "docs/your-own-gan.md).")
ScanRealOpt = typer.Option(None, "--real", help="With --by ablation, unit-fid, realism or artifact: real images, a folder of images or 'world' (the "
                           "embedded renderer); required except for built-in generators, which name their own.")
ScanRealSeedOpt = typer.Option(defaults.REAL_SEED, "--real-seed", help="With --real world (ablation and the automatic "
                               "rankers): seed of the real set.")
ScanInceptionOpt = typer.Option(None, "--inception-weights", help="With --by ablation --features inception: path to "
                                "torch-fidelity's Inception weights file.")
ScanSegmenterOpt = typer.Option(None, "--segmenter", help="With --by iou:<class> or ace:<class>: built-in segmenter "
                                "name or path/to/file.py:factory; required except for built-in generators, which "
                                "name their own (toyscenes for the toy generator).")
SuggestOpt = typer.Option(0, "--suggest", help="With --by ablation: also build a set of up to N units by forward "
                          "selection (a unit joins only if the set's FID drops further; single-unit effects do not add "
                          "up). A suggestion to confirm on the contact sheets, then score with another --seed.")
BY_HELP = ("unit-fid, realism, rare, local-activation and artifact are automatic artifact rankers over one pool of "
           "--samples samples (unit-fid, realism and artifact compare with --real in --features space; see README). "
           "'ablation' ablates each unit alone and ranks by how much FID drops (artifact candidates first); it "
           "scores --scan-samples images against --real with --features, one scoring pass per unit (restrict it "
           "with --units on wide layers), after the --samples statistics pass that gives the table's other columns. 'iou:<class>' and 'ace:<class>' rank by a segmentation class "
           "(--samples samples, --segmenter's classes).")


@dataclass(frozen=True)
class ScanOptions:
    """What the `ablation` ranking scores against: --scan-samples, --features, --real, --real-seed, --inception-weights."""
    scan_samples: int = defaults.SCAN_SAMPLES
    features: Optional[str] = None
    real: Optional[str] = None
    real_seed: int = defaults.REAL_SEED
    inception_weights: Optional[str] = None

    def for_ranking(self, by: str, **extra) -> dict:
        """The options the ranker `by` takes (the scan's only for rankers that scan); `extra` given when set."""
        from ..ranking import get_ranker

        ranker, _ = get_ranker(by)
        given = {k: v for k, v in extra.items() if v}
        return {**{k: v for k, v in asdict(self).items() if k in ranker.options}, **given}


_SCAN_PARAMS = [
    ("scan_samples", ScanSamplesOpt, int), ("features", ScanFeaturesOpt, Optional[str]),
    ("real", ScanRealOpt, Optional[str]), ("real_seed", ScanRealSeedOpt, int),
    ("inception_weights", ScanInceptionOpt, Optional[str])]
scan_options = option_group("scan_opts", ScanOptions, _SCAN_PARAMS)


@dataclass(frozen=True)
class RankScanOptions(ScanOptions):
    """ScanOptions plus the segmenter of iou:<class> and ace:<class> (--segmenter), for rank and annotate."""
    segmenter: Optional[str] = None


rank_scan_options = option_group("scan_opts", RankScanOptions,
                                 _SCAN_PARAMS + [("segmenter", ScanSegmenterOpt, Optional[str])])


def by_help(what: str) -> str:
    # The built-in names from the defaults table: building --help must not import torch (a test keeps the two equal).
    return f"{what}: {', '.join(defaults.BUILTIN_RANKERS)}. {BY_HELP}"


@dataclass(frozen=True)
class PassOptions:
    """The layer, its statistics pass and the ranking: --layer, --samples, --seed, --batch-size, --by, --k, --no-cache."""
    layer: str = ""
    samples: int = defaults.RANK_SAMPLES
    seed: int = defaults.SEED
    batch_size: int = defaults.BATCH_SIZE
    by: str = defaults.RANKING
    k: int = defaults.TOP_K
    no_cache: bool = False

    def rank_kwargs(self) -> dict:
        """Keywords of ganfix.rank for this pass."""
        return {"samples": self.samples, "seed": self.seed, "batch_size": self.batch_size, "k": self.k,
                "use_cache": not self.no_cache}


pass_options = option_group("run", PassOptions, [
    ("layer", typer.Option(..., "--layer", "-l", help="Layer whose units to rank (see `ganfix layers GEN`)."), str),
    ("samples", typer.Option(defaults.RANK_SAMPLES, "--samples", "-n", help="Seeded samples in the statistics pass "
                             "(each unit's top-k samples come from these)."), int),
    ("seed", SeedOpt, int),
    ("batch_size", typer.Option(defaults.BATCH_SIZE, "--batch-size", "-b", help="Batch size (results do not depend on "
                                "it)."), int),
    ("by", typer.Option(defaults.RANKING, "--by", help=by_help("Ranking order of the units")), str),
    ("k", typer.Option(defaults.TOP_K, "--k", help="Top-k samples kept per unit (shown on its sheet)."), int),
    ("no_cache", typer.Option(False, "--no-cache", help="Recompute even if cached passes (and sheets) exist."), bool)])


def ranking_command(fn):
    """A command that ranks a layer's units (rank, annotate): user errors as one line, the generator options,
    the real-data options of the scanning rankers and the statistics pass (`gen_opts`, `scan_opts`, `run`)."""
    return handle_errors(generator_options(rank_scan_options(pass_options(fn))))
