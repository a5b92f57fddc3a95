"""The samples most likely to carry artifacts, and the units that fire most in each (`ganfix worst`).

Per sample i of a pool (samples 0…N−1 of `seed`, one pass, ganfix.ranking.pool):
- realism R_i (Kynkäänniemi et al. 2019, ganfix.ranking.realism) against the real set, when given;
- unit contribution c_i = Σ_{u ∈ A} peak_iu / strong_u over the layer's artifact units A (the top
  `artifact_units` of the `artifact` ranking, or units you name), where strong_u is the mean of u's
  top-1 % peaks: how many artifact units fire, and how fully;
- score: the mean of the two percentiles (low realism, high contribution); c_i's percentile alone
  without real data. Worst first.
For each sample the `units_per_sample` units with the largest relative peak (peak_iu / strong_u) are
listed, flagged when they are artifact units: what to look at, and mark, on the labelling page.

`WorstReport.to_dict()` is the JSON the CLI prints (`ganfix worst --json`) and the labelling page's
"worst samples" view reads; `worst_sheet()` draws the contact sheet.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Sequence

import torch

from .errors import UsageError
from .generator import Generator
from .real_data import RealSource

SCHEMA = "ganfix.worst/1"


@dataclass
class WorstReport:
    layer: str
    seed: int
    samples: int
    artifact_units: list[int]
    rows: list[dict]                    # worst first: id, score, realism, contribution, units
    settings: dict = field(default_factory=dict)

    def to_dict(self) -> dict:
        return {"schema": SCHEMA, "layer": self.layer, "seed": self.seed, "samples": self.samples,
                "artifact_units": self.artifact_units, "settings": self.settings, "worst": self.rows}


def _percentile(x: torch.Tensor) -> torch.Tensor:
    """Rank of each value in [0, 1] (ties by position; 1 = largest)."""
    order = torch.argsort(x, stable=True)
    ranks = torch.empty(len(x), dtype=torch.float64)
    ranks[order] = torch.arange(len(x), dtype=torch.float64)
    return ranks / max(1, len(x) - 1)


@torch.no_grad()
def worst_samples(gen: Generator, layer: str, real: RealSource | None = None, features: str = "inception",
                  samples: int = 2000, seed: int = 0, n: int = 16, artifact_units: int | Sequence[int] = 8,
                  units_per_sample: int = 3, inception_weights: str | None = None, batch_size: int = 64,
                  use_cache: bool = True, on_batch: Callable[[int], None] | None = None) -> WorstReport:
    """The n worst of samples 0…samples−1: per-sample realism and artifact-unit contribution (see module doc)."""
    from .ranking.automatic import rank_automatic
    from .ranking.rare import activation_frequency

    if n < 1 or n > samples:
        raise UsageError(f"n={n} must be between 1 and samples={samples}")
    if units_per_sample < 1:
        raise UsageError(f"units_per_sample must be at least 1, got {units_per_sample}")
    auto = rank_automatic(gen, layer, "artifact", real, features, samples, seed, None, inception_weights,
                          batch_size, use_cache, on_batch=on_batch)
    if isinstance(artifact_units, int):
        if artifact_units < 1:
            raise UsageError(f"artifact_units must be at least 1, got {artifact_units}")
        chosen = auto.ranking.top(artifact_units)
    else:
        chosen = gen.check_units(layer, artifact_units)
    pool = auto.pool
    _, threshold = activation_frequency(pool)
    strong = (threshold * 2).clamp_min(1e-12)  # the on-threshold is half the unit's strong firing
    rel = (pool.peak.float() / strong).clamp_min(0)  # [N, d]
    contribution = rel[:, chosen].clamp_max(1.5).sum(1)
    score = _percentile(contribution)
    if auto.realism is not None:
        score = (score + _percentile(-auto.realism)) / 2
    worst = torch.argsort(-score, stable=True)[:n].tolist()
    flags = set(chosen)
    rows = []
    for i in worst:
        top_units = torch.argsort(-rel[i], stable=True)[:units_per_sample].tolist()
        rows.append({"id": int(i), "score": float(score[i]),
                     "realism": None if auto.realism is None else float(auto.realism[i]),
                     "contribution": float(contribution[i]),
                     "units": [{"unit": int(u), "strength": float(rel[i, u]), "artifact": u in flags} for u in top_units]})
    settings = {**auto.settings, "by": "worst", "n": n, "units_per_sample": units_per_sample,
                "artifact_units_from": "given" if not isinstance(artifact_units, int) else f"top {artifact_units} of artifact"}
    return WorstReport(layer, seed, samples, list(chosen), rows, settings)


@torch.no_grad()
def worst_sheet(gen: Generator, report: WorstReport, path: Path, cols: int = 4, scale: int | None = None) -> Path:
    """Contact sheet of the report's samples: each tile outlines where its most firing unit fires, captioned
    with the sample id, realism, contribution and its top units (* = artifact unit). Written atomically."""
    from PIL import Image, ImageDraw

    from .atomic import atomic_write_bytes
    from .sheets.layout import BG, MUTED, PANEL, TEXT, to_pil
    from .sheets.text import font
    from .sheets.overlay import render_tile
    from .sheets.regen import regenerate

    first = {r["id"]: r["units"][0]["unit"] for r in report.rows}
    by_unit: dict[int, list[int]] = {}
    for sid, u in first.items():
        by_unit.setdefault(u, []).append(sid)
    regen = regenerate(gen, report.layer, by_unit, report.seed)
    res = next(iter(regen.images.values())).shape[-1]
    scale = scale or max(1, 192 // res)
    tile = res * scale
    cap_h, gap = 44, 6
    rows_n = (len(report.rows) + cols - 1) // cols
    head = 44
    sheet = Image.new("RGB", (cols * (tile + gap) + gap, head + rows_n * (tile + cap_h + gap) + gap), BG)
    draw = ImageDraw.Draw(sheet)
    name = gen.name if len(gen.name) <= 40 else "…" + gen.name[-39:]
    draw.text((gap, 6), f"{name} · {report.layer} · {len(report.rows)} worst of {report.samples} (seed {report.seed})",
              fill=TEXT, font=font(13))
    draw.text((gap, 24), "outline: where the first listed unit fires · * artifact unit", fill=MUTED, font=font(11))
    for k, r in enumerate(report.rows):
        x = gap + (k % cols) * (tile + gap)
        y = head + (k // cols) * (tile + cap_h + gap)
        u = r["units"][0]["unit"]
        act = regen.maps[(u, r["id"])]
        img, _ = render_tile(regen.images[r["id"]], act, 0.5 * float(act.max()), scale)
        sheet.paste(to_pil(img), (x, y))
        draw.rectangle([x, y + tile, x + tile - 1, y + tile + cap_h - 2], fill=PANEL)
        real = "" if r["realism"] is None else f"  R {r['realism']:.2f}"
        draw.text((x + 4, y + tile + 3), f"#{r['id']}{real}  c {r['contribution']:.2f}", fill=TEXT, font=font(12))
        units = "  ".join(f"{v['unit']}{'*' if v['artifact'] else ''} ({v['strength']:.2f})" for v in r["units"])
        draw.text((x + 4, y + tile + 22), f"units {units}", fill=MUTED, font=font(11))
    import io

    buf = io.BytesIO()
    sheet.save(buf, format="PNG")
    atomic_write_bytes(path, buf.getvalue())
    return path
