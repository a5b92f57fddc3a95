"""Verification that cannot lie: reload every exported file in a fresh `python -I` process in which
ganfix cannot be imported, run it at several batch sizes on fixed latents and compare with the
hooked generator's outputs (saved beside the files before the process starts)."""
from __future__ import annotations

import json
import math
import os
import subprocess
import sys
from pathlib import Path

import torch

from ..errors import GanfixError

VERIFY_BATCHES = (1, 3, 16)
TOLERANCE = 1e-5

# Runs with `python -I` (no PYTHONPATH, no user site, no script dir on sys.path) and with ganfix made
# unimportable: the exported files must load with torch alone.
_CHILD = r'''
import json, math, sys, warnings
sys.modules["ganfix"] = None
import torch
spec = json.loads(sys.argv[1])
data = torch.load(spec["refs"], weights_only=True)
result = {}
for fmt, path in spec["files"].items():
    entry = {"max_abs_diff": {}, "errors": []}
    result[fmt] = entry
    try:
        if fmt == "pt2":
            model = torch.export.load(path).module()
        else:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", FutureWarning)
                model = torch.jit.load(path)
    except Exception as exc:
        entry["errors"].append("could not load: %s: %s" % (type(exc).__name__, (str(exc).strip().splitlines() or [""])[0][:200]))
        continue
    for b in spec["batches"]:
        z, ref = data["z%d" % b], data["ref%d" % b]
        try:
            with torch.no_grad():
                y = model(z)
        except Exception as exc:
            entry["errors"].append("batch %d: %s: %s" % (b, type(exc).__name__, (str(exc).strip().splitlines() or [""])[0][:200]))
            continue
        if not isinstance(y, torch.Tensor) or tuple(y.shape) != tuple(ref.shape):
            entry["errors"].append("batch %d: output shape %s, expected %s" % (b, tuple(getattr(y, "shape", ())), tuple(ref.shape)))
            continue
        d = float((y.double() - ref.double()).abs().max())
        entry["max_abs_diff"][str(b)] = d if math.isfinite(d) else None
print(json.dumps(result))
'''


class ExportMismatch(GanfixError):
    """An exported file does not reproduce the hooked generator: a failed gate (exit 1), nothing written."""

    exit_code = 1


def reference_file(path: Path, latents: dict[int, torch.Tensor], refs: dict[int, torch.Tensor]) -> Path:
    state = {}
    for b in latents:
        state[f"z{b}"] = latents[b].detach().cpu().contiguous()
        state[f"ref{b}"] = refs[b].detach().cpu().contiguous()
    torch.save(state, path)
    return path


def verify_in_fresh_process(files: dict[str, Path], refs_path: Path, batches=VERIFY_BATCHES, timeout: float = 600) -> dict:
    """{format: {"max_abs_diff": {"1": d, …}, "errors": [...]}} measured by a fresh `python -I`."""
    spec = json.dumps({"files": {k: str(v) for k, v in files.items()}, "refs": str(refs_path), "batches": list(batches)})
    env = {k: v for k, v in os.environ.items() if not k.startswith("PYTHON")}
    env.setdefault("OMP_NUM_THREADS", "1")
    try:
        proc = subprocess.run([sys.executable, "-I", "-c", _CHILD, spec], capture_output=True, text=True,
                              timeout=timeout, cwd=refs_path.parent, env=env)
    except subprocess.TimeoutExpired:
        raise ExportMismatch(f"verification of the export did not finish in {timeout:.0f} s; nothing written") from None
    lines = proc.stdout.strip().splitlines()
    if proc.returncode != 0 or not lines:
        tail = (proc.stderr.strip().splitlines() or ["no output"])[-1][:300]
        raise ExportMismatch(f"the verification process failed ({tail}); nothing written")
    return json.loads(lines[-1])


def check(results: dict, tolerance: float = TOLERANCE) -> None:
    """ExportMismatch naming the first format/batch that failed."""
    for fmt, entry in results.items():
        if entry["errors"]:
            raise ExportMismatch(f"exported {fmt} failed on reload in a fresh process: {entry['errors'][0]}; nothing written")
        for b, d in entry["max_abs_diff"].items():
            if d is None or not math.isfinite(d) or d > tolerance:
                shown = "a non-finite value" if d is None else f"{d:.2e}"
                raise ExportMismatch(f"exported {fmt} differs from the hooked generator at batch {b} by {shown} "
                                     f"(> {tolerance:g}); nothing written")
