"""Shared setup for the labelling-page tests: a tiny random ProGAN, its sheets, a running server."""
from __future__ import annotations

from contextlib import contextmanager
from pathlib import Path

import torch

TINY_LAYER = "layer4"


def tiny_progan(tmp_path: Path) -> Path:
    from ganfix.models import ProGAN

    torch.manual_seed(0)
    path = tmp_path / "tiny.pt"
    torch.save(ProGAN(16, z_dim=16, widths=[8, 8, 8]).state_dict(), path)
    return path


@contextmanager
def running_server(tmp_path: Path):
    """Yields (server, annotation path, manifest) for a tiny generator; the server runs in-process."""
    from ganfix.pages import LabelSession, PageServer, labelling_page
    from ganfix.annotations import AnnotationSet
    from ganfix.generator import load_generator
    from ganfix.sheets import build_sheets

    gen = load_generator(str(tiny_progan(tmp_path)), device="cpu")
    sheets = tmp_path / "sheets"
    manifest = build_sheets(gen, TINY_LAYER, sheets, samples=40, group_size=4)
    path = tmp_path / "annotations" / "tiny" / f"{TINY_LAYER}-artifacts.json"
    aset = AnnotationSet.new(gen, TINY_LAYER, "artifacts")
    aset.save(path)
    with PageServer(labelling_page(LabelSession(aset, path, manifest, sheets)), port=0) as server:
        yield server, path, manifest
