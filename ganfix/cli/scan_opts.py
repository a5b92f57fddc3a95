"""Options and helper for the `ablation` ranking (single-unit ablation scan), shared by rank and annotate."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Optional

import typer

from ..errors import UsageError
from ..progress import progress_bar
from ..ranking import strategies
from ..real_data import RealSource
from .common import err_console, option_group, output_resolution

ABLATION = "ablation"  # not a statistic: scored by scanning single-unit ablations (ganfix.ranking.ablation)

ScanSamplesOpt = typer.Option(1000, "--scan-samples", help="With --by ablation: images scored per unit.")
ScanFeaturesOpt = typer.Option("inception", "--features", help="With --by ablation, unit-fid, realism or artifact: feature extractor: inception "
                               "(needs torch-fidelity's weights file) or a registered one, e.g. toyscenes (offline).")
ScanRealOpt = typer.Option(None, "--real", help="With --by ablation, unit-fid, realism or artifact: real images, a folder "
                           "of images or 'world' (the embedded renderer); required except for built-in generators, which name their own.")
ScanRealSeedOpt = typer.Option(1, "--real-seed", help="With --real world (ablation and the automatic rankers): seed of the real set.")
ScanInceptionOpt = typer.Option(None, "--inception-weights", help="With --by ablation --features inception: path to "
                                "torch-fidelity's Inception weights file.")
SuggestOpt = typer.Option(0, "--suggest", help="With --by ablation: also build a set of up to N units by forward "
                          "selection (a unit joins only if the set's FID drops further; single-unit effects do not add "
                          "up). A suggestion to confirm on the contact sheets, then score with another --seed.")
BY_HELP = ("unit-fid, realism, rare, local-activation and artifact are automatic artifact rankers over one pool of "
           "--samples samples (unit-fid, realism and artifact compare with --real in --features space; see README). "
           "'ablation' ablates each unit alone and ranks by how much FID drops (artifact candidates first); it "
           "scores --scan-samples images against --real with --features, one scoring pass per unit (restrict it "
           "with --units on wide layers).")


@dataclass(frozen=True)
class ScanOptions:
    """What the `ablation` ranking scores against: --scan-samples, --features, --real, --real-seed, --inception-weights."""
    scan_samples: int = 1000
    features: str = "inception"
    real: Optional[str] = None
    real_seed: int = 1
    inception_weights: Optional[str] = None


scan_options = option_group("scan_opts", ScanOptions, [
    ("scan_samples", ScanSamplesOpt, int), ("features", ScanFeaturesOpt, str), ("real", ScanRealOpt, Optional[str]),
    ("real_seed", ScanRealSeedOpt, int), ("inception_weights", ScanInceptionOpt, Optional[str])])


def ranking_names() -> list[str]:
    return [*strategies(), ABLATION]


def rank_names() -> list[str]:
    """What `rank --by` accepts: the statistics rankings, the ablation scan and the automatic artifact rankers."""
    from ..ranking.automatic import AUTOMATIC

    return [*ranking_names(), *AUTOMATIC]


def auto_real_source(g, o: ScanOptions, samples: int) -> RealSource:
    """The real set of the automatic rankers: `samples` images of --real (the pool and the real set are the same size)."""
    from ..real_sets import real_source_for

    return real_source_for(g, o.real, o.real_seed, samples=samples)


def scan_real_source(g, o: ScanOptions) -> RealSource:
    if o.scan_samples < 2:
        raise UsageError(f"--scan-samples must be at least 2, got {o.scan_samples}")
    from ..real_sets import real_source_for

    return real_source_for(g, o.real, o.real_seed, samples=o.scan_samples)


def run_scan(g, layer, only, seed, o: ScanOptions, real_src, batch_size, use_cache):
    """The single-unit ablation scan behind `--by ablation`, with a progress bar on stderr."""
    from ..ranking.ablation import scan_ablations

    units = list(only) if only is not None else None
    total = len(units) if units is not None else g.layer(layer).units
    with progress_bar(f"ablation scan {layer}", total, err_console) as bar:
        task = bar.add_task("scan", total=total)
        return scan_ablations(g, layer, real_src, o.features, o.scan_samples, seed, units, o.inception_weights,
                              batch_size=batch_size, use_cache=use_cache, on_unit=lambda u: bar.advance(task, 1))


def run_suggest(g, scan, real_src, o: ScanOptions, max_units, batch_size, use_cache):
    """Forward selection over the scan's helpful units, with a progress bar on stderr."""
    from ..ranking.ablation import greedy_set

    total = len(scan.helpful())
    with progress_bar(f"forward selection {scan.layer}", total, err_console) as bar:
        task = bar.add_task("suggest", total=total)
        return greedy_set(g, scan, real_src, o.features, max_units, o.inception_weights, batch_size, use_cache,
                          on_step=lambda u: bar.advance(task, 1))
