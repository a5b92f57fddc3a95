"""Reports: report.json + index.html with unit mask images and plots, all written atomically."""
from __future__ import annotations

import html
from pathlib import Path
from typing import Sequence

from ..atomic import atomic_write_json, atomic_write_text
from ..generator import Generator
from ..stats.tally import tally_unit_stats
from . import plots
from .result import LayerDissection
from .tiles import unit_strip

_CSS = ("body{font-family:sans-serif;margin:1.5em;max-width:1100px}table{border-collapse:collapse}"
        "td,th{border:1px solid #ccc;padding:2px 8px;text-align:right}figure{display:inline-block;margin:6px}"
        "figcaption{font-size:12px}img{image-rendering:pixelated}")


def _page(title: str, body: list[str]) -> str:
    return (f"<!doctype html><html><head><meta charset='utf-8'><title>{html.escape(title)}</title>"
            f"<style>{_CSS}</style></head><body><h1>{html.escape(title)}</h1>\n" + "\n".join(body) + "</body></html>\n")


def _table(rows: list[dict], cols: Sequence[str]) -> str:
    head = "".join(f"<th>{html.escape(c)}</th>" for c in cols)
    body = "".join("<tr>" + "".join(f"<td>{html.escape(_fmt(r.get(c)))}</td>" for c in cols) + "</tr>" for r in rows)
    return f"<table><tr>{head}</tr>{body}</table>"


def _fmt(v) -> str:
    if isinstance(v, float):
        return f"{v:.4f}"
    return "" if v is None else str(v)


def comparison_rows(results: dict[str, dict[str, LayerDissection]]) -> list[dict]:
    rows = []
    for model, layers in results.items():
        for layer, d in layers.items():
            units = d.units()
            rows.append({"model": model, "layer": layer, "units": d.num_units,
                         "interpretable": sum(u["interpretable"] for u in units),
                         "by_class": d.interpretable_by_class(units)})
    return rows


def write_dissect_report(out: Path, gens: dict[str, Generator], results: dict[str, dict[str, LayerDissection]],
                         settings: dict, tiles: int = 8, per_tile: int = 4) -> dict:
    """results: {model name: {layer: LayerDissection}}. Returns the JSON report."""
    out = Path(out)
    rows = comparison_rows(results)
    report = {"settings": settings, "models": {m: gens[m].describe() for m in gens},
              "comparison": rows,
              "layers": {m: {l: d.to_json() for l, d in ls.items()} for m, ls in results.items()}}
    body = [f"<p>{html.escape(str(settings))}</p>", "<h2>Interpretable units per layer</h2>",
            _table([{**r, "by_class": ", ".join(f"{k} {v}" for k, v in r["by_class"].items())} for r in rows],
                   ["model", "layer", "units", "interpretable", "by_class"])]
    per_model = {m: {r["layer"]: r["interpretable"] for r in rows if r["model"] == m} for m in results}
    plots.interpretable_bars(per_model, out / "interpretable_per_layer.png", "interpretable units per layer")
    body.append("<img src='interpretable_per_layer.png'>")
    for m, layers in results.items():
        per_class = {l: d.interpretable_by_class() for l, d in layers.items()}
        name = f"classes_{_safe(m)}.png"
        plots.class_stacked_bars(per_class, out / name, f"{m}: interpretable units by class")
        body.append(f"<img src='{name}'>")
    for m, layers in results.items():
        gen = gens[m]
        for layer, d in layers.items():
            body.append(f"<h2>{html.escape(m)} · {html.escape(layer)}</h2>")
            units = sorted(d.units(), key=lambda r: -r["iou"])
            body.append(_table(units[:20], ["unit", "label", "iou", "iqr", "agreement", "threshold", "interpretable"]))
            shown = [u for u in units if u["label"] is not None][:tiles]
            if shown and per_tile > 0:
                stats = tally_unit_stats(gen, layer, settings["samples"], seed=settings["seed"],
                                         batch_size=settings.get("batch_size", 32))
                for r in shown:
                    ids = [int(i) for i in stats.topk.ids[r["unit"]][:per_tile] if i >= 0]
                    img = f"units/{_safe(m)}_{_safe(layer)}_u{r['unit']}.png"
                    unit_strip(gen, layer, r["unit"], r["threshold"], ids, settings["seed"], out / img)
                    body.append(f"<figure><img src='{img}'><figcaption>unit {r['unit']} · {html.escape(r['label'])} · "
                                f"IoU {r['iou']:.3f}{' · interpretable' if r['interpretable'] else ''}</figcaption></figure>")
    atomic_write_json(out / "report.json", report)
    atomic_write_text(out / "index.html", _page("ganfix dissection", body))
    return report


def write_ace_report(out: Path, report: dict, curves: dict | None, sweep=None, tiles: list | None = None) -> dict:
    """report: the ACE JSON; curves: {selection: ablation curve rows}; sweep: SweepResult (context/tracing)."""
    out = Path(out)
    cls = report["class"]
    body = [f"<p>{html.escape(str(report['settings']))}</p>", "<h2>Causal effect of the unit set</h2>",
            _table([report["ace"]], ["ace", "original", "ablated", "inserted", "removed", "removed_fraction_of_class", "added"]),
            "<h2>Units</h2>", _table(report["units"], ["unit", "score", "iou_label", "iou"])]
    if curves:
        plots.ablation_curve_plot(curves, out / "ablation_curve.png", f"ablating units removes {cls}")
        body += ["<h2>Class pixels removed vs units ablated</h2>", "<img src='ablation_curve.png'>"]
    if sweep is not None:
        ctx = sweep.context_table()
        plots.context_bars(ctx, out / "context.png", f"{cls} gain by insertion location")
        plots.heatmap(sweep.heatmap().numpy(), out / "context_heatmap.png", f"mean {cls} gain by position")
        civ = sweep.context_intervals()
        ctx_rows = [{**r, "ci95": "" if not r.get("ci95") else f"{r['ci95'][0]:+.5f} … {r['ci95'][1]:+.5f}"}
                    for r in civ.get("rows", [])]
        body += ["<h2>Insertion context</h2>", _table(ctx_rows, ["location_class", "insertions", "mean_gain", "ci95"]),
                 f"<p>Orderings the 95 % intervals support ({sweep.samples} samples): "
                 f"{html.escape(', '.join(civ.get('supported', [])) or 'none')}</p>",
                 "<img src='context.png'> <img src='context_heatmap.png'>"]
        for sid, gain in sweep.examples:
            name = f"context_sample{sid}.png"
            plots.heatmap(gain.numpy(), out / name, f"sample {sid}: {cls} gain")
            body.append(f"<img src='{name}'>")
        if sweep.trace is not None:
            plots.tracing_plot(sweep.trace_curves(), out / "tracing.png", "downstream change after insertion")
            body += ["<h2>Downstream tracing</h2>", "<img src='tracing.png'>"]
    for img, caption in tiles or []:
        body.append(f"<figure><img src='{img}'><figcaption>{html.escape(caption)}</figcaption></figure>")
    atomic_write_json(out / "report.json", report)
    atomic_write_text(out / "index.html", _page(f"ganfix ACE · {cls}", body))
    return report


def _safe(name: str) -> str:
    return "".join(ch if ch.isalnum() or ch in "-_." else "_" for ch in Path(name).name)[:60]
