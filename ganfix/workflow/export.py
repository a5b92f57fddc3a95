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
    """What `export` wrote (ganfix.export.export_patched's result) and where."""
    out: Path
    result: Any

    def to_json(self) -> dict:
        return self.result.to_dict()

    def summary(self) -> str:
        e = self.to_json()
        return (f"exported {e['torchscript']} (max diff {e['torchscript_max_abs_diff']:.1e}); "
                f"weights {'folded' if e['folded'] else 'with unit mask buffers'}: {e['fold_how']}")

    def __str__(self) -> str:
        return self.summary()


def export(gen: Generator, patch: Patch, out: str | Path, seed: int = defaults.SEED) -> Export:
    """Write the patched generator into `out` (TorchScript, weights, patch.json), each verified against the hook."""
    from ..export import export_patched

    return Export(Path(out), export_patched(gen, patch, out, seed=seed))


def write_export_report(out: Path, gen: Generator, patch: Patch, exported: Export) -> None:
    """report.json of a repair that only exported (nothing scored)."""
    from ..atomic import atomic_write_json

    atomic_write_json(out / "report.json", {"export": exported.to_json(),
                                            "settings": {"generator": gen.name, "layer": patch.layer, "units": patch.units}})
