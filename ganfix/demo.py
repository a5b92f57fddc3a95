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

from .annotations import AnnotationSet
from .errors import UsageError
from .export import export_patched
from .generator import load_generator
from .patch import Patch
from .ranking import rank_units
from .real_data import RealSource
from .repair.report import write_outputs
from .scoring import DEFAULT_RANDOM_DRAWS, score_repair
from .stats.tally import tally_unit_stats

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
DEMO_SEED = 2


def run_demo(out: Path, samples: int = 1000, rank_samples: int = 2000, seed: int = DEMO_SEED, random_draws: int = DEFAULT_RANDOM_DRAWS,
             bootstrap: int = 200, annotations: Path | None = None, sheets: bool = True,
             step: Callable[[str], None] = lambda s: None, progress=None, use_cache: bool = True) -> dict:
    # Every number checked before any work: a bad one must not leave sheets/ or a half-filled --out behind.
    from .preflight import check_at_least, check_output_dir
    from .scoring import check_kid_subset

    check_at_least(samples, "--samples", 2)  # KID needs two samples per subset
    check_kid_subset(samples, None)
    check_at_least(rank_samples, "--rank-samples", 1)
    check_at_least(random_draws, "--random-draws", 1)
    check_at_least(bootstrap, "--bootstrap", 0)
    check_output_dir(out)
    gen = load_generator("toyscenes")
    ann_path = Path(annotations) if annotations else shipped_annotation_path()
    ann = AnnotationSet.load(ann_path)
    ann.check_model(gen)
    layer = ann.layer

    step(f"rank {layer}: one streaming pass over {rank_samples} seeded samples")
    stats = tally_unit_stats(gen, layer, rank_samples, seed=seed, use_cache=use_cache)
    ranking = rank_units(stats, by="max", layer=layer)

    sheet_manifest = None
    if sheets:
        from .sheets import build_sheets

        step(f"contact sheets: top-10 samples of each of the {len(ranking.order)} units of {layer}")
        sheet_manifest = build_sheets(gen, layer, out / "sheets", samples=rank_samples, seed=seed, stats=stats, use_cache=use_cache)

    patch = Patch.from_annotations(ann, gen)
    step(f"repair: ablate {len(patch.units)} labelled units of {layer}; score vs {random_draws} random ablations "
         f"on the same {samples} latents")
    report = score_repair(gen, patch, RealSource.from_spec("world", seed=seed + 1, resolution=64), "toyscenes", samples, seed,
                          random_draws, "all", None, bootstrap, use_cache=use_cache, progress=progress)
    step("export the patched generator (TorchScript + weights), verified against the hooked one")
    export = export_patched(gen, patch, out / "export", seed=seed).to_dict()
    report["annotations"] = {"path": str(ann_path), "units": ann.units,
                             "labels": {str(u): ann.labels[u].get("text", "") for u in ann.units}}
    report["ranking"] = {"by": "max", "labelled_ranks": {str(u): ranking.rank_of(u) + 1 for u in ann.units}}
    write_outputs(out, report, gen, patch, export)
    shutil.copyfile(ann_path, out / "annotations.json")
    return {"report": report, "export": export, "sheets": sheet_manifest, "out": str(out)}
