"""Contact sheets for a layer: rank the units, re-generate each unit's top-k samples, overlay where
the unit fires, write one PNG per unit, grouped PNGs, `index.html` and a `sheets.json` manifest.

All writes are atomic; the manifest is written last, so a folder with a manifest is complete.
A folder whose manifest has the same key (model fingerprint + every argument) is reused as is.
"""
from __future__ import annotations

import json
import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Callable, Optional

import numpy as np
import torch

from ..atomic import atomic_write_bytes, atomic_write_json, atomic_write_text
from ..background import Background
from ..cache import cache_key
from ..errors import UsageError
from ..generator import Generator
from ..ranking import Ranking, rank_units
from ..stats import UnitStats
from ..stats.tally import check_sample_args, tally_unit_stats
from ..threads import one_thread_fewer
from .html import index_html
from .layout import group_sheet, unit_sheets
from .overlay import render_tiles
from .png import encode_png
from .regen import Regenerated, iter_regenerate, need_order

SCHEMA = "ganfix.sheets/1"
RENDER_VERSION = 8  # bump when the drawing or the HTML changes, so folders made by older code are redrawn
MANIFEST = "sheets.json"
# Samples per batch of the overlapped generator pass: small batches let drawing start sooner and end sooner
# after the last batch, and their tensors are reused by the allocator instead of being mapped afresh
# (on toyscenes layer4: a third of the page faults of batches of 64, and a shorter pass).
REGEN_BATCH = 16
Progress = Callable[[str, int, int], None]  # (stage, advance, total)


def auto_scale(image_size: int, target: int) -> int:
    """Integer ×s so small images (e.g. 64 px) become legible tiles of about `target` px."""
    return max(1, min(8, round(target / max(1, image_size))))


class _Writer:
    """Encodes and writes PNGs on two background threads (zlib releases the GIL), so encoding overlaps
    with drawing the next unit. Atomic (temp file + rename) but not fsynced: sheets are re-drawn when
    missing, and one fsync per PNG cost more than drawing it. The manifest, written last, is fsynced.

    Until `release()`, encoded files are held in memory, not written: sheets drawn while the generator
    pass is still running reach the disk only once that pass has finished without NaN/Inf images."""

    def __init__(self):
        self.pool = ThreadPoolExecutor(max_workers=2, thread_name_prefix="ganfix-png")
        self.jobs = []
        self.lock = threading.Lock()
        self.held: Optional[list] = []

    def __call__(self, path: Path, arr: np.ndarray) -> None:
        self.jobs.append(self.pool.submit(self._encode_and_write, path, arr))

    def _encode_and_write(self, path: Path, arr: np.ndarray) -> None:
        data = encode_png(arr)
        with self.lock:
            if self.held is not None:
                self.held.append((path, data))
                return
        atomic_write_bytes(path, data, durable=False)

    def release(self) -> None:
        with self.lock:
            held, self.held = self.held or [], None
        for path, data in held:
            atomic_write_bytes(path, data, durable=False)

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
    gen_order, _ = need_order(top_ids)
    n_ids = len(gen_order)
    position = {sid: i for i, sid in enumerate(gen_order)}
    # Unit r can be drawn once this many samples exist (samples are generated in the order units need them).
    needs = [1 + max((position[sid] for sid in top_ids[u]), default=-1) for u in order]

    img_size = int(gen.image_shape[-1])
    # Tiles of about 128 px (at least 96: small images are enlarged by pixel repetition so people can see them);
    # the grouped sheets reuse the same tiles.
    s_unit = scale or auto_scale(img_size, 128)
    s_group = s_unit
    width = len(str(info.units - 1))
    units_meta, group_rows, groups = [], [], []

    def draw(rank: int, u: int, regen: Regenerated, write: _Writer) -> None:
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
            tiles = plain = np.zeros((0, img_size * s_unit, img_size * s_unit, 3), np.uint8)
            coverage = [] if info.spatial else None
        meta["spatial"] = info.spatial
        meta["coverage"] = [round(c, 4) for c in coverage] if coverage is not None else None
        sheet, plain_sheet, meta["boxes"] = unit_sheets(meta, tiles, plain, ids, meta["maxes"], coverage)
        write(out / meta["file"], sheet)
        # The same samples without the overlay, to judge the whole scene (the page's `o` key).
        write(out / meta["plain"], plain_sheet)
        units_meta.append(meta)
        group_rows.append((meta, tiles))
        if len(group_rows) == group_size or rank == len(order):
            name = f"groups/group-{len(groups) + 1:03d}.png"
            write(out / name, group_sheet(group_rows))
            groups.append({"file": name, "units": [m["unit"] for m, _ in group_rows]})
            group_rows.clear()
        tick("render", 1, len(order))

    # The generator pass runs on a worker thread (torch releases the GIL) while this thread draws each unit as soon
    # as its samples exist; files reach the disk only after the pass ends without NaN/Inf images. The worker never
    # waits for the drawing (every batch it hands over is the same growing Regenerated), and torch gets one thread
    # fewer meanwhile, as drawing and encoding keep a core busy.
    regen, drawn = Regenerated(), 0
    batches = Background(iter_regenerate(gen, layer, top_ids, seed, min(batch_size, REGEN_BATCH)), ahead=None,
                         name="ganfix-sheets-generate")
    with _Writer() as write, one_thread_fewer(), batches:
        for batch_ids, regen in batches:
            tick("generate", len(batch_ids), n_ids)
            while drawn < len(order) and needs[drawn] <= len(regen.images) and not batches.failed.is_set():
                draw(drawn + 1, order[drawn], regen, write)
                drawn += 1
        write.release()
        for rank in range(drawn + 1, len(order) + 1):  # units with no samples
            draw(rank, order[rank - 1], regen, write)

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
