"""Writes a repair's outputs: report.json, report.md and a before/after image grid."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
from PIL import Image, ImageDraw

from ..atomic import atomic_write_bytes, atomic_write_json, atomic_write_text
from ..generator import Generator
from ..exporting import export_markdown
from ..patch import Patch
from ..scoring import verdict


def table_rows(report: dict) -> list[tuple[str, str, str]]:
    r = report["random"]
    return [
        ("original", f"{report['original']['fid']:.3f}", f"{report['original']['kid_mean']:.4f} ± {report['original']['kid_std']:.4f}"),
        (f"artifact-ablated ({len(report['settings']['units'])} units)", f"{report['patched']['fid']:.3f}",
         f"{report['patched']['kid_mean']:.4f} ± {report['patched']['kid_std']:.4f}"),
        (f"random-ablated (mean ± std of {len(r['draws'])})", f"{r['fid_mean']:.3f} ± {r['fid_std']:.3f}",
         f"{r['kid_mean']:.4f} ± {r['kid_std']:.4f}"),
    ]


def markdown(report: dict, export: dict | None = None) -> str:
    s = report["settings"]
    d = report["delta"]
    metric = s.get("metric") or ("FID" if str(s.get("features", "")).startswith("inception") else f"FD ({s.get('features')} features)")
    real = s.get("real_label") or s["real"].get("kind")
    lines = [f"# ganfix repair report — {s['generator']} · {s['layer']}", "",
             f"Units ablated: {', '.join(map(str, s['units']))}  ",
             f"Samples: {s['samples']} (selection: {s['selection']}, seed {s['seed']}); features: {s['features']}/{s['feature_layer']}; "
             f"KID subset {s['kid_subset_size']}; real: {real}", "",
             f"| generator | {metric} vs {real} | KID |", "|---|---:|---:|"]
    lines += [f"| {a} | {b} | {c} |" for a, b, c in table_rows(report)]
    lines += ["", f"Patched − original {metric}: {d['fid_patched_minus_original']:+.3f}"
              + (f" (95% bootstrap CI {d['ci95'][0]:+.3f} … {d['ci95'][1]:+.3f})" if d.get("ci95") else ""),
              f"Patched − random-mean {metric}: {d['fid_patched_minus_random_mean']:+.3f}"
              + (f" (95% bootstrap CI {d['ci95_vs_random'][0]:+.3f} … {d['ci95_vs_random'][1]:+.3f})" if d.get("ci95_vs_random") else ""),
              "", f"Verdict: {verdict(report)}.", ""]
    r = report["random"]
    if d.get("ci95_vs_random_paired"):
        lo, hi = d["ci95_vs_random_paired"]
        lines += [f"The patched − random interval resamples the samples and the {len(r['draws'])} random unit sets "
                  f"(hierarchical bootstrap); with the draws held fixed it would be {lo:+.3f} … {hi:+.3f}. "
                  f"Between-draw spread: std {r['fid_std']:.3f}, standard error of the mean {r.get('fid_sem', float('nan')):.3f}.", ""]
    rb = report.get("random_beats_patch")
    if rb:
        lines += [f"Random sets at least as good as the patch: {rb['count']} of {rb['draws']} "
                  f"(95% CI of the share {rb['ci95'][0]:.2f} … {rb['ci95'][1]:.2f}; permutation p = {rb['p_value']:.3f}).", ""]
    lines += ["Random draws (patched − draw, 95% paired CI):", ""]
    for dr in r["draws"]:
        ci = dr.get("ci95_patched_minus_draw")
        extra = f"; patched − draw {dr['fid_patched_minus_draw']:+.3f}" if "fid_patched_minus_draw" in dr else ""
        extra += f" ({ci[0]:+.3f} … {ci[1]:+.3f})" if ci else ""
        lines.append(f"- units {dr['units']}: {metric} {dr['fid']:.3f}{extra}")
    if export:
        lines += ["", "## Exported", "", export_markdown(export)]
    return "\n".join(lines) + "\n"


@torch.no_grad()
def before_after_grid(gen: Generator, patch: Patch, ids: list[int], seed: int, scale: int | None = None) -> bytes:
    """Row 1: original; row 2: patched; row 3: |difference| (amplified). One column per sample.
    Small images are enlarged by pixel repetition to at least 96 px (default scale); grey shown as grey."""
    z = gen.latents(ids, seed)
    before = gen.to_uint8(gen.module(z)).cpu()
    with patch.applied(gen):
        after = gen.to_uint8(gen.module(z)).cpu()
    if scale is None:
        scale = max(2, -(-96 // min(before.shape[-2:])))
    if before.shape[1] == 1:
        before, after = before.expand(-1, 3, -1, -1), after.expand(-1, 3, -1, -1)
    diff = (before.float() - after.float()).abs().amax(1, keepdim=True)
    diff = (diff / max(float(diff.max()), 1.0) * 255).clamp(0, 255).to(torch.uint8).expand(-1, 3, -1, -1)
    n, _, h, w = before.shape
    pad, label_w = 4, 90
    canvas = Image.new("RGB", (label_w + n * (w * scale + pad), 3 * (h * scale + pad) + pad), (24, 24, 28))
    draw = ImageDraw.Draw(canvas)
    for row, (name, imgs) in enumerate([("original", before), ("patched", after), ("|diff|", diff)]):
        y = pad + row * (h * scale + pad)
        draw.text((6, y + h * scale // 2 - 6), name, fill=(230, 230, 230))
        for col in range(n):
            tile = Image.fromarray(imgs[col].permute(1, 2, 0).numpy()).resize((w * scale, h * scale), Image.NEAREST)
            canvas.paste(tile, (label_w + col * (w * scale + pad), y))
    import io
    buf = io.BytesIO()
    canvas.save(buf, format="PNG")
    return buf.getvalue()


def write_outputs(out_dir: Path, report: dict, gen: Generator, patch: Patch, export: dict | None = None,
                  grid_ids: list[int] | None = None) -> None:
    ids = grid_ids or report.get("sample_ids", {}).get("first", list(range(8)))[:8]
    atomic_write_bytes(out_dir / "before_after.png", before_after_grid(gen, patch, ids, report["settings"]["seed"]))
    atomic_write_text(out_dir / "report.md", markdown(report, export))
    atomic_write_json(out_dir / "report.json", {**report, **({"export": export} if export else {})})
