"""`ganfix rank GEN --layer L`: one streaming pass → unit statistics → ranking table / JSON."""
from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer
from rich.table import Table

from ..atomic import atomic_torch_save, atomic_write_json
from ..errors import UsageError
from ..ranking import rank_units, strategies
from ..ranking.automatic import AUTOMATIC, DESCRIPTIONS, NEEDS_REAL, rank_automatic
from ..stats.tally import check_sample_args, tally_unit_stats
from .common import (GenArg, GenOptions, JsonOpt, SeedOpt, console_for, err_console, generator_options, handle_errors,
                     parse_ints, print_json)
from ..progress import progress_bar
from .scan_opts import (ABLATION, BY_HELP, ScanOptions, SuggestOpt, auto_real_source, rank_names, run_scan, run_suggest,
                        scan_options, scan_real_source)


def register(app: typer.Typer) -> None:
    @app.command("rank")
    @handle_errors
    @generator_options
    @scan_options
    def rank(
        gen: str = GenArg,
        layer: str = typer.Option(..., "--layer", "-l", help="Layer to rank (see `ganfix layers GEN`)."),
        samples: int = typer.Option(2000, "--samples", "-n", help="Number of seeded samples in the pass."),
        seed: int = SeedOpt,
        batch_size: int = typer.Option(64, "--batch-size", "-b", help="Batch size (results do not depend on it)."),
        by: str = typer.Option("max", "--by", help=f"Ranking strategy: {', '.join(rank_names())}. {BY_HELP}"),
        top_samples: Optional[int] = typer.Option(None, "--top-samples", help="Automatic rankers: pool samples per unit "
                                                  "(the ones where it fires most; default 10% of --samples)."),
        top: int = typer.Option(20, "--top", help="Rows to show in the table."),
        k: int = typer.Option(10, "--k", help="Top-k samples kept per unit."),
        units: Optional[str] = typer.Option(None, "--units", help="Only report these units, e.g. 3,17,40."),
        out: Optional[Path] = typer.Option(None, "--out", help="Write ranking.json and unit_stats.pt here."),
        no_cache: bool = typer.Option(False, "--no-cache", help="Recompute even if a cached pass exists."),
        scan_opts: ScanOptions = None,
        suggest: int = SuggestOpt,
        gen_opts: GenOptions = None,
        json_output: bool = JsonOpt,
    ) -> None:
        """Rank the units of a layer from one streaming pass over seeded samples."""
        from ..preflight import check_at_least, check_cache_writable, check_output_dir, check_output_file  # noqa: F401
        check_output_dir(out)
        check_cache_writable(not no_cache)
        check_sample_args(samples, batch_size, k)
        if top < 1:
            raise UsageError(f"--top must be at least 1, got {top}")
        if by not in rank_names():
            raise UsageError(f"unknown ranking {by!r}; choose one of: {', '.join(rank_names())}")
        if suggest < 0:
            raise UsageError(f"--suggest must be 0 (off) or a number of units, got {suggest}")
        if suggest and by != ABLATION:
            raise UsageError("--suggest builds on the ablation scan; add --by ablation")
        g = gen_opts.load(gen)
        g.layer(layer)  # validate before the pass
        only = g.check_units(layer, parse_ints(units, "--units")) if units is not None else None
        console = console_for(json_output)
        with progress_bar(f"tally {layer}", samples, err_console) as bar:
            task = bar.add_task("tally", total=samples)
            stats = tally_unit_stats(g, layer, samples, seed=seed, batch_size=batch_size, k=k,
                                     use_cache=not no_cache, on_batch=lambda n: bar.advance(task, n))
        scan = suggested = auto = None
        if by in AUTOMATIC:
            real_src = auto_real_source(g, scan_opts, samples) if NEEDS_REAL[by] else None
            with progress_bar(f"pool pass {layer}", samples, err_console) as bar:
                task = bar.add_task("pool", total=samples)
                auto = rank_automatic(g, layer, by, real_src, scan_opts.features, samples, seed, top_samples,
                                      scan_opts.inception_weights, batch_size, not no_cache,
                                      on_batch=lambda n: bar.advance(task, n))
            ranking = auto.ranking
        elif by == ABLATION:
            real_src = scan_real_source(g, scan_opts)
            scan = run_scan(g, layer, only, seed, scan_opts, real_src, batch_size, not no_cache)
            ranking = scan.ranking()
            if suggest:
                suggested = run_suggest(g, scan, real_src, scan_opts, suggest, batch_size, not no_cache)
        else:
            ranking = rank_units(stats, by=by, layer=layer)
        rows = [dict(rank=i + 1, score=float(ranking.scores[u]), **stats.summary(u)) for i, u in enumerate(ranking.order)
                if only is None or u in only]
        if scan is not None:
            for r in rows:
                r["delta_fid"], r["delta_kid"] = scan.delta(r["unit"])
        if auto is not None:
            for r in rows:
                r["methods"] = {m: float(v[r["unit"]]) for m, v in auto.methods.items()}
        report = {"generator": g.describe(), "layer": layer, "by": by, "samples": samples, "seed": seed,
                  "quantile_rank_error_bound": stats.sample.rank_error_bound(), "units": rows}
        if scan is not None:
            report["ablation_scan"] = {"samples": scan.samples, "features": scan.features, "base_fid": scan.base_fid,
                                       "base_kid": scan.base_kid, "real": scan_opts.real, "real_seed": scan_opts.real_seed}
            if suggested is not None:
                report["suggested"] = suggested.to_dict()
        if auto is not None:
            report["automatic"] = auto.settings
        if out is not None:
            atomic_write_json(out / "ranking.json", report)
            atomic_torch_save(out / "unit_stats.pt", stats.state_dict())
        if json_output:
            print_json({**report, "units": rows[:top]} if top < len(rows) else report)
            return
        table = Table(title=f"{g.name} · {layer} · by {by} · {samples} samples (seed {seed})")
        # With an ablation scan the score is −ΔFID: show ΔFID/ΔKID instead, and fewer statistics, to fit 80 columns.
        stat_cols = ["score", "top max", "mean", "std", "rate", "q99"] if scan is None else ["ΔFID", "ΔKID", "top max", "rate"]
        if auto is not None:
            stat_cols = ["score", *(m for m in auto.methods if by == "artifact"), "top max", "rate"]
        for col in ["rank", "unit", *stat_cols]:
            table.add_column(col, justify="right")
        table.add_column("top samples", justify="left")
        fmt = {"score": lambda r: f"{r['score']:.3f}", "top max": lambda r: f"{r['top_max']:.3f}",
               "mean": lambda r: f"{r['mean']:.3f}", "std": lambda r: f"{r['std']:.3f}", "rate": lambda r: f"{r['rate']:.3f}",
               "q99": lambda r: f"{r['q99']:.3f}", "ΔFID": lambda r: f"{r['delta_fid']:+.4f}",
               "ΔKID": lambda r: f"{r['delta_kid']:+.5f}"}
        for m in (auto.methods if auto is not None else {}):
            fmt[m] = lambda r, m=m: f"{r['methods'][m]:.3g}"
        for r in rows[:top]:
            table.add_row(str(r["rank"]), str(r["unit"]), *(fmt[c](r) for c in stat_cols), ",".join(map(str, r["top_ids"][:5])))
        console.print(table)
        if scan is not None:
            metric = "FID" if scan.features.startswith("inception") else f"FD ({scan.features} features)"
            real = scan_opts.real or "world"
            console.print(f"ablation scan: base {metric} vs {real} {scan.base_fid:.4f} ({scan.samples} samples); "
                          "negative ΔFID = ablating the unit alone brings the images nearer the real ones. "
                          "Confirm candidates on their contact sheets, and score the final set with another --seed.")
        if auto is not None:
            console.print(f"{by}: {DESCRIPTIONS[by]}; {auto.settings['top_samples']} top samples per unit of a "
                          f"{samples}-sample pool" + (f", {auto.settings['features']} features" if auto.settings["features"] else "")
                          + ". A shortlist: confirm candidates on their contact sheets.")
        if suggested is not None:
            steps = " → ".join(f"{f:.4f}" for f in suggested.fids) or "no unit helped"
            console.print(f"suggested set ({len(suggested.units)} of {suggested.tried} candidates, forward selection): "
                          f"{','.join(map(str, suggested.units)) or 'none'}; FID {suggested.base_fid:.4f} → {steps}. "
                          f"Check each on its contact sheet before marking it (ganfix annotate --mark …).")
        if out is not None:
            console.print(f"wrote {out / 'ranking.json'} and {out / 'unit_stats.pt'}")
