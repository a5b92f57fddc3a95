"""Render a preference study: original, patched and random-ablated images of the same latents.

A study folder holds `study.json` (the manifest: model, patch, random patch, seed, latent ids, the
trials, the image file of each variant) and `images/`. Image files have opaque names (a hash), so
the page never tells a rater which side is which. Each latent gives two trials: original vs patched
and original vs random-ablated. The order and left/right placement are drawn per rater from
(seed, rater name) by `rater_plan` and recorded with every answer.
"""
from __future__ import annotations

import hashlib
import json
import random
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

import torch

from ..atomic import atomic_write_bytes, atomic_write_json
from ..errors import UsageError
from ..json_files import read_json
from ..patch import Patch

SCHEMA = "ganfix.study/1"
KINDS = ("patched", "random")
VARIANTS = ("original",) + KINDS
PLAN_RULE = ("per rater: Python random.Random seeded by the first 8 bytes (big-endian) of "
             "sha256('ganfix.study:<seed>:<rater>') shuffles the trials, then one random() < 0.5 per trial "
             "puts the modified image on the left; ganfix.study.rater_plan")


@dataclass
class Study:
    dir: Path
    manifest: dict

    @property
    def trials(self) -> list[dict]:
        return self.manifest["trials"]

    @property
    def seed(self) -> int:
        return int(self.manifest["seed"])

    def image(self, sample: int, variant: str) -> str:
        """File name (inside images/) of one variant of one latent."""
        return self.manifest["images"][str(sample)][variant]


def load_study(study_dir: str | Path) -> Study:
    study_dir = Path(study_dir)
    path = study_dir / "study.json"
    manifest = read_json(path, f"no study in {study_dir} (study.json missing); build one with "
                               f"`ganfix study GEN --annotations FILE --out {study_dir}`")
    if not isinstance(manifest, dict) or manifest.get("schema") != SCHEMA or not isinstance(manifest.get("trials"), list):
        raise UsageError(f"{path} is not a ganfix study (schema {SCHEMA!r} expected)")
    return Study(study_dir, manifest)


def _name(fingerprint: str, seed: int, sample: int, variant: str, units: list[int]) -> str:
    h = hashlib.sha256(json.dumps([fingerprint, seed, sample, variant, units]).encode()).hexdigest()[:16]
    return f"{h}.png"


def _settings(gen, patch: Patch, random_patch: Patch, samples: int, seed: int) -> dict:
    return {"model": {"name": gen.name, "fingerprint": gen.fingerprint}, "layer": patch.layer,
            "patched": patch.to_json(), "random": random_patch.to_json(), "samples": samples, "seed": seed}


@torch.no_grad()
def build_study(gen, patch: Patch, out_dir: str | Path, samples: int = 100, seed: int = 0,
                random_patch: Patch | None = None, batch_size: int = 32, force: bool = False, on_batch=None) -> Study:
    """Render the study into `out_dir` (reused when it already holds the same study)."""
    from ..pages.images import png_bytes
    from .answers import answer_files

    if samples < 1:
        raise UsageError(f"samples must be at least 1, got {samples}")
    if batch_size < 1:
        raise UsageError(f"batch_size must be at least 1, got {batch_size}")
    out_dir = Path(out_dir)
    if out_dir.exists() and not out_dir.is_dir():
        raise UsageError(f"out={out_dir} is a file, not a folder")
    patch.check(gen, force=force)
    d = gen.layer(patch.layer).units
    random_patch = random_patch or patch.random_like(d, draw=0, seed=seed)
    random_patch.check(gen, force=force)
    settings = _settings(gen, patch, random_patch, samples, seed)
    if (out_dir / "study.json").is_file():
        old = load_study(out_dir)
        if all(old.manifest.get(k) == v for k, v in settings.items()):
            return old
        if any(f.stat().st_size for f in answer_files(out_dir)):
            raise UsageError(f"{out_dir} already holds answers for a different study (another model, patch, seed or "
                             "sample count); use another out folder")
    ids = list(range(samples))
    units = {"original": [], "patched": patch.units, "random": random_patch.units}
    images: dict[str, dict[str, str]] = {}
    for lo in range(0, samples, batch_size):
        batch = ids[lo:lo + batch_size]
        z = gen.latents(batch, seed)
        out = {"original": gen(z)}
        with patch.applied(gen):
            out["patched"] = gen(z)
        with random_patch.applied(gen):
            out["random"] = gen(z)
        for variant, imgs in out.items():
            for i, img in zip(batch, gen.to_uint8(imgs).cpu()):
                name = _name(gen.fingerprint, seed, i, variant, units[variant])
                atomic_write_bytes(out_dir / "images" / name, png_bytes(img))
                images.setdefault(str(i), {})[variant] = name
        if on_batch:
            on_batch(len(batch))
    trials = [{"trial": 2 * i + j, "sample": s, "kind": kind} for i, s in enumerate(ids) for j, kind in enumerate(KINDS)]
    manifest = {"schema": SCHEMA, **settings, "ids": ids, "images": images, "trials": trials, "plan": PLAN_RULE,
                "created": datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")}
    atomic_write_json(out_dir / "study.json", manifest)  # last: a half-built study has no manifest
    return Study(out_dir, manifest)


def rater_plan(study: Study, rater: str) -> list[dict]:
    """The rater's trials in presentation order, each with its left/right placement.

    A pure function of (study seed, rater name): a reload or a restarted server shows the same plan."""
    digest = hashlib.sha256(f"ganfix.study:{study.seed}:{rater}".encode()).digest()
    rng = random.Random(int.from_bytes(digest[:8], "big"))
    order = list(range(len(study.trials)))
    rng.shuffle(order)
    plan = []
    for pos, t in enumerate(order):
        trial = study.trials[t]
        pair = ["original", trial["kind"]]
        if rng.random() < 0.5:
            pair.reverse()
        plan.append({**trial, "position": pos, "left": pair[0], "right": pair[1]})
    return plan


def study_patches(gen, annotations: str | Path | None = None, repair: str | Path | None = None,
                  force: bool = False) -> tuple[Patch, Patch | None]:
    """(patch, random patch or None) from an annotation set, or from a `ganfix repair --out` folder
    (its patch.json, and the first random draw of its report.json so the study compares the same units)."""
    from ..annotations import AnnotationSet

    if (annotations is None) == (repair is None):
        raise UsageError("give the repair to study: annotations=FILE or repair=DIR (one of them)")
    if annotations is not None:
        return Patch.from_annotations(AnnotationSet.load(annotations), gen, force=force), None
    repair = Path(repair)
    found = [p for p in (repair / "export" / "patch.json", repair / "patch.json") if p.is_file()]
    if not found:
        raise UsageError(f"no patch.json in {repair} or {repair / 'export'}; is it a `ganfix repair --out` folder?")
    try:
        patch = Patch.from_json(json.loads(found[0].read_text(encoding="utf-8")))
    except ValueError as exc:
        raise UsageError(f"malformed {found[0]}: {exc}") from None
    patch.check(gen, force=force)
    random_patch = None
    report = repair / "report.json"
    if report.is_file():
        try:
            draws = json.loads(report.read_text(encoding="utf-8")).get("random", {}).get("draws") or []
        except (ValueError, AttributeError):
            draws = []
        if draws and isinstance(draws[0], dict) and isinstance(draws[0].get("units"), list):
            random_patch = Patch(patch.layer, draws[0]["units"], 0.0, patch.model_name, patch.fingerprint,
                                 kind="random-ablation", notes={"from": str(report), "draw": 0})
    return patch, random_patch


def make_study(gen, out_dir: str | Path, annotations: str | Path | None = None, repair: str | Path | None = None,
               samples: int = 100, seed: int = 0, batch_size: int = 32, force: bool = False, progress=None) -> Study:
    """The study of the patch in `annotations` (an annotation set) or `repair` (a `ganfix repair --out` folder),
    rendered into `out_dir`: study_patches + build_study. `progress`: a progress factory (None: stderr, False: off)."""
    from ..ranking.registry import progress_factory

    patch, random_patch = study_patches(gen, annotations, repair, force)
    with progress_factory(progress)("render study", samples) as step:
        return build_study(gen, patch, out_dir, samples, seed, random_patch, batch_size, force, on_batch=step)
