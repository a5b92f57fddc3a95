"""Contact sheets for every unit of a layer: ganfix's sheet pass vs the old per-unit path, side by side.

    python benchmarks/bench_sheets.py                 # toyscenes layer4 (64 units), 2000 samples, k = 10
    python benchmarks/bench_sheets.py --units 16      # a quicker run on the first 16 units in ranking order

Both paths start from the same unit statistics (one tally pass, cached, not timed) and write the same
files: per unit a sheet with the firing-mask overlay and a plain sheet, grouped sheets of 10 units.

- old per-unit path (what `annotate` did per unit before): for each unit, re-generate its own top-k
  samples (one traced batch of k), draw each tile's outline with float max-pool morphology at display
  size, compose the sheets tile by tile and write PNGs at zlib level 6;
- new path, `ganfix.sheets.build_sheets`: every needed sample re-generated once (the union of all
  units' top-k ids, batched), boolean separable morphology, PNGs at level 1.

Rounds alternate old/new so load on a shared machine hits both alike; the ratio is per round.
"""
from __future__ import annotations

import argparse
import io
import shutil
import sys
import tempfile
import time
from pathlib import Path

import torch
import torch.nn.functional as F

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from ganfix.generator import load_generator  # noqa: E402
from ganfix.hooks import Trace  # noqa: E402
from ganfix.ranking import rank_units  # noqa: E402
from ganfix.sheets import build_sheets  # noqa: E402
from ganfix.sheets.regen import regenerate  # noqa: E402
from ganfix.sheets.layout import GAP, BG, label_panel, to_pil, unit_sheet  # noqa: E402
from PIL import Image, ImageDraw  # noqa: E402
from ganfix.stats.tally import tally_unit_stats  # noqa: E402

# -- the old per-unit path (ganfix's sheet code before this benchmark's change, kept here to compare) --


def _old_erode(mask, radius):
    m = mask.float()[None, None]
    return (1 - F.max_pool2d(1 - F.pad(m, [radius] * 4, value=1.0), 2 * radius + 1, stride=1))[0, 0] > 0.5


def _old_dilate(mask, radius):
    return F.max_pool2d(mask.float()[None, None], 2 * radius + 1, stride=1, padding=radius)[0, 0] > 0.5


def _old_upscale(image, scale):
    if image.shape[0] == 1:
        image = image.expand(3, -1, -1)
    return image[:3].repeat_interleave(scale, 1).repeat_interleave(scale, 2) if scale > 1 else image[:3]


def _old_tile(image, act_map, threshold, scale):
    big = _old_upscale(image, scale)
    mask = F.interpolate(act_map.float()[None, None], size=tuple(big.shape[-2:]), mode="bilinear", align_corners=False)[0, 0] >= threshold
    img = big.float()
    out = torch.where(mask[None], img, img * 0.45)
    if mask.any():
        thickness = max(1, min(3, big.shape[-1] // 80))
        ring = mask & ~_old_erode(mask, thickness)
        halo = _old_dilate(mask, 1) & ~mask
        out[:, halo] = torch.tensor((0, 0, 0), dtype=out.dtype)[:, None]
        out[:, ring] = torch.tensor((255, 214, 0), dtype=out.dtype)[:, None]
    return out.round().clamp(0, 255).to(torch.uint8), float(mask.float().mean())


def _old_png(img, path: Path):
    buf = io.BytesIO()
    img.save(buf, "PNG", optimize=False, compress_level=6)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(buf.getvalue())


def group_sheet(rows, label_w=150):
    """The old grouped sheet: one PIL paste per tile."""
    size = rows[0][1][0].shape[-1] if rows and rows[0][1] else 64
    k = max((len(t) for _, t in rows), default=1)
    sheet = Image.new("RGB", (label_w + GAP + k * (size + GAP), GAP + len(rows) * (size + GAP)), BG)
    draw = ImageDraw.Draw(sheet)
    for r, (info, tiles) in enumerate(rows):
        y = GAP + r * (size + GAP)
        label_panel(draw, info, y, size, label_w)  # the same label as the new path: only tile pasting differs
        for i, tile in enumerate(tiles):
            sheet.paste(to_pil(tile), (label_w + GAP + i * (size + GAP), y))
    return sheet


@torch.no_grad()
def old_per_unit(gen, layer, stats, order, out: Path, k=10, quantile=0.99, scale=3, group_scale=2):
    thresholds = stats.quantile(quantile)
    rows = []
    regen_time = 0.0
    for rank, u in enumerate(order, 1):
        ids = [int(i) for i in stats.topk.ids[u, :k] if i >= 0]
        t0 = time.perf_counter()
        with Trace(gen.module, [layer], stop=False) as tr:  # this unit's samples only
            acts = tr.run(gen.latents(ids, 0))[layer].float().cpu()
            images = gen.to_uint8(tr.output).cpu()
        regen_time += time.perf_counter() - t0
        thr = float(thresholds[u])
        info = {"unit": u, "rank": rank, "of": len(order), "by": "max", "score": 0.0, "top_max": float(stats.topk.values[u, 0]),
                "rate": float(stats.rate[u]), "quantile": quantile, "threshold": thr}
        tiles, small = [], []
        for j, sid in enumerate(ids):
            tile, cov = _old_tile(images[j], acts[j, u], thr, scale)
            tiles.append({"tile": tile, "id": sid, "max": float(stats.topk.values[u, j]), "coverage": cov})
            small.append(_old_tile(images[j], acts[j, u], thr, group_scale)[0])
        _old_png(unit_sheet(info, tiles)[0], out / f"units/unit-{u}.png")
        plain = [{**t, "tile": _old_upscale(images[j], scale)} for j, t in enumerate(tiles)]
        _old_png(unit_sheet({**info, "overlay": False}, plain)[0], out / f"units/unit-{u}-plain.png")
        rows.append((info, small))
        if len(rows) == 10 or rank == len(order):
            _old_png(group_sheet(rows), out / f"groups/group-{rank:03d}.png")
            rows = []
    return regen_time


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--layer", default="layer4")
    ap.add_argument("--samples", type=int, default=2000)
    ap.add_argument("--units", type=int, default=None, help="only the top N units in ranking order")
    ap.add_argument("--rounds", type=int, default=2)
    args = ap.parse_args()
    torch.set_num_threads(1)
    gen = load_generator("toyscenes", device="cpu")
    stats = tally_unit_stats(gen, args.layer, args.samples, seed=0, k=10)
    order = rank_units(stats, by="max", layer=args.layer).order[: args.units]
    print(f"toyscenes {args.layer}: {len(order)} units, top 10 of {args.samples} samples, 1 thread")
    top_ids = {u: [int(i) for i in stats.topk.ids[u, :10] if i >= 0] for u in order}
    print(f"{len({i for ids in top_ids.values() for i in ids})} distinct samples in the units' top 10 "
          f"({sum(len(v) for v in top_ids.values())} with repeats)")
    ratios, draw_ratios = [], []
    for r in range(args.rounds):
        times, regen = {}, {}
        for name in (("old", "new") if r % 2 == 0 else ("new", "old")):
            out = Path(tempfile.mkdtemp(prefix=f"bench-sheets-{name}-"))
            if name == "new":  # the union re-generation alone, timed just before the whole new pass
                t0 = time.perf_counter()
                regenerate(gen, args.layer, top_ids, 0, 64)
                regen["new"] = time.perf_counter() - t0
            t0 = time.perf_counter()
            if name == "old":
                regen["old"] = old_per_unit(gen, args.layer, stats, order, out)
            else:
                build_sheets(gen, args.layer, out, samples=args.samples, stats=stats, top=args.units, use_cache=False)
            times[name] = time.perf_counter() - t0
            shutil.rmtree(out, ignore_errors=True)
        ratios.append(times["old"] / times["new"])
        draw_ratios.append((times["old"] - regen["old"]) / max(1e-9, times["new"] - regen["new"]))
        print(f"round {r + 1}: old per-unit {times['old']:.1f} s ({times['old'] / len(order):.3f} s/unit; re-generation "
              f"{regen['old']:.1f} s), new {times['new']:.1f} s ({times['new'] / len(order):.3f} s/unit; re-generation "
              f"≈ {regen['new']:.1f} s): {ratios[-1]:.1f}× faster end to end, drawing and writing alone {draw_ratios[-1]:.1f}×")
    med = lambda xs: sorted(xs)[len(xs) // 2]  # noqa: E731
    print(f"speed-up, old ÷ new: end to end {' '.join(f'{x:.1f}×' for x in ratios)} (median {med(ratios):.1f}×); "
          f"drawing and writing alone {' '.join(f'{x:.1f}×' for x in draw_ratios)} (median {med(draw_ratios):.1f}×)")


if __name__ == "__main__":
    main()
