"""torch.export archives (`.pt2`): the program is unflattened back into its original module hierarchy,
so the layer names of the generator it was exported from are hookable again.

`torch.export.load` unpickles some entries with `weights_only=False`; ganfix first checks, on the bytes
it then hands over, that every pickled entry loads with `weights_only=True` and that no custom objects
are present (otherwise the file needs --trust-pickle).
"""
from __future__ import annotations

import hashlib
import io
import json
import zipfile
from pathlib import Path

import torch
from torch import nn

from ..errors import UsageError

META_FILE = "ganfix.json"


def is_pt2(path: Path) -> bool:
    if not zipfile.is_zipfile(path):
        return False
    with zipfile.ZipFile(path) as zf:
        return any(n.endswith("/archive_format") or n == "archive_format" for n in zf.namelist()) and \
            any("/models/" in n and n.endswith(".json") for n in zf.namelist())


def _unsafe_entry(data: bytes) -> str | None:
    """Why the archive needs code to load, or None when every pickled entry is weights-only."""
    with zipfile.ZipFile(io.BytesIO(data)) as zf:
        names = zf.namelist()
        pickled = [n for n in names if "/data/sample_inputs/" in n or n.endswith(("/data/weights/model.pt", "/data/constants/model.pt"))]
        for cfg_name in (n for n in names if n.endswith(("_weights_config.json", "_constants_config.json"))):
            folder = cfg_name.rsplit("/", 1)[0]
            for fqn, meta in json.loads(zf.read(cfg_name)).get("config", {}).items():
                path_name = str(meta.get("path_name", ""))
                if path_name.startswith(("custom_obj", "opaque_obj")):
                    return f"custom object {fqn!r}"
                if meta.get("use_pickle"):
                    pickled.append(f"{folder}/{path_name}")
        for name in pickled:
            try:
                torch.load(io.BytesIO(zf.read(name)), weights_only=True)
            except Exception:
                return f"entry {name!r} is not weights-only"
    return None


def load_pt2(path: Path, z_shape, trust_pickle: bool = False) -> tuple[nn.Module, tuple[int, ...], dict]:
    """(unflattened module, z_shape, {"code_identity": graph hash, "output_range": (lo, hi), "image_shape": (C, H, W)}
    — the last two as far as ganfix recorded them)."""
    data = path.read_bytes()
    if not trust_pickle:
        why = _unsafe_entry(data)
        if why is not None:
            raise UsageError(f"{path} holds pickled data that can run code when loaded ({why}); "
                             "re-run with trust_pickle=True only if you trust this file")
    extra = {META_FILE: ""}
    try:
        program = torch.export.load(io.BytesIO(data), extra_files=extra)
        module = torch.export.unflatten(program)
    except Exception as exc:
        raise UsageError(f"could not load torch.export archive {path}: {str(exc).strip().splitlines()[0][:200] if str(exc).strip() else type(exc).__name__}") from None
    _name_types(program, module)
    try:
        meta = json.loads(extra[META_FILE]) if extra[META_FILE] else {}
    except (ValueError, TypeError):
        meta = {}
    if not isinstance(meta, dict):
        meta = {}
    shape = tuple(z_shape) if z_shape else _z_shape(meta, program)
    if shape is None:
        raise UsageError(f"cannot tell the latent shape of {path}; pass z_shape= (e.g. z_shape=512)")
    recorded = {"code_identity": _graph_identity(data)}
    out_range = meta.get("output_range")
    if isinstance(out_range, list) and len(out_range) == 2 and all(isinstance(v, (int, float)) for v in out_range):
        recorded["output_range"] = tuple(float(v) for v in out_range)
    image_shape = meta.get("image_shape")
    if isinstance(image_shape, list) and len(image_shape) == 3 and all(isinstance(v, int) and v > 0 for v in image_shape):
        recorded["image_shape"] = tuple(image_shape)
    return module, shape, recorded


def _graph_identity(data: bytes) -> str:
    """sha256 of the serialized program graphs: two programs with the same weights but different code
    get different fingerprints (the unflattened modules are all torch's own classes)."""
    h = hashlib.sha256()
    with zipfile.ZipFile(io.BytesIO(data)) as zf:
        for name in sorted(n for n in zf.namelist() if "/models/" in n and n.endswith(".json")):
            h.update(name.rsplit("/", 1)[-1].encode() + b"\0" + zf.read(name))
    return "pt2:" + h.hexdigest()


def _name_types(program, module: nn.Module) -> None:
    """Unflattened submodules are all InterpreterModules: give each the class name the export recorded
    (as TorchScript modules carry `original_name`), so `ganfix layers` shows ConvTranspose2d, BatchNorm2d, …"""
    kinds: dict[str, str] = {}
    for node in program.graph.nodes:
        for entry in (node.meta.get("nn_module_stack") or {}).values():
            if isinstance(entry, (tuple, list)) and len(entry) == 2:
                path, kind = entry
                name = kind.__name__ if isinstance(kind, type) else str(kind).rsplit(".", 1)[-1].strip("'<>")
                kinds.setdefault(str(path), name)
    for name, sub in module.named_modules():
        if name in kinds and not hasattr(sub, "original_name"):
            sub.original_name = kinds[name]


def _z_shape(meta: dict, program) -> tuple[int, ...] | None:
    recorded = meta.get("z_shape")
    if isinstance(recorded, list) and recorded and all(isinstance(s, int) for s in recorded):
        return tuple(recorded)
    inputs = [n for n in program.graph.nodes if n.op == "placeholder" and n.name in program.graph_signature.user_inputs]
    if len(inputs) == 1 and hasattr(inputs[0].meta.get("val"), "shape"):
        dims = tuple(inputs[0].meta["val"].shape[1:])
        if all(isinstance(d, int) for d in dims):
            return dims
    return None
