"""`ganfix rank GEN --layer L`: one streaming pass → unit statistics → ranking table / JSON."""
from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn
from rich.table import Table

from ..atomic import atomic_torch_save, atomic_write_json
from ..errors import UsageError
from ..ranking import rank_units, strategies
from ..tally import check_sample_args, tally_unit_stats
from .common import (DeviceOpt, GenArg, JsonOpt, OutputRangeOpt, SeedOpt, TrustOpt, WeightsOpt, ZShapeOpt,
                     console_for, err_console, handle_errors, load_gen, parse_ints, print_json)


def progress_bar(description: str, total: int, console) -> Progress:
    return Progress(TextColumn(description), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn(),
                    console=console, transient=True)


def register(app: typer.Typer) -> None:
    @app.command("rank")
    @handle_errors
    def rank(
        gen: str = GenArg,
        layer: str = typer.Option(..., "--layer", "-l", help="Layer to rank (see `ganfix layers GEN`)."),
        samples: int = typer.Option(2000, "--samples", "-n", help="Number of seeded samples in the pass."),
        seed: int = SeedOpt,
        batch_size: int = typer.Option(64, "--batch-size", "-b", help="Batch size (results do not depend on it)."),
        by: str = typer.Option("max", "--by", help=f"Ranking strategy: {', '.join(strategies())}."),
        top: int = typer.Option(20, "--top", help="Rows to show in the table."),
        k: int = typer.Option(10, "--k", help="Top-k samples kept per unit."),
        units: Optional[str] = typer.Option(None, "--units", help="Only report these units, e.g. 3,17,40."),
        out: Optional[Path] = typer.Option(None, "--out", help="Write ranking.json and unit_stats.pt here."),
        no_cache: bool = typer.Option(False, "--no-cache", help="Recompute even if a cached pass exists."),
        weights: Optional[str] = WeightsOpt,
        z_shape: Optional[str] = ZShapeOpt,
        output_range: str = OutputRangeOpt,
        device: Optional[str] = DeviceOpt,
        trust_pickle: bool = TrustOpt,
        json_output: bool = JsonOpt,
    ) -> None:
        """Rank the units of a layer from one streaming pass over seeded samples."""
        check_sample_args(samples, batch_size, k)
        if top < 1:
            raise UsageError(f"--top must be at least 1, got {top}")
        if by not in strategies():
            raise UsageError(f"unknown ranking {by!r}; choose one of: {', '.join(strategies())}")
        g = load_gen(gen, weights, z_shape, output_range, device, trust_pickle)
        g.layer(layer)  # validate before the pass
        only = g.check_units(layer, parse_ints(units, "--units")) if units is not None else None
        console = console_for(json_output)
        with progress_bar(f"tally {layer}", samples, err_console) as bar:
            task = bar.add_task("tally", total=samples)
            stats = tally_unit_stats(g, layer, samples, seed=seed, batch_size=batch_size, k=k,
                                     use_cache=not no_cache, on_batch=lambda n: bar.advance(task, n))
        ranking = rank_units(stats, by=by, layer=layer)
        rows = [dict(rank=i + 1, score=float(ranking.scores[u]), **stats.summary(u)) for i, u in enumerate(ranking.order)
                if only is None or u in only]
        report = {"generator": g.describe(), "layer": layer, "by": by, "samples": samples, "seed": seed,
                  "quantile_rank_error_bound": stats.sample.rank_error_bound(), "units": rows}
        if out is not None:
            atomic_write_json(out / "ranking.json", report)
            atomic_torch_save(out / "unit_stats.pt", stats.state_dict())
        if json_output:
            print_json({**report, "units": rows[:top]} if top < len(rows) else report)
            return
        table = Table(title=f"{g.name} · {layer} · by {by} · {samples} samples (seed {seed})")
        for col, just in [("rank", "right"), ("unit", "right"), ("score", "right"), ("top max", "right"),
                          ("mean", "right"), ("std", "right"), ("rate", "right"), ("q99", "right"), ("top samples", "left")]:
            table.add_column(col, justify=just)
        for r in rows[:top]:
            table.add_row(str(r["rank"]), str(r["unit"]), f"{r['score']:.3f}", f"{r['top_max']:.3f}", f"{r['mean']:.3f}",
                          f"{r['std']:.3f}", f"{r['rate']:.3f}", f"{r['q99']:.3f}", ",".join(map(str, r["top_ids"][:5])))
        console.print(table)
        if out is not None:
            console.print(f"wrote {out / 'ranking.json'} and {out / 'unit_stats.pt'}")
