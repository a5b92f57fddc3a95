"""Reading checkpoints safely: `torch.load(weights_only=True)` unless trusted, finding the state dict inside
the dict people save (`--weights-key`, `--strip-prefix`, EMA copies preferred), strict loading."""
from __future__ import annotations

import zipfile
from pathlib import Path

import torch
from torch import nn

from ..errors import UsageError

EMA_KEYS = ("g_ema", "G_ema", "ema", "netG_ema", "generator_ema", "ema_state_dict", "model_ema")
GENERATOR_KEYS = ("state_dict", "generator", "G", "netG", "netG_state_dict", "gen", "model", "model_state_dict")


def one_line(exc: BaseException, limit: int = 600) -> str:
    """An exception's whole message on one line (torch puts the detail after the first line)."""
    text = "; ".join(part.strip() for part in str(exc).splitlines() if part.strip()).replace(":; ", ": ") or type(exc).__name__
    return text if len(text) <= limit else text[:limit] + "…"


def looks_like_torch_file(path: Path) -> bool:
    """A torch zip archive or a pickle (protocol ≥ 2 starts with 0x80); anything else is not a checkpoint."""
    try:
        with open(path, "rb") as fh:
            head = fh.read(2)
    except OSError:
        return False
    return zipfile.is_zipfile(path) or (len(head) == 2 and head[0] == 0x80 and 2 <= head[1] <= 5)


def read_state(path: Path, trust_pickle: bool = False) -> object:
    if not path.exists():
        raise UsageError(f"checkpoint not found: {path}")
    if not path.is_file():
        raise UsageError(f"checkpoint is not a file: {path}")
    if not looks_like_torch_file(path):
        raise UsageError(f"{path} is not a checkpoint (neither a torch zip archive nor a pickle); check the path")
    try:
        return torch.load(path, map_location="cpu", weights_only=not trust_pickle)
    except Exception as exc:  # torch raises many types for corrupt or foreign files
        reason = one_line(exc, 300)
        if not trust_pickle and ("weights_only" in str(exc) or "Unsupported global" in str(exc)):
            raise UsageError(f"{path} needs code to unpickle (it is not a plain state dict of tensors); "
                             "re-run with trust_pickle=True only if you trust this file") from None
        trusted = " even with trust_pickle=True" if trust_pickle else ""
        raise UsageError(f"could not read checkpoint {path}{trusted}: {reason} (a corrupt or foreign file?)") from None


def _is_tensor_dict(obj: object) -> bool:
    return isinstance(obj, dict) and bool(obj) and all(isinstance(v, torch.Tensor) for v in obj.values())


def _tensor_dicts(obj: object, prefix: str = "", depth: int = 3) -> dict[str, dict]:
    """Dotted key → every dict of tensors nested in `obj` (not descending into one)."""
    found: dict[str, dict] = {}
    if not isinstance(obj, dict) or depth == 0:
        return found
    for k, v in obj.items():
        key = f"{prefix}{k}"
        if _is_tensor_dict(v):
            found[key] = v
        elif isinstance(v, dict):
            found.update(_tensor_dicts(v, key + ".", depth - 1))
    return found


def _by_key(obj: object, key: str, path: Path) -> object:
    cur, walked = obj, []
    for part in key.split("."):
        if not isinstance(cur, dict) or part not in cur:
            keys = list(cur)[:10] if isinstance(cur, dict) else []
            where = ".".join(walked) or "the top level"
            raise UsageError(f"weights_key={key}: {path} has no key {part!r} at {where} "
                             f"(keys there: {', '.join(map(str, keys)) or type(cur).__name__})")
        cur = cur[part]
        walked.append(part)
    return cur


def unwrap_state_dict(obj: object, path: Path, key: str | None = None, strip_prefix: str | None = None,
                      notes: list[str] | None = None) -> dict:
    """The generator's state dict inside a checkpoint.

    `key` (dotted, e.g. netG_state_dict or state_dict) names it; otherwise a plain state dict is used as
    is, a dict whose only tensor-dict value is a state dict is unwrapped, and among several an EMA copy
    (g_ema, G_ema, ema, …) is preferred, then a generator key. `strip_prefix` keeps only the keys that
    start with it, without it (e.g. `generator.` in Lightning checkpoints). Choices go to `notes`."""
    notes = notes if notes is not None else []
    if key:
        state = _by_key(obj, key, path)
        if not _is_tensor_dict(state):
            inner = _tensor_dicts(state) if isinstance(state, dict) else {}
            hint = f"; tensor dicts inside: {', '.join(key + '.' + k for k in list(inner)[:6])}" if inner else ""
            raise UsageError(f"weights_key={key}: {path} holds {type(state).__name__} there, not a dict of tensors{hint}")
    elif _is_tensor_dict(obj):
        state = obj
    else:
        candidates = _tensor_dicts(obj)
        if not candidates:
            what = f"keys: {', '.join(map(str, list(obj)[:8]))}" if isinstance(obj, dict) else type(obj).__name__
            raise UsageError(f"{path} does not hold a state dict of tensors ({what})")
        if len(candidates) == 1:
            chosen = next(iter(candidates))
            if "." in chosen or chosen not in GENERATOR_KEYS:
                notes.append(f"using the state dict under {chosen!r} in {path.name} (the only one)")
        else:
            last = {k: k.rsplit(".", 1)[-1] for k in candidates}
            ema = [k for k in candidates if last[k] in EMA_KEYS]
            gen = [k for k in candidates if last[k] in GENERATOR_KEYS]
            if len(ema) == 1:
                chosen = ema[0]
                notes.append(f"using the EMA weights {chosen!r} of {path.name} (also there: "
                             f"{', '.join(k for k in candidates if k != chosen)}; weights_key= picks another)")
            elif len(gen) == 1:
                chosen = gen[0]
                notes.append(f"using the state dict {chosen!r} of {path.name} (also there: "
                             f"{', '.join(k for k in candidates if k != chosen)}; weights_key= picks another)")
            else:
                raise UsageError(f"{path} holds several state dicts ({', '.join(list(candidates)[:6])}); "
                                 "name the generator's with weights_key=KEY")
        state = candidates[chosen]
    if strip_prefix:
        kept = {k[len(strip_prefix):]: v for k, v in state.items() if k.startswith(strip_prefix)}
        if not kept:
            sample = ", ".join(list(state)[:4])
            raise UsageError(f"strip_prefix={strip_prefix!r}: no key of {path} starts with it (keys: {sample}, …)")
        state = kept
    return state


def load_strict(module: nn.Module, state: dict, path: Path) -> None:
    own = module.state_dict()
    missing = [k for k in own if k not in state]
    unexpected = [k for k in state if k not in own]
    shape_bad = [f"{k} {tuple(state[k].shape)}≠{tuple(own[k].shape)}" for k in own
                 if k in state and tuple(state[k].shape) != tuple(own[k].shape)]
    if missing or unexpected or shape_bad:
        def few(xs):
            return ", ".join(xs[:6]) + (f" (+{len(xs) - 6} more)" if len(xs) > 6 else "")
        parts = []
        if missing:
            parts.append(f"missing keys: {few(missing)}")
        if unexpected:
            parts.append(f"unexpected keys: {few(unexpected)}")
        if shape_bad:
            parts.append(f"shape mismatch: {few(shape_bad)}")
        hint = ""
        for prefix in sorted({k.split(".", 1)[0] + "." for k in unexpected if "." in k}):
            if all(prefix + k in state for k in own):  # e.g. Lightning's generator.* keys
                hint = f" (try strip_prefix={prefix})"
                break
        raise UsageError(f"state dict {path} does not fit the module; " + "; ".join(parts) + hint)
    module.load_state_dict(state, strict=True)
