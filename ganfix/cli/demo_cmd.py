"""`ganfix demo`: the artifact workflow end to end on the embedded toy world, offline."""
from __future__ import annotations

import time
from pathlib import Path
from typing import Optional

import typer

from ..demo import DEMO_SEED, run_demo
from ..scoring import DEFAULT_RANDOM_DRAWS
from .common import JsonOpt, console_for, err_console, handle_errors, print_json
from ..progress import progress_bar
from .repair_cmd import results_table


def register(app: typer.Typer) -> None:
    @app.command("demo")
    @handle_errors
    def demo(
        out: Path = typer.Option(Path("ganfix-demo"), "--out", help="Folder for sheets, exports, report.json/md, before_after.png."),
        samples: int = typer.Option(1000, "--samples", "-n", help="Samples per FID/KID score."),
        rank_samples: int = typer.Option(2000, "--rank-samples", help="Samples in the ranking pass."),
        seed: int = typer.Option(DEMO_SEED, "--seed", help="Seed of the scored latents (the real set uses seed + 1). "
                                 "The default differs from the seed the shipped set was chosen on."),
        random_draws: int = typer.Option(DEFAULT_RANDOM_DRAWS, "--random-draws"),
        bootstrap: int = typer.Option(200, "--bootstrap"),
        annotations: Optional[Path] = typer.Option(None, "--annotations", help="Use this set instead of the shipped one."),
        no_sheets: bool = typer.Option(False, "--no-sheets", help="Skip the contact sheets."),
        no_cache: bool = typer.Option(False, "--no-cache", help="Recompute everything instead of reading cached features/statistics (results are the same; caches are checksummed)."),
        json_output: bool = JsonOpt,
    ) -> None:
        """Run rank → sheets → shipped annotation set → repair → score on the toy generator and print Table 1."""
        from ..preflight import check_at_least, check_cache_writable, check_output_dir, check_output_file  # noqa: F401
        check_output_dir(out)
        check_cache_writable(not no_cache)  # numbers: checked by run_demo before any work
        console = console_for(json_output)
        t0 = time.perf_counter()
        n_total = (2 + random_draws) * samples
        with progress_bar("scoring", n_total, err_console) as bar:
            task = bar.add_task("score", total=n_total, visible=False)

            def step(msg: str) -> None:
                err_console.print(f"[dim]{time.perf_counter() - t0:6.1f}s[/] [bold]›[/] {msg}")

            def progress(name: str, n: int, total: int) -> None:
                bar.update(task, visible=True)
                bar.advance(task, n)

            result = run_demo(out, samples, rank_samples, seed, random_draws, bootstrap, annotations, not no_sheets,
                              step=step, progress=progress, use_cache=not no_cache)
        report = result["report"]
        if json_output:
            print_json({**report, "export": result["export"]})
            return
        from ..scoring import verdict

        console.print(results_table(report, f"Table 1 on toyscenes · {report['settings']['layer']} · "
                                            f"{len(report['settings']['units'])} labelled artifact units · {samples} samples"))
        d = report["delta"]
        ci = f" (95% CI {d['ci95'][0]:+.3f} … {d['ci95'][1]:+.3f})" if d.get("ci95") else ""
        console.print(f"patched − original FD {d['fid_patched_minus_original']:+.3f}{ci} "
                      f"(Fréchet distance in the toyscenes feature space, not Inception FID)")
        console.print(verdict(report))
        console.print(f"outputs in {out}/ (report.json, report.md, before_after.png, sheets/index.html, export/) "
                      f"· {time.perf_counter() - t0:.0f} s")
        console.print(f"next: open {out / 'sheets' / 'index.html'}, or label units yourself with "
                      f"`ganfix annotate toyscenes --layer {report['settings']['layer']}`; use "
                      f"{out / 'export' / 'patched_generator.ts'} with plain torch.jit.load", soft_wrap=True)
