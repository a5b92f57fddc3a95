"""`ganfix.export(gen, patch, out)`: the patched generator as files usable without ganfix → Export."""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .. import defaults
from ..generator import Generator
from ..patch import Patch


@dataclass
class Export:
    """What `export` wrote (ganfix.exporting.export_patched's result) and where."""
    out: Path
    result: Any

    def to_json(self) -> dict:
        return self.result.to_json()

    def summary(self) -> str:
        e = self.to_json()
        lines = [f"exported {f['path']} (verified in a fresh process at batch sizes {', '.join(f['max_abs_diff'])}: "
                 f"max diff {max(f['max_abs_diff'].values()):.1e}); load: {f['load']}" for f in e["formats"].values()]
        lines.append(f"weights {'folded' if e['folded'] else 'with unit mask buffers'} ({e['fold']['rule']}): {e['fold']['detail']}")
        return "\n".join(lines)

    def __str__(self) -> str:
        return self.summary()


def export(gen: Generator, patch: Patch, out: str | Path, seed: int = defaults.SEED, formats=None) -> Export:
    """Write the patched generator into `out` (torch.export .pt2 by default, `formats="pt2,torchscript"` adds
    TorchScript; weights; patch.json), each file verified in a fresh process at batch sizes 1, 3, 16."""
    from ..exporting import export_patched

    return Export(Path(out), export_patched(gen, patch, out, formats=formats, seed=seed))


def write_export_report(out: Path, gen: Generator, patch: Patch, exported: Export) -> None:
    """report.json of a repair that only exported (nothing scored)."""
    from ..atomic import atomic_write_json

    atomic_write_json(out / "report.json", {"export": exported.to_json(),
                                            "settings": {"generator": gen.name, "layer": patch.layer, "units": patch.units}})
