"""Writers for the exported generator: torch.export (`.pt2`, the default) and TorchScript (`.ts`, optional).

Both are exported with a dynamic batch dimension. A generator that cannot be exported that way is
refused with one line naming the reason: nothing is ever traced at a fixed batch size.
"""
from __future__ import annotations

import io
import json
import re
import warnings

import torch
from torch import nn

from ..errors import UsageError

FORMATS = {"pt2": "patched_generator.pt2", "torchscript": "patched_generator.ts"}
META_FILE = "ganfix.json"  # extra file inside the .pt2: z_shape, output_range, patch, layer names


def parse_formats(formats) -> tuple[str, ...]:
    """'pt2', 'pt2,torchscript' or an iterable of names → ordered unique tuple; UsageError otherwise."""
    items = formats.split(",") if isinstance(formats, str) else list(formats)
    names = []
    for item in (str(i).strip().lower() for i in items):
        name = {"ts": "torchscript", "jit": "torchscript", "export": "pt2"}.get(item, item)
        if name not in FORMATS:
            raise UsageError(f"unknown export format {item!r}; choose from {', '.join(FORMATS)} (comma-separated)")
        if name not in names:
            names.append(name)
    if not names:
        raise UsageError(f"no export format given; choose from {', '.join(FORMATS)}")
    return tuple(names)


def is_torchscript_module(module: nn.Module) -> bool:
    from ..loaders.torchscript import ScriptChain

    return isinstance(module, (torch.jit.ScriptModule, ScriptChain))


def _reason(exc: Exception) -> str:
    text = str(exc).strip()
    constant = re.search(r"specialized it to be a constant \((\d+)\)", text) or re.search(r"inferred to be a constant \((\d+)\)", text)
    if constant:
        return f"forward treats the batch size as the constant {constant.group(1)}"
    first = text.splitlines()[0] if text else type(exc).__name__
    return re.sub(r"\s*For more information.*$", "", first)[:200]


def export_program(module: nn.Module, z: torch.Tensor, meta: dict, name: str) -> bytes:
    """torch.export with the batch dimension dynamic → bytes of a `.pt2` archive (meta inside)."""
    from torch.export import Dim, ShapesCollection

    shapes = ShapesCollection()
    shapes[z] = {0: Dim("batch", min=1)}
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", UserWarning)  # fake-tensor internals chatter, not the user's concern
            program = torch.export.export(module, (z,), dynamic_shapes=shapes)
    except Exception as exc:  # torch.export raises many types; the user needs the reason, not a traceback
        raise UsageError(f"cannot export {name} with a dynamic batch size (torch.export: {_reason(exc)}); "
                         "nothing written. Make forward independent of the batch size "
                         "(no Python loops over samples, no hard-coded batch), or try formats=torchscript") from None
    buf = io.BytesIO()
    torch.export.save(program, buf, extra_files={META_FILE: json.dumps(meta)})
    return buf.getvalue()


def script_module(module: nn.Module, z_shape, name: str) -> bytes:
    """torch.jit.script (never trace) → bytes of a `.ts` file. TorchScript is deprecated upstream (torch 2.14)."""
    had = "z_shape" in module.__dict__
    old = module.__dict__.get("z_shape")
    if not isinstance(module, torch.jit.ScriptModule):
        module.z_shape = [int(s) for s in z_shape]  # kept by torch.jit.script: the reload needs no --z-shape
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", FutureWarning)  # "torch.jit.script/save is deprecated": asked for explicitly
            try:
                script = module if isinstance(module, torch.jit.ScriptModule) else torch.jit.script(module)
            except Exception as exc:
                raise UsageError(f"cannot compile {name} as TorchScript (torch.jit.script: {_reason(exc)}); "
                                 "nothing written. Use the default formats=pt2 (torch.export)") from None
            buf = io.BytesIO()
            torch.jit.save(script, buf)
        return buf.getvalue()
    finally:
        if not isinstance(module, torch.jit.ScriptModule):
            if had:
                module.z_shape = old
            else:
                del module.z_shape
