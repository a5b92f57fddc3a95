"""Export a patched generator that works without ganfix: `export_patched(gen, patch, out_dir) -> Export`.

Writes into out_dir (only after every file was verified; nothing half-written on failure):

- `patched_generator.pt2` (default): a torch.export `ExportedProgram` with a dynamic batch dimension,
  `torch.export.load(path).module()(z)`; `torch.export.unflatten` (ganfix's loader) gives back the
  original layer names, so the file is a GEN spec for rank/sheets/dissect again.
- `patched_generator.ts` (`formats=("pt2", "torchscript")`): TorchScript, `torch.jit.load(path)(z)`
  (deprecated upstream; compiled with torch.jit.script, never traced).
- `patched_weights.safetensors` and, when the patch folds exactly into the weights (see `fold.py`),
  `patched_state_dict.pt`: a state dict that loads with `load_state_dict(strict=True)` into the user's
  own unmodified class. When it does not fold, the weights carry the mask as extra buffers.
- `patch.json`: the patch, the folding rule used, the verification numbers and how to load each file;
  `README.md`: the same as prose.

Verification: each exported file is reloaded in a fresh `python -I` process where ganfix cannot be
imported and run at batch sizes 1, 3 and 16 on fixed latents; any max abs difference from the hooked
generator above 1e-5 fails the export (`ExportMismatch`, exit 1). A generator that cannot be exported
with a dynamic batch size is refused (`UsageError`, exit 2).
"""
from __future__ import annotations

import tempfile
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterator

import torch

from ..atomic import atomic_write_bytes, atomic_write_json, atomic_write_text
from ..distributed import is_writer
from ..errors import UsageError
from ..generator import Generator
from ..patch import Patch
from .fold import FoldPlan, find_fold, not_folded
from .formats import FORMATS, META_FILE, export_program, is_torchscript_module, parse_formats, script_module
from .patched import MaskedLayer, patched_in_place, wrapped_in_place
from .verify import TOLERANCE, VERIFY_BATCHES, ExportMismatch, check, reference_file, verify_in_fresh_process

EXPORT_TOLERANCE = TOLERANCE
DEFAULT_FORMATS = ("pt2",)
WEIGHTS_FILE = "patched_weights.safetensors"
STATE_DICT_FILE = "patched_state_dict.pt"
LOAD_LINES = {
    "pt2": "import torch; G = torch.export.load('{path}').module(); images = G(z)",
    "torchscript": "import torch; G = torch.jit.load('{path}'); images = G(z)",
}
ALL_FILES = (*FORMATS.values(), WEIGHTS_FILE, STATE_DICT_FILE, "patch.json", "README.md")

__all__ = ["export_patched", "Export", "ExportResult", "ExportMismatch", "MaskedLayer", "EXPORT_TOLERANCE",
           "DEFAULT_FORMATS", "FORMATS", "parse_formats", "resolve_formats", "hooked_output", "plan_fold",
           "verification_latents"]


@torch.no_grad()
def hooked_output(gen: Generator, patch: Patch, z: torch.Tensor) -> torch.Tensor:
    device = next((t.device for t in gen.module.parameters()), gen.device)
    with patch.applied(gen):
        return gen.module(z.to(device)).cpu()


@contextmanager
def _on_cpu(module: torch.nn.Module) -> Iterator[torch.nn.Module]:
    """The module on the CPU inside the block (exports are CPU files), back on its device after."""
    device = next((t.device for t in module.parameters()), torch.device("cpu"))
    module.cpu()
    try:
        yield module
    finally:
        module.to(device)


def verification_latents(gen: Generator, seed: int, batches=VERIFY_BATCHES) -> dict[int, torch.Tensor]:
    """Fixed latents per batch size: disjoint sample ids (seed, 0…), so no batch reuses another's samples."""
    out, start = {}, 0
    for b in batches:
        out[b] = gen.latents(range(start, start + b), seed).cpu()
        start += b
    return out


@dataclass
class ExportedFile:
    format: str
    path: Path
    max_abs_diff: dict[int, float]
    load: str

    def to_json(self) -> dict:
        return {"file": self.path.name, "path": str(self.path), "max_abs_diff": {str(k): v for k, v in self.max_abs_diff.items()},
                "load": self.load}


@dataclass
class Export:
    """What `export_patched` wrote and how it was verified (`to_json()` for reports, `markdown()` for people)."""

    out_dir: Path
    files: dict[str, ExportedFile]
    weights: Path
    state_dict_pt: Path | None
    patch_json: Path
    fold: FoldPlan
    patch: Patch
    z_shape: tuple[int, ...]
    output_range: tuple[float, float]
    seed: int
    batches: tuple[int, ...] = VERIFY_BATCHES
    tolerance: float = EXPORT_TOLERANCE
    notes: list[str] = field(default_factory=list)
    image_shape: tuple[int, int, int] | None = None  # flat outputs are viewed as images of this shape

    @property
    def folded(self) -> bool:
        return self.fold.folded

    @property
    def fold_how(self) -> str:
        return self.fold.detail

    @property
    def pt2(self) -> Path | None:
        return self.files["pt2"].path if "pt2" in self.files else None

    @property
    def torchscript(self) -> Path | None:
        return self.files["torchscript"].path if "torchscript" in self.files else None

    def max_abs_diff(self) -> float:
        """Largest difference over every format and batch size (and the folded weights)."""
        values = [d for f in self.files.values() for d in f.max_abs_diff.values()]
        values += list((self.fold.max_abs_diff or {}).values())
        return max(values) if values else 0.0

    def weights_load_line(self) -> str:
        if self.state_dict_pt is not None:
            return (f"model = YourGenerator(); model.load_state_dict(torch.load('{self.state_dict_pt.name}', "
                    "weights_only=True), strict=True)")
        return (f"from safetensors.torch import load_file; state = load_file('{self.weights.name}')  "
                f"# your layout plus the mask buffers {self.patch.layer}.ganfix_*; use the .pt2 to run it")

    def to_json(self, relative: bool = False) -> dict:
        """Paths as given, or (relative=True, for patch.json next to the files) as file names."""
        def where(p: Path | None) -> str | None:
            return None if p is None else (p.name if relative else str(p))

        data = {
            "out_dir": "." if relative else str(self.out_dir),
            "formats": {k: {**f.to_json(), "path": where(f.path)} for k, f in self.files.items()},
            "weights": {"file": self.weights.name, "path": where(self.weights),
                        "state_dict_pt": where(self.state_dict_pt),
                        "load": self.weights_load_line()},
            "fold": self.fold.to_json(),
            "folded": self.fold.folded,
            "verification": {"process": "fresh `python -I` process in which ganfix cannot be imported", "batch_sizes": list(self.batches),
                             "seed": self.seed, "sample_ids": "disjoint per batch size, from 0",
                             "tolerance": self.tolerance, "max_abs_diff": self.max_abs_diff()},
            "z_shape": list(self.z_shape), "output_range": list(self.output_range),
            "image_shape": list(self.image_shape) if self.image_shape else None,
            "patch_json": where(self.patch_json), "notes": self.notes,
        }
        return data

    to_dict = to_json

    def markdown(self) -> str:
        z = f"z = torch.randn(N, {', '.join(map(str, self.z_shape))})"
        head = (f"Patched generator: `{self.patch.layer}` units {', '.join(map(str, self.patch.units))} "
                f"({self.patch.kind}, r' = r·(1 − α) + α·k). Latents: `{z}`; images in "
                f"{self.output_range[0]:g}…{self.output_range[1]:g}"
                + (f" (flat outputs: `images.view(N, {', '.join(map(str, self.image_shape))})`)." if self.image_shape else "."))
        return head + "\n\n" + export_markdown(self.to_json()) + "\n"


def export_markdown(export: dict) -> str:
    """What was exported, how it was verified and the line of Python that loads each file (from Export.to_json())."""
    v = export["verification"]
    lines = ["| file | loads with (no ganfix needed) | max abs diff vs hooked, batch " + ", ".join(map(str, v["batch_sizes"])) + " |",
             "|---|---|---|"]
    for f in export["formats"].values():
        lines.append(f"| `{f['file']}` | `{f['load']}` | " + " / ".join(f"{d:.1e}" for d in f["max_abs_diff"].values()) + " |")
    fold, w = export["fold"], export["weights"]
    wd = " / ".join(f"{d:.1e}" for d in fold["max_abs_diff"].values()) if fold.get("max_abs_diff") else "n/a (mask buffers)"
    name = Path(w["state_dict_pt"]).name if w.get("state_dict_pt") else w["file"]
    lines += [f"| `{name}` | `{w['load']}` | {wd} |", "",
              f"Weights: {'folded' if export['folded'] else 'not folded'} (rule `{fold['rule']}`): {fold['detail']}.", "",
              f"Verified: the exported generator files were reloaded in a {v['process']} and compared with the hooked "
              f"generator at batch sizes {', '.join(map(str, v['batch_sizes']))} on fixed latents (seed {v['seed']}), "
              f"tolerance {v['tolerance']:g}" + ("; the folded weights were run in your module at the same batch sizes." if export["folded"] else ".")]
    lines += [f"Note: {n}" for n in export.get("notes", [])]
    if "torchscript" in export["formats"]:
        lines.append("TorchScript is deprecated upstream (torch 2.14 warns on `torch.jit.load`); prefer the `.pt2`.")
    lines.append("`patch.json` next to the files holds the patch, the folding rule and these numbers.")
    return "\n".join(lines)

ExportResult = Export  # the earlier name


def resolve_formats(gen: Generator, formats) -> tuple[str, ...]:
    if formats is None:
        # torch.export cannot trace TorchScript: a TorchScript GEN is exported as TorchScript (said in the notes)
        return ("torchscript",) if is_torchscript_module(gen.module) else DEFAULT_FORMATS
    names = parse_formats(formats)
    if "pt2" in names and is_torchscript_module(gen.module):
        raise UsageError(f"{gen.name} is a TorchScript generator; torch.export cannot trace TorchScript: use formats=torchscript")
    return names


@torch.no_grad()
def plan_fold(gen: Generator, patch: Patch, latents: dict[int, torch.Tensor], refs: dict[int, torch.Tensor]) -> FoldPlan:
    """Find the folding rule (fold.py) and verify it numerically at every batch size; else mask buffers."""
    if not patch.is_ablation:
        return not_folded("insertion (k ≠ 0) cannot be folded into weights; unit mask kept as buffers")
    if patch.spatial is not None:
        return not_folded("a spatially masked patch cannot be folded into weights; unit and spatial masks kept as buffers")
    first = next(iter(latents.values()))
    plan = find_fold(gen.module, patch.layer, patch.units, first)
    if not plan.folded:
        return plan
    diffs = {}
    for b, z in latents.items():
        out = torch.func.functional_call(gen.module, plan.edits, (z.to(first.device),), strict=False)
        diffs[b] = float((out.cpu().double() - refs[b].double()).abs().max())
    plan.max_abs_diff = diffs
    worst = max(diffs.values())
    if not worst <= EXPORT_TOLERANCE:
        return not_folded(f"folding into {plan.module} ({plan.rule}) is not exact here (max diff {worst:.2e}; "
                          "another path reads the zeroed tensor?); unit mask kept as buffers")
    return plan


def export_patched(gen: Generator, patch: Patch, out_dir: str | Path, formats=None, seed: int = 0) -> Export:
    """Export `patch` applied to `gen` into out_dir (see the module docstring); returns what was written."""
    from safetensors.torch import save as safetensors_save

    out_dir = Path(out_dir)
    if out_dir.exists() and not out_dir.is_dir():
        raise UsageError(f"export folder {out_dir} is a file")
    names = resolve_formats(gen, formats)
    patch.check(gen, force=True)
    num_units = gen.layer(patch.layer).units
    notes = []
    if formats is None and names == ("torchscript",):
        notes.append("the generator is TorchScript, which torch.export cannot trace: exported as TorchScript")
    staged: dict[str, bytes] = {}
    with tempfile.TemporaryDirectory(prefix="ganfix-export-") as tmp, _on_cpu(gen.module) as module:
        stage = Path(tmp)
        # references on the CPU, where the files are verified (a GPU forward differs in the last bits)
        latents = verification_latents(gen, seed)
        refs = {b: hooked_output(gen, patch, z) for b, z in latents.items()}
        plan = plan_fold(gen, patch, latents, refs)
        meta = {"z_shape": list(gen.z_shape), "output_range": list(gen.output_range),
                "image_shape": list(gen.reshape) if getattr(gen, "reshape", None) else None, "patch": patch.to_json(),
                "fold": plan.to_json(), "source": {"name": gen.name, "fingerprint": gen.fingerprint}}
        example = latents[VERIFY_BATCHES[1]][:2]  # batch 2: sizes 0 and 1 are specialised by torch.export
        if "pt2" in names:
            with patched_in_place(module, patch, plan, num_units) as m:
                staged[FORMATS["pt2"]] = export_program(m, example, meta, gen.name)
        if "torchscript" in names:
            with wrapped_in_place(module, patch, plan, num_units) as m:
                staged[FORMATS["torchscript"]] = script_module(m, gen.z_shape, gen.name)
        with patched_in_place(module, patch, plan, num_units) as m:
            state = {k: v.detach().cpu().clone().contiguous() for k, v in m.state_dict().items()}
        staged[WEIGHTS_FILE] = safetensors_save(state)
        if plan.folded:
            staged[STATE_DICT_FILE] = _torch_bytes(state)

        fmt_files = {}
        for fmt in names:
            (stage / FORMATS[fmt]).write_bytes(staged[FORMATS[fmt]])
            fmt_files[fmt] = stage / FORMATS[fmt]
        results = verify_in_fresh_process(fmt_files, reference_file(stage / "reference.pt", latents, refs))
        check(results)

    files = {fmt: ExportedFile(fmt, out_dir / FORMATS[fmt],
                               {int(b): d for b, d in results[fmt]["max_abs_diff"].items()},
                               LOAD_LINES[fmt].format(path=FORMATS[fmt])) for fmt in names}
    result = Export(out_dir, files, out_dir / WEIGHTS_FILE, out_dir / STATE_DICT_FILE if plan.folded else None,
                    out_dir / "patch.json", plan, patch, tuple(gen.z_shape), tuple(gen.output_range), seed, notes=notes,
                    image_shape=tuple(gen.reshape) if getattr(gen, "reshape", None) else None)
    if not is_writer():  # under torchrun every rank verified the same export; rank 0 alone writes it
        return result
    for name, data in staged.items():  # verified: now write, each file atomically
        atomic_write_bytes(out_dir / name, data)
    for name in ALL_FILES:  # files of an earlier export that this one does not replace would contradict patch.json
        if name not in staged and name not in ("patch.json", "README.md") and (out_dir / name).exists():
            (out_dir / name).unlink()
    atomic_write_text(out_dir / "README.md", "# ganfix export\n\n" + result.markdown())
    atomic_write_json(out_dir / "patch.json", {**patch.to_json(), "export": result.to_json(relative=True)})
    return result


def _torch_bytes(obj) -> bytes:
    import io

    buf = io.BytesIO()
    torch.save(obj, buf)
    return buf.getvalue()
