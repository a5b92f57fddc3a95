"""Model fingerprint: sha256 over the code identity and every tensor (names, dtypes, shapes, bytes).

Two generators share a fingerprint only if they compute the same function with the same weights;
annotation sets, patches and every cache carry it so they are never applied to another model by accident.
The code identity is what decides the function besides the weights:

- the ordered (name, class) of every submodule;
- the source of every module class that is not torch's own (normalised: comments, docstrings and
  blank lines dropped, so editing those keeps the fingerprint; any code change moves it);
- the TorchScript code of every scripted submodule;
- for `file.py:factory` specs, a hash of that file's bytes and the factory's name (the loader passes it in).
"""
from __future__ import annotations

import hashlib
import inspect
import io
import textwrap
import tokenize

import torch
from torch import nn


def architecture_identity(module: nn.Module) -> str:
    """Ordered (name, type) of every submodule; TorchScript modules report their original names."""
    parts = []
    for name, sub in module.named_modules():
        kind = getattr(sub, "original_name", None) or type(sub).__name__
        parts.append(f"{name}:{kind}")
    return "|".join(parts)


def normalised_source(source: str) -> str:
    """Source without comments, docstrings (statements that are only a string) and blank lines; lines
    right-stripped. Cut by token positions, so the result does not depend on the Python version's tokenizer."""
    source = textwrap.dedent(source)
    lines = source.splitlines(keepends=True)
    cuts: list[tuple[tuple[int, int], tuple[int, int]]] = []
    try:
        tokens = list(tokenize.generate_tokens(io.StringIO(source).readline))
    except (tokenize.TokenError, IndentationError, SyntaxError):
        return "\n".join(l.rstrip() for l in source.splitlines() if l.strip())
    skip = {tokenize.INDENT, tokenize.DEDENT, tokenize.NL, tokenize.COMMENT}
    statement: list[tokenize.TokenInfo] = []
    for tok in tokens:
        if tok.type == tokenize.COMMENT:
            cuts.append((tok.start, tok.end))
        if tok.type in (tokenize.NEWLINE, tokenize.ENDMARKER):
            if statement and all(t.type == tokenize.STRING for t in statement):
                cuts.append((statement[0].start, statement[-1].end))  # a docstring or a bare string: no effect
            statement = []
        elif tok.type not in skip:
            statement.append(tok)
    # Blank out the cut spans (line/column positions), last first.
    buf = [list(l) for l in lines]
    for (r0, c0), (r1, c1) in sorted(cuts, reverse=True):
        if r0 == r1:
            buf[r0 - 1][c0:c1] = []
        else:
            buf[r1 - 1][:c1] = []
            for r in range(r1 - 2, r0 - 1, -1):
                buf[r] = ["\n"]
            buf[r0 - 1][c0:] = ["\n"]
    return "\n".join(l.rstrip() for l in ("".join(b) for b in buf) if l.strip())


def _class_identity(cls: type) -> str:
    name = cls.__qualname__  # not the module path: moving a class (or a factory file) keeps the fingerprint
    try:
        return f"{name}\n{normalised_source(inspect.getsource(cls))}"
    except (OSError, TypeError):  # defined in a notebook, an unpickled module without files, …
        return f"{name}\n<source unavailable>"


def code_identity(module: nn.Module) -> str:
    """Classes (with their source) of every submodule that is not torch's own, and TorchScript code."""
    parts: list[str] = []
    seen: set[type] = set()
    for name, sub in module.named_modules():
        if isinstance(sub, torch.jit.ScriptModule):
            try:
                code = sub.code
            except (RuntimeError, AttributeError):
                code = "<no code>"
            parts.append(f"script {name}:\n{code}")
            continue
        for cls in type(sub).__mro__:
            if cls in seen or cls is object or cls.__module__.split(".")[0] == "torch":
                continue
            seen.add(cls)
            parts.append(f"class {_class_identity(cls)}")
    return "\n".join(parts)


def fingerprint_module(module: nn.Module, length: int = 16, extra_code: str | None = None) -> str:
    """sha256[:length] of the architecture and code identity (plus `extra_code`, e.g. a factory file's
    hash) and all tensors of the state dict."""
    h = hashlib.sha256()
    h.update(architecture_identity(module).encode())
    h.update(b"\0code\0" + code_identity(module).encode())
    if extra_code:
        h.update(b"\0extra\0" + extra_code.encode())
    state = module.state_dict()
    for name in sorted(state):
        t = state[name].detach().cpu().contiguous()
        h.update(f"{name}|{t.dtype}|{tuple(t.shape)}".encode())
        if t.dtype == torch.bfloat16:
            t = t.view(torch.int16)
        h.update(t.numpy().tobytes())
    return h.hexdigest()[:length]
