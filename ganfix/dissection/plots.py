"""Matplotlib figures (Agg, headless) written atomically as PNG."""
from __future__ import annotations

import io
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from ..atomic import atomic_write_bytes  # noqa: E402


def _save(fig, path: Path) -> Path:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=110, bbox_inches="tight")
    plt.close(fig)
    return atomic_write_bytes(path, buf.getvalue())


def interpretable_bars(per_model: dict[str, dict[str, int]], path: Path, title: str) -> Path:
    """Interpretable units per layer; one bar group per layer, one bar per model (side by side)."""
    models = list(per_model)
    layers = list(dict.fromkeys(l for m in models for l in per_model[m]))
    x = np.arange(len(layers))
    width = 0.8 / max(len(models), 1)
    fig, ax = plt.subplots(figsize=(max(4, 1.1 * len(layers) + 2), 3.2))
    for i, m in enumerate(models):
        vals = [per_model[m].get(l, 0) for l in layers]
        ax.bar(x + (i - (len(models) - 1) / 2) * width, vals, width, label=m)
    ax.set_xticks(x, layers, rotation=30, ha="right")
    ax.set_ylabel("interpretable units")
    ax.set_title(title)
    if len(models) > 1:
        ax.legend(fontsize=8)
    return _save(fig, path)


def class_stacked_bars(per_layer: dict[str, dict[str, int]], path: Path, title: str) -> Path:
    layers = list(per_layer)
    classes = sorted({c for l in layers for c in per_layer[l]})
    fig, ax = plt.subplots(figsize=(max(4, 1.1 * len(layers) + 2), 3.2))
    bottom = np.zeros(len(layers))
    for c in classes:
        vals = np.array([per_layer[l].get(c, 0) for l in layers], dtype=float)
        ax.bar(layers, vals, bottom=bottom, label=c)
        bottom += vals
    ax.set_ylabel("interpretable units")
    ax.set_title(title)
    if classes:
        ax.legend(fontsize=7, ncol=2)
    plt.setp(ax.get_xticklabels(), rotation=30, ha="right")
    return _save(fig, path)


def ablation_curve_plot(curves: dict[str, list[dict]], path: Path, title: str) -> Path:
    fig, ax = plt.subplots(figsize=(4.5, 3.2))
    for name, rows in curves.items():
        ax.plot([r["n"] for r in rows], [r["removed_fraction_of_class"] for r in rows], marker="o", label=name)
    ax.set_xlabel("units ablated")
    ax.set_ylabel("fraction of class pixels removed")
    ax.set_ylim(-0.05, 1.05)
    ax.set_title(title)
    ax.legend(fontsize=8)
    return _save(fig, path)


def context_bars(rows: list[dict], path: Path, title: str) -> Path:
    fig, ax = plt.subplots(figsize=(max(3.5, 0.8 * len(rows) + 1.5), 3.2))
    ax.bar([r["location_class"] for r in rows], [r["mean_gain"] for r in rows])
    ax.set_ylabel("mean class-pixel gain (fraction)")
    ax.set_title(title)
    plt.setp(ax.get_xticklabels(), rotation=30, ha="right")
    return _save(fig, path)


def heatmap(values, path: Path, title: str) -> Path:
    fig, ax = plt.subplots(figsize=(3.4, 3))
    im = ax.imshow(np.asarray(values), cmap="viridis")
    fig.colorbar(im, ax=ax, fraction=0.046)
    ax.set_title(title, fontsize=9)
    ax.set_xticks([])
    ax.set_yticks([])
    return _save(fig, path)


def tracing_plot(curves: dict[str, dict[str, float | None]], path: Path, title: str) -> Path:
    fig, ax = plt.subplots(figsize=(5, 3.2))
    for group in ("visible", "not_visible"):
        pts = [(l, v) for l, v in curves.get(group, {}).items() if v is not None]
        if pts:
            ax.plot([p[0] for p in pts], [p[1] for p in pts], marker="o", label=group.replace("_", " "))
    ax.set_ylabel("mean |Δ| / mean L1 per channel")
    ax.set_title(title)
    ax.legend(fontsize=8)
    plt.setp(ax.get_xticklabels(), rotation=30, ha="right")
    return _save(fig, path)
