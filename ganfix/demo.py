"""The whole artifact workflow on the embedded toy world, offline:
rank → contact sheets → the shipped annotation set → repair (patch + export) → score vs random.

The shipped set (annotations/toyscenes/<layer>-artifacts.json, also packaged in
ganfix/world/assets/) holds the artifact units we labelled by hand from the toy generator's
contact sheets, as the paper's annotators did.
"""
from __future__ import annotations

import shutil
from pathlib import Path
from typing import Callable

from . import defaults
from .annotations import AnnotationSet
from .errors import UsageError
from .generator import load_generator

PACKAGED_SET = Path(__file__).parent / "world" / "assets" / "toyscenes-artifacts.json"
REPO_SETS = Path(__file__).resolve().parent.parent / "annotations" / "toyscenes"


def shipped_annotation_path() -> Path:
    """The repo's annotations/ copy when running from a checkout, else the packaged copy."""
    if REPO_SETS.is_dir():
        found = sorted(REPO_SETS.glob("*-artifacts.json"))
        if found:
            return found[0]
    if PACKAGED_SET.is_file():
        return PACKAGED_SET
    raise UsageError("the shipped toyscenes annotation set is missing (annotations/toyscenes/*-artifacts.json)")


# The shipped set was shortlisted by an ablation scan on seed-0 latents and refined after looking at scores and
# before/after grids on seed-1 latents; the demo scores seed-2 latents against the seed-3 real set, never used
# while labelling, so the comparison is not flattered by how the units were chosen.
DEMO_SEED = defaults.DEMO_SEED


def run_demo(out: Path, samples: int = defaults.SCORE_SAMPLES, rank_samples: int = defaults.RANK_SAMPLES,
             seed: int = DEMO_SEED, random_draws: int = defaults.DEMO_RANDOM_DRAWS,
             bootstrap: int = defaults.DEMO_BOOTSTRAP, annotations: Path | None = None, sheets: bool = True,
             step: Callable[[str], None] = lambda s: None, progress=None, use_cache: bool = True):
    """rank → sheets → the shipped (or given) annotation set → repair against random ablations → export.
    Returns the RepairResult (written into `out`, with the sheets and a copy of the annotation set)."""
    from .inputs import at_least
    from .preflight import check_output_dir
    from .scoring import check_kid_subset, check_repair_args
    from .workflow import export, rank, repair

    # Every number checked before any work: a bad one must not leave sheets/ or a half-filled out folder behind.
    at_least("samples", samples, 2)  # KID needs two samples per subset
    check_kid_subset(samples, None)
    check_repair_args(samples, random_draws, "all", None, bootstrap, None)
    at_least("rank_samples", rank_samples, 1)
    check_output_dir(out, "out")
    gen = load_generator("toyscenes")
    ann_path = Path(annotations) if annotations else shipped_annotation_path()
    ann = AnnotationSet.load(ann_path)
    ann.check_model(gen)
    layer = ann.layer

    step(f"rank {layer}: one streaming pass over {rank_samples} seeded samples")
    ranking = rank(gen, layer, "max", samples=rank_samples, seed=seed, use_cache=use_cache, progress=False)
    if sheets:
        from .sheets import build_sheets

        step(f"contact sheets: top-10 samples of each of the {len(ranking.order)} units of {layer}")
        build_sheets(gen, layer, out / "sheets", samples=rank_samples, seed=seed, stats=ranking.stats, use_cache=use_cache)

    step(f"repair: ablate {len(ann.units)} labelled units of {layer}; score vs {random_draws} random ablations "
         f"on the same {samples} latents")
    result = repair(gen, ann, real="world", features="toyscenes", samples=samples, seed=seed, real_seed=seed + 1,
                    random_draws=random_draws, bootstrap=bootstrap, use_cache=use_cache, progress=progress)
    step("export the patched generator (torch.export .pt2 + weights), verified in a fresh process at batch sizes 1, 3, 16")
    result.exported = export(gen, result.patch, out / "export", seed=seed)
    result.report["annotations"] = {"path": str(ann_path), "units": ann.units,
                                    "labels": {str(u): ann.labels[u].get("text", "") for u in ann.units}}
    result.report["ranking"] = {"by": "max", "labelled_ranks": {str(u): ranking.rank_of(u) + 1 for u in ann.units}}
    result.save(out)
    shutil.copyfile(ann_path, out / "annotations.json")
    return result
