"""`ganfix worst GEN --layer L`: the samples most likely to carry artifacts, with the units firing in them."""
from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer
from rich.table import Table

from ..atomic import atomic_write_json
from ..progress import progress_bar
from .common import (GenArg, GenOptions, JsonOpt, SeedOpt, console_for, err_console, generator_options, handle_errors,
                     parse_ints, print_json)
from .scan_opts import ScanOptions, scan_options


def show(g, report, n: int, samples: int, seed: int, out: Optional[Path]) -> None:
    console = console_for(False)
    table = Table(title=f"{g.name} · {report.layer} · the {n} worst of {samples} samples (seed {seed})")
    for col in ["sample", "score", "realism", "contribution", "units firing most (* artifact unit)"]:
        table.add_column(col, justify="left" if col.startswith("units") else "right")
    for r in report.rows:
        table.add_row(str(r["id"]), f"{r['score']:.3f}", "—" if r["realism"] is None else f"{r['realism']:.3f}",
                      f"{r['contribution']:.2f}",
                      ", ".join(f"{v['unit']}{'*' if v['artifact'] else ''} ({v['strength']:.2f})" for v in r["units"]))
    console.print(table)
    console.print(f"artifact units: {', '.join(map(str, report.artifact_units))} "
                  f"({report.settings['artifact_units_from']}). Realism < 1: outside every real sample's 3-NN ball.")
    if out is not None:
        console.print(f"wrote {out / 'worst.json'} and {out / 'worst.png'}")


@handle_errors
@generator_options
@scan_options
def worst(
    gen: str = GenArg,
    layer: str = typer.Option(..., "--layer", "-l", help="Layer whose units are scored (see `ganfix layers GEN`)."),
    samples: int = typer.Option(2000, "--samples", "-n", help="Pool of seeded samples to search (and real images)."),
    seed: int = SeedOpt,
    n: int = typer.Option(16, "--worst", help="How many of the worst samples to list and draw."),
    artifact_units: int = typer.Option(8, "--artifact-units", help="Count the top N units of the artifact ranking "
                                       "as artifact units (their firing is the 'unit contribution')."),
    units: Optional[str] = typer.Option(None, "--units", help="Use these artifact units instead, e.g. 5,6,24."),
    no_real: bool = typer.Option(False, "--no-real", help="Score by unit contribution only (no real data, no realism)."),
    units_per_sample: int = typer.Option(3, "--units-per-sample", help="Units listed per sample (those firing most)."),
    out: Optional[Path] = typer.Option(None, "--out", help="Write worst.json and worst.png (contact sheet) here."),
    batch_size: int = typer.Option(64, "--batch-size", "-b", help="Batch size (results do not depend on it)."),
    no_cache: bool = typer.Option(False, "--no-cache", help="Recompute even if a cached pool pass exists."),
    scan_opts: ScanOptions = None,
    gen_opts: GenOptions = None,
    json_output: bool = JsonOpt,
) -> None:
    """The worst samples by realism (vs --real) and artifact-unit contribution, with the units firing most in each."""
    from ..inputs import features_name, open_real
    from ..worst import worst_samples, worst_sheet

    g = gen_opts.load(gen)
    g.layer(layer)
    chosen = g.check_units(layer, parse_ints(units, "--units")) if units is not None else artifact_units
    real_src = None if no_real else open_real(g, scan_opts.real, scan_opts.real_seed, samples)
    with progress_bar(f"pool pass {layer}", samples, err_console) as bar:
        task = bar.add_task("pool", total=samples)
        report = worst_samples(g, layer, real_src, features_name(g, scan_opts.features), samples, seed, n, chosen, units_per_sample,
                               scan_opts.inception_weights, batch_size, not no_cache,
                               on_batch=lambda n: bar.advance(task, n))
    data = {"generator": g.describe(), **report.to_dict()}
    if out is not None:
        atomic_write_json(out / "worst.json", data)
        worst_sheet(g, report, out / "worst.png")
    if json_output:
        print_json(data)
        return
    show(g, report, n, samples, seed, out)


def register(app: typer.Typer) -> None:
    app.command("worst")(worst)
