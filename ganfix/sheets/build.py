"""Contact sheets for a layer: rank the units, re-generate each unit's top-k samples, overlay where
the unit fires, write one PNG per unit, grouped PNGs, `index.html` and a `sheets.json` manifest.

All writes are atomic; the manifest is written last, so a folder with a manifest is complete.
A folder whose manifest has the same key (model fingerprint + every argument) is reused as is.
"""
from __future__ import annotations

import json
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Callable, Optional

import numpy as np
import torch

from ..atomic import atomic_write_bytes, atomic_write_json, atomic_write_text
from ..cache import cache_key
from ..errors import UsageError
from ..generator import Generator
from ..ranking import Ranking, rank_units
from ..stats import UnitStats
from ..stats.tally import check_sample_args, tally_unit_stats
from .html import index_html
from .layout import group_sheet, unit_sheets
from .overlay import render_tiles
from .png import encode_png
from .regen import regenerate

SCHEMA = "ganfix.sheets/1"
RENDER_VERSION = 8  # bump when the drawing or the HTML changes, so folders made by older code are redrawn
MANIFEST = "sheets.json"
Progress = Callable[[str, int, int], None]  # (stage, advance, total)


def auto_scale(image_size: int, target: int) -> int:
    """Integer ×s so small images (e.g. 64 px) become legible tiles of about `target` px."""
    return max(1, min(8, round(target / max(1, image_size))))


class _Writer:
    """Encodes and writes PNGs on two background threads (zlib releases the GIL), so encoding overlaps
    with drawing the next unit. Atomic (temp file + rename) but not fsynced: sheets are re-drawn when
    missing, and one fsync per PNG cost more than drawing it. The manifest, written last, is fsynced."""

    def __init__(self):
        self.pool = ThreadPoolExecutor(max_workers=2, thread_name_prefix="ganfix-png")
        self.jobs = []

    def __call__(self, path: Path, img) -> None:
        arr = np.asarray(img.convert("RGB"))
        self.jobs.append(self.pool.submit(lambda: atomic_write_bytes(path, encode_png(arr), durable=False)))

    def __enter__(self) -> "_Writer":
        return self

    def __exit__(self, *exc) -> None:
        try:
            for job in self.jobs:
                if exc[0] is None:
                    job.result()  # re-raises a failed write
        finally:
            self.pool.shutdown(wait=True, cancel_futures=exc[0] is not None)


def sheets_key(gen: Generator, layer: str, **args) -> str:
    return cache_key("sheets", schema=SCHEMA, render=RENDER_VERSION, fingerprint=gen.fingerprint, layer=layer, device=gen.device.type, **args)


def load_manifest(out_dir: Path) -> Optional[dict]:
    path = Path(out_dir) / MANIFEST
    try:
        manifest = json.loads(path.read_text())
    except (OSError, ValueError):
        return None
    return manifest if isinstance(manifest, dict) and manifest.get("schema") == SCHEMA else None


def build_sheets(
    gen: Generator,
    layer: str,
    out_dir: str | Path,
    *,
    samples: int = 2000,
    seed: int = 0,
    by: str = "max",
    quantile: float = 0.99,
    k: int = 10,
    group_size: int = 10,
    top: Optional[int] = None,
    scale: Optional[int] = None,
    batch_size: int = 64,
    stats: Optional[UnitStats] = None,
    ranking: Optional[Ranking] = None,
    use_cache: bool = True,
    progress: Optional[Progress] = None,
) -> dict:
    """Write the sheets for `layer` into `out_dir` and return the manifest (also in sheets.json)."""
    check_sample_args(samples, batch_size, k)
    if not 0.0 < quantile < 1.0:
        raise UsageError(f"quantile must be between 0 and 1 (exclusive), got {quantile}")
    if group_size < 1:
        raise UsageError(f"group_size must be at least 1, got {group_size}")
    if top is not None and top < 1:
        raise UsageError(f"top must be at least 1, got {top}")
    if scale is not None and not 1 <= scale <= 16:
        raise UsageError(f"scale must be an integer in 1…16, got {scale}")
    info = gen.layer(layer)
    gen.image_shape  # the output must be an image (a flat one needs --image-shape): one line, before the pass
    out = Path(out_dir)
    if out.exists() and not out.is_dir():
        raise UsageError(f"out={out} exists and is not a folder")
    # A ranking computed elsewhere (e.g. an ablation scan) orders the sheets; its scores are part of the key.
    given = None if ranking is None else {"by": ranking.by, "scores": [round(float(v), 9) for v in ranking.scores]}
    if ranking is not None:
        by = ranking.by
    key = sheets_key(gen, layer, samples=samples, seed=seed, by=by, quantile=quantile, k=k,
                     group_size=group_size, top=top, scale=scale, **({"ranking": given} if given else {}))
    old = load_manifest(out)
    if (use_cache and old and old.get("key") == key
            and all((out / u[f]).is_file() for u in old["units"] for f in ("file", "plain"))):
        return old

    def tick(stage: str, n: int, total: int) -> None:
        if progress:
            progress(stage, n, total)

    if stats is None:
        stats = tally_unit_stats(gen, layer, samples, seed=seed, batch_size=batch_size, k=k, use_cache=use_cache,
                                 on_batch=lambda n: tick("tally", n, samples))
    if ranking is None:
        ranking = rank_units(stats, by=by, layer=layer)
    order = ranking.order[:top] if top else ranking.order
    thresholds = stats.quantile(quantile)
    top_ids = {u: [int(i) for i in stats.topk.ids[u, :k] if i >= 0] for u in order}
    n_ids = len({i for ids in top_ids.values() for i in ids})
    regen = regenerate(gen, layer, top_ids, seed, batch_size, on_batch=lambda n: tick("generate", n, n_ids))

    any_img = next(iter(regen.images.values()), None)
    img_size = int(any_img.shape[-1]) if any_img is not None else 64
    # Tiles of about 128 px (at least 96: small images are enlarged by pixel repetition so people can see them);
    # the grouped sheets reuse the same tiles.
    s_unit = scale or auto_scale(img_size, 128)
    s_group = s_unit
    width = len(str(info.units - 1))
    units_meta, group_rows, groups = [], [], []
    with _Writer() as write:
        for rank, u in enumerate(order, 1):
            thr = float(thresholds[u])
            meta = {"unit": u, "rank": rank, "of": info.units, "by": by, "score": float(ranking.scores[u]),
                    "top_max": float(stats.topk.values[u, 0]), "mean": float(stats.mean[u]), "rate": float(stats.rate[u]),
                    "quantile": quantile, "threshold": thr, "ids": top_ids[u],
                    "maxes": [float(v) for v in stats.topk.values[u, :len(top_ids[u])]],
                    "file": f"units/unit-{u:0{width}d}.png", "plain": f"units/unit-{u:0{width}d}-plain.png"}
            ids = meta["ids"]
            if ids:
                images = torch.stack([regen.images[sid] for sid in ids])
                # A vector unit (Linear layer) has no map: the samples alone, no mask or coverage.
                maps = torch.stack([regen.maps[(u, sid)] for sid in ids]) if info.spatial else None
                tiles, plain, coverage = render_tiles(images, maps, thr, s_unit)
            else:
                tiles = plain = torch.zeros(0, 3, img_size * s_unit, img_size * s_unit, dtype=torch.uint8)
                coverage = [] if info.spatial else None
            meta["spatial"] = info.spatial
            meta["coverage"] = [round(c, 4) for c in coverage] if coverage is not None else None
            sheet, plain_sheet, meta["boxes"] = unit_sheets(meta, tiles, plain, ids, meta["maxes"], coverage)
            write(out / meta["file"], sheet)
            # The same samples without the overlay, to judge the whole scene (the page's `o` key).
            write(out / meta["plain"], plain_sheet)
            units_meta.append(meta)
            group_rows.append((meta, list(tiles)))
            if len(group_rows) == group_size or rank == len(order):
                name = f"groups/group-{len(groups) + 1:03d}.png"
                write(out / name, group_sheet(group_rows))
                groups.append({"file": name, "units": [m["unit"] for m, _ in group_rows]})
                group_rows = []
            tick("render", 1, len(order))

    manifest = {"schema": SCHEMA, "key": key, "model": {"name": gen.name, "fingerprint": gen.fingerprint},
                "layer": layer, "shape": list(info.shape), "by": by, "samples": samples, "seed": seed, "k": k,
                "quantile": quantile, "image_size": img_size, "scale": s_unit, "group_scale": s_group,
                "units": units_meta, "groups": groups}
    _remove_stale(out, manifest)
    atomic_write_text(out / "index.html", index_html(manifest))
    atomic_write_json(out / MANIFEST, manifest)
    return manifest


def _remove_stale(out: Path, manifest: dict) -> None:
    """Drop sheets of an earlier, different run (only our own file names), so the folder is consistent."""
    keep = ({u["file"] for u in manifest["units"]} | {u["plain"] for u in manifest["units"]}
            | {g["file"] for g in manifest["groups"]})
    for pattern in ("units/unit-*.png", "groups/group-*.png"):
        for p in out.glob(pattern):
            if p.relative_to(out).as_posix() not in keep and p.is_file() and not p.is_symlink():
                p.unlink()
