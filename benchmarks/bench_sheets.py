"""Contact sheets for every unit of a layer: today's sheet pass vs the code that `annotate` ran when
issue 9 was filed, side by side.

    python benchmarks/bench_sheets.py                 # toyscenes layer4 (64 units), 2000 samples, k = 10, 3 rounds
    python benchmarks/bench_sheets.py --units 16      # a quicker run on the first 16 units in ranking order

The baseline is the real code, not a re-creation: `ganfix/` as of commit fb1afd9 (the parent of the
first commit for issue 9), taken from this repository's history with `git archive` into a temporary
folder. It re-generated the union of the units' top-k samples in batches, drew each tile with float
max-pool morphology one at a time (at 192 px for the unit sheets, again at 128 px for the grouped
sheets), pasted tiles with PIL, and wrote each PNG with Pillow at zlib level 6, atomically and
fsynced.

Today's `build_sheets` re-generates the samples in the order units need them on a worker thread while
the main thread draws each unit as soon as its samples exist: tiles of ~128 px rendered in one batched
pass per unit, sheets composed as arrays, captions from cached glyphs, PNGs (Sub filter, deflate level
1 from zlib-ng) encoded on two more threads and not fsynced one by one (the manifest, written last, is).

Each measurement is a fresh process: load the toy generator, compute the layer's statistics (not timed,
no cache), then time one `build_sheets` call, wall clock and CPU time (all threads). torch runs on one
intra-op thread in both (`--threads N` for N). Rounds alternate baseline/today so load on a shared
machine hits both alike; the ratio is per round. Both write 64 overlay sheets, 64 plain sheets and 7 grouped sheets.
"""
from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
BASELINE = "fb1afd99455b8c2d32a3eb3d216c97c2c889fe57"  # main just before the first commit for issue 9

# Runs in a fresh process with PYTHONPATH pointing at one version of ganfix; prints one JSON line.
MEASURE = r"""
import json, sys, tempfile, time
from pathlib import Path
import torch
torch.set_num_threads(int(sys.argv[4]))
from ganfix.generator import load_generator
from ganfix.sheets import build_sheets
from ganfix.stats.tally import tally_unit_stats
layer, samples, units = sys.argv[1], int(sys.argv[2]), (int(sys.argv[3]) or None)
gen = load_generator("toyscenes", device="cpu")
stats = tally_unit_stats(gen, layer, samples, seed=0, k=10, use_cache=False)
out = Path(tempfile.mkdtemp(prefix="bench-sheets-"))
t0, c0 = time.perf_counter(), time.process_time()
manifest = build_sheets(gen, layer, out, samples=samples, stats=stats, top=units, use_cache=False)
wall, cpu = time.perf_counter() - t0, time.process_time() - c0
pngs = list(out.rglob("*.png"))
print(json.dumps({"wall": wall, "cpu": cpu, "units": len(manifest["units"]), "pngs": len(pngs),
                  "bytes": sum(p.stat().st_size for p in pngs), "out": str(out)}))
"""


def baseline_tree(dest: Path) -> Path:
    """`ganfix/` at BASELINE, extracted from git history into dest."""
    try:
        archive = subprocess.run(["git", "-C", str(ROOT), "archive", BASELINE, "ganfix"], check=True, capture_output=True).stdout
    except (OSError, subprocess.CalledProcessError) as exc:
        sys.exit(f"bench_sheets needs this repository's git history (commit {BASELINE[:7]}): {exc}")
    subprocess.run(["tar", "-x", "-C", str(dest)], input=archive, check=True)
    return dest


def measure(tree: Path, layer: str, samples: int, units: int | None, threads: int) -> dict:
    env = {**os.environ, "PYTHONPATH": str(tree), "OMP_NUM_THREADS": str(threads),
           "GANFIX_CACHE": tempfile.mkdtemp(prefix="bench-sheets-cache-")}
    run = subprocess.run([sys.executable, "-c", MEASURE, layer, str(samples), str(units or 0), str(threads)], env=env, cwd=tempfile.gettempdir(),
                         capture_output=True, text=True)
    if run.returncode:
        sys.exit(f"measurement failed ({tree}):\n{run.stderr[-2000:]}")
    result = json.loads(run.stdout.strip().splitlines()[-1])
    shutil.rmtree(result["out"], ignore_errors=True)
    shutil.rmtree(env["GANFIX_CACHE"], ignore_errors=True)
    return result


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--layer", default="layer4")
    ap.add_argument("--samples", type=int, default=2000)
    ap.add_argument("--units", type=int, default=None, help="only the top N units in ranking order")
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--threads", type=int, default=1, help="torch intra-op threads in both (default 1; "
                    "ganfix's own default is every CPU this process may use)")
    args = ap.parse_args()
    old_tree = baseline_tree(Path(tempfile.mkdtemp(prefix="bench-sheets-baseline-")))
    print(f"toyscenes {args.layer}, top 10 of {args.samples} samples, torch on {args.threads} thread(s), {os.cpu_count()} CPUs, "
          f"load {os.getloadavg()[0]:.1f}; baseline: ganfix at {BASELINE[:7]}")
    ratios, cpu_ratios = [], []
    for r in range(args.rounds):
        res = {}
        for name in (("old", "new") if r % 2 == 0 else ("new", "old")):
            res[name] = measure(old_tree if name == "old" else ROOT, args.layer, args.samples, args.units, args.threads)
        old, new = res["old"], res["new"]
        if (old["units"], old["pngs"]) != (new["units"], new["pngs"]):
            sys.exit(f"the two versions wrote different sheets: {old} vs {new}")
        ratios.append(old["wall"] / new["wall"])
        cpu_ratios.append(old["cpu"] / new["cpu"])
        n = new["units"]
        print(f"round {r + 1}: baseline {old['wall']:.1f} s ({old['wall'] / n:.3f} s/unit, CPU {old['cpu']:.1f} s, "
              f"{old['bytes'] / 1e6:.0f} MB), today {new['wall']:.2f} s ({new['wall'] / n:.3f} s/unit, CPU {new['cpu']:.1f} s, "
              f"{new['bytes'] / 1e6:.0f} MB): {ratios[-1]:.1f}× faster end to end, {cpu_ratios[-1]:.1f}× less CPU time "
              f"({n} units, {new['pngs']} PNGs each), load {os.getloadavg()[0]:.1f}")
    shutil.rmtree(old_tree, ignore_errors=True)
    med = lambda xs: sorted(xs)[len(xs) // 2]  # noqa: E731
    print(f"speed-up, baseline ÷ today: end to end {' '.join(f'{x:.1f}×' for x in ratios)} (median {med(ratios):.1f}×); "
          f"CPU time {' '.join(f'{x:.1f}×' for x in cpu_ratios)} (median {med(cpu_ratios):.1f}×)")


if __name__ == "__main__":
    main()
