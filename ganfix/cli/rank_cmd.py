"""`ganfix rank GEN --layer L`: one streaming pass → unit statistics → ranking table / JSON."""
from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer
from rich.table import Table

from .. import defaults
from ..errors import UsageError
from .common import GenArg, GenOptions, JsonOpt, console_for, parse_ints, print_json, warn_if_near_constant
from .scan_opts import PassOptions, ScanOptions, SuggestOpt, ranking_command

# With an ablation scan the score is −ΔFID: show ΔFID/ΔKID instead, and fewer statistics, to fit 80 columns.
STAT_COLUMNS = ["score", "top max", "mean", "std", "rate", "q99"]
SCAN_COLUMNS = ["ΔFID", "ΔKID", "top max", "rate"]
FORMATS = {"score": lambda r: f"{r['score']:.3f}", "top max": lambda r: f"{r['top_max']:.3f}",
           "mean": lambda r: f"{r['mean']:.3f}", "std": lambda r: f"{r['std']:.3f}", "rate": lambda r: f"{r['rate']:.3f}",
           "q99": lambda r: f"{r['q99']:.3f}", "ΔFID": lambda r: f"{r['delta_fid']:+.4f}",
           "ΔKID": lambda r: f"{r['delta_kid']:+.5f}"}


def columns(report: dict) -> tuple[list[str], dict]:
    """The table's statistic columns and their formats (an automatic ranker adds its methods' scores)."""
    if "ablation_scan" in report:
        return SCAN_COLUMNS, FORMATS
    auto = report.get("automatic")
    if auto is None:
        return STAT_COLUMNS, FORMATS
    methods = auto["methods"] if report["by"] == "artifact" else []
    fmt = {**FORMATS, **{m: (lambda r, m=m: f"{r['methods'][m]:.3g}") for m in methods}}
    return ["score", *methods, "top max", "rate"], fmt


def ranking_table(report: dict, name: str, top: int) -> Table:
    table = Table(title=f"{name} · {report['layer']} · by {report['by']} · {report['samples']} samples (seed {report['seed']})")
    cols, fmt = columns(report)
    for col in ["rank", "unit", *cols]:
        table.add_column(col, justify="right")
    table.add_column("top samples", justify="left")
    for r in report["units"][:top]:
        table.add_row(str(r["rank"]), str(r["unit"]), *(fmt[c](r) for c in cols), ",".join(map(str, r["top_ids"][:5])))
    return table


def scan_notes(report: dict) -> list[str]:
    lines = []
    scan = report.get("ablation_scan")
    if scan is not None:
        lines.append(f"ablation scan: base FID {scan['base_fid']:.4f} ({scan['features']}, {scan['samples']} samples); "
                     "negative ΔFID = ablating the unit alone brings the images nearer the real ones. "
                     "Confirm candidates on their contact sheets, and score the final set with another --seed. "
                     f"The top max, rate and top samples columns come from a separate {report['samples']}-sample "
                     "statistics pass (--samples; cached).")
    auto = report.get("automatic")
    if auto is not None:
        from ..ranking.automatic import DESCRIPTIONS

        lines.append(f"{report['by']}: {DESCRIPTIONS[report['by']]}; {auto['top_samples']} top samples per unit of a "
                     f"{report['samples']}-sample pool" + (f", {auto['features']} features" if auto["features"] else "")
                     + ". A shortlist: confirm candidates on their contact sheets.")
    s = report.get("suggested")
    if s is not None:
        steps = " → ".join(f"{f:.4f}" for f in s["fids"]) or "no unit helped"
        lines.append(f"suggested set ({len(s['units'])} of {s['tried']} candidates, forward selection): "
                     f"{','.join(map(str, s['units'])) or 'none'}; FID {s['base_fid']:.4f} → {steps}. "
                     f"Check each on its contact sheet before marking it (ganfix annotate --mark …).")
    return lines


def show(report: dict, name: str, top: int, out: Optional[Path], json_output: bool) -> None:
    if json_output:
        return print_json({**report, "units": report["units"][:top]} if top < len(report["units"]) else report)
    console = console_for(False)
    for item in [ranking_table(report, name, top), *scan_notes(report)]:
        console.print(item)
    if out is not None:
        console.print(f"wrote {out / 'ranking.json'} and {out / 'unit_stats.pt'}")


def write_ranking(out: Path, report: dict, stats) -> None:
    from ..atomic import atomic_torch_save, atomic_write_json

    atomic_write_json(out / "ranking.json", report)
    atomic_torch_save(out / "unit_stats.pt", stats.state_dict())


@ranking_command
def rank(
    gen: str = GenArg,
    run: PassOptions = None,
    top_samples: Optional[int] = typer.Option(None, "--top-samples", help="Automatic rankers: pool samples per unit "
                                              "(the ones where it fires most; default 10% of --samples)."),
    top: int = typer.Option(defaults.TABLE_ROWS, "--top", help="Rows to show in the table."),
    units: Optional[str] = typer.Option(None, "--units", help="Only report these units, e.g. 3,17,40."),
    out: Optional[Path] = typer.Option(None, "--out", help="Write ranking.json and unit_stats.pt here."),
    scan_opts: ScanOptions = None,
    suggest: int = SuggestOpt,
    gen_opts: GenOptions = None,
    json_output: bool = JsonOpt,
) -> None:
    """Rank the units of a layer from one streaming pass over seeded samples."""
    from ..workflow.rank import rank as rank_units, ranking_report

    if top < 1:
        raise UsageError(f"--top must be at least 1, got {top}")
    g = gen_opts.load(gen)
    only = parse_ints(units, "--units")
    ranking = rank_units(g, run.layer, run.by, units=only, **run.rank_kwargs(),
                         **scan_opts.for_ranking(run.by, suggest=suggest, top_samples=top_samples))
    report = ranking_report(g, ranking, run.samples, run.seed, units=only)
    warn_if_near_constant(g)
    if out is not None:
        write_ranking(out, report, ranking.stats)
    show(report, g.name, top, out, json_output)

def register(app: typer.Typer) -> None:
    app.command("rank")(rank)
