"""`ganfix.repair(gen, patch, real=…, features=…)`: original vs patched vs random ablations → RepairResult.

The paper's Table 1 protocol: the original generator, the patched one and `random_draws` random patches of
the same size on the same layer are scored on the same latents, with paired bootstrap intervals for
patched − original and patched − random.
"""
from __future__ import annotations

import io
from dataclasses import dataclass, field
from pathlib import Path
from typing import Optional, Union

from .. import defaults
from ..errors import UsageError
from ..generator import Generator
from ..inputs import check_features, open_real
from ..patch import Patch
from ..ranking.registry import progress_factory
from .export import Export, export


@dataclass
class RepairResult:
    """A scored repair. `report` is score_repair's dict (also report.json: settings, original, patched, random,
    delta, sample_ids); `exported` is set once the patched generator was written (see `export`)."""
    report: dict
    gen: Generator = field(repr=False)
    patch: Patch
    exported: Optional[Export] = None

    @property
    def original(self) -> dict:
        return self.report["original"]

    @property
    def patched(self) -> dict:
        return self.report["patched"]

    @property
    def random(self) -> dict:
        return self.report["random"]

    @property
    def delta_vs_original(self) -> tuple[float, Optional[tuple[float, float]]]:
        """FID(patched) − FID(original) and its 95 % bootstrap interval (None when bootstrap=0)."""
        d = self.report["delta"]
        return d["fid_patched_minus_original"], tuple(d["ci95"]) if d.get("ci95") else None

    @property
    def delta_vs_random(self) -> tuple[float, Optional[tuple[float, float]]]:
        """FID(patched) − mean FID(random draws) and its 95 % bootstrap interval (None when bootstrap=0)."""
        d = self.report["delta"]
        return d["fid_patched_minus_random_mean"], tuple(d["ci95_vs_random"]) if d.get("ci95_vs_random") else None

    @property
    def metric_name(self) -> str:
        """FID with Inception features, FD (<extractor> features) in any other feature space; and against what."""
        settings = self.report.get("settings", {})
        features = settings.get("features", "")
        metric = settings.get("metric") or ("FID" if features.startswith("inception") else f"FD ({features} features)")
        real = settings.get("real_label")
        return f"{metric} vs {real}" if real else metric

    def verdict(self) -> str:
        from ..scoring import verdict

        return verdict(self.report)

    def rows(self) -> list[tuple[str, str, str]]:
        """(generator, FID, KID) rows: original, patched, random mean ± std."""
        from ..repairing.report import table_rows

        return table_rows(self.report)

    def to_json(self) -> dict:
        return {**self.report, **({"export": self.exported.to_json()} if self.exported else {})}

    def markdown(self) -> str:
        from ..repairing.report import markdown

        return markdown(self.report, self.exported.to_json() if self.exported else None)

    def before_after(self, ids: Optional[list[int]] = None):
        """A PIL image: original, patched and |difference| of the first 8 scored samples (or `ids`)."""
        from PIL import Image

        from ..repairing.report import before_after_grid

        ids = ids or self.report.get("sample_ids", {}).get("first", list(range(8)))[:8]
        return Image.open(io.BytesIO(before_after_grid(self.gen, self.patch, ids, self.report["settings"]["seed"])))

    def save(self, out: Union[str, Path]) -> Path:
        """report.json, report.md and before_after.png into `out` (atomic writes)."""
        from ..repairing.report import write_outputs

        write_outputs(Path(out), self.report, self.gen, self.patch, self.exported.to_json() if self.exported else None)
        return Path(out)

    def summary(self) -> str:
        from ..scoring import num

        d, ci = self.delta_vs_original
        ci_text = f" (95% CI {num(ci[0], '+.3f')} … {num(ci[1], '+.3f')})" if ci else ""
        return (f"{self.metric_name}: original {num(self.original['fid'], '.3f')}, patched {num(self.patched['fid'], '.3f')} "
                f"({num(d, '+.3f')}{ci_text}), random {num(self.random['fid_mean'], '.3f')} ± "
                f"{num(self.random['fid_std'], '.3f')}; {self.verdict()}")

    def __str__(self) -> str:
        return self.summary()


def as_patch(gen: Generator, patch, force: bool = False) -> Patch:
    """A Patch as given, or the ablation patch of an AnnotationSet (checked against this model unless force)."""
    from ..annotations import AnnotationSet

    if isinstance(patch, AnnotationSet):
        gen.layer(patch.layer)
        return Patch.from_annotations(patch, gen, force=force)
    if not isinstance(patch, Patch):
        raise UsageError(f"patch= must be a ganfix.Patch or an AnnotationSet, got {type(patch).__name__}")
    gen.check_units(patch.layer, patch.units)
    return patch


def repair(gen: Generator, patch, *, real: Optional[str] = None, features: Optional[str] = None,
           samples: int = defaults.SCORE_SAMPLES, seed: int = defaults.SEED, random_draws: int = defaults.RANDOM_DRAWS,
           select: str = defaults.SELECT, pool: Optional[int] = None, bootstrap: Optional[int] = defaults.BOOTSTRAP,
           real_seed: int = defaults.REAL_SEED, inception_weights: Optional[str] = None,
           kid_subset_size: Optional[int] = defaults.KID_SUBSET_SIZE, batch_size: int = defaults.BATCH_SIZE,
           force: bool = False, offline: Optional[bool] = None, use_cache: bool = True,
           out: Union[str, Path, None] = None, progress=None, export_formats=None) -> RepairResult:
    """Score `patch` (a Patch, or an AnnotationSet whose units are ablated) against `random_draws` random patches
    of the same size, all on the same `samples` latents, against `real` images ('world' or a folder; default: the
    generator's own, see ganfix.defaults) in `features` space (default: Inception, or the built-in's own);
    `offline`: never download extractor weights (None: GANFIX_OFFLINE).

    With `out`, the patched generator is exported to out/export after scoring (nothing is written when scoring
    fails) and report.json, report.md and before_after.png are written into `out`; `export_formats` as in
    `ganfix.export(..., formats=)`."""
    from ..scoring import check_repair_args, score_repair

    check_repair_args(samples, random_draws, select, pool, bootstrap, kid_subset_size, batch_size)
    patch = as_patch(gen, patch, force)
    real_src = open_real(gen, real, real_seed, samples)
    features = check_features(gen, features, inception_weights, offline)

    total = (2 + random_draws) * samples
    with progress_factory(progress)("scoring", total) as step:
        report = score_repair(gen, patch, real_src, features, samples, seed, random_draws, select, pool, bootstrap,
                              inception_weights, kid_subset_size, batch_size, use_cache,
                              progress=lambda name, n, total: step(n), offline=offline)
    result = RepairResult(report, gen, patch)
    if out is not None:
        result.exported = export(gen, patch, Path(out) / "export", seed=seed, formats=export_formats)
        result.save(out)
    return result
