"""A tiny study (random ProGAN 16×16, layer4 with 8 units, 6 latents → 12 pairs) for the study tests."""
from __future__ import annotations

from pathlib import Path

from annotate_helpers import TINY_LAYER, tiny_progan


def tiny_study(tmp_path: Path, samples: int = 6):
    """(generator spec path, annotation path, Study) — rendered into tmp_path/study."""
    from ganfix.annotations import AnnotationSet
    from ganfix.generator import load_generator
    from ganfix.study import build_study, study_patches

    spec = tiny_progan(tmp_path)
    gen = load_generator(str(spec), device="cpu")
    ann = tmp_path / "ann.json"
    aset = AnnotationSet.new(gen, TINY_LAYER, "artifacts")
    for u in (1, 3):
        aset.mark(u)
    aset.save(ann)
    patch, rnd = study_patches(gen, annotations=ann)
    return spec, ann, build_study(gen, patch, tmp_path / "study", samples=samples, seed=0, random_patch=rnd)
