"""Segmenter interface: images → per-pixel class map, plus class names.

Images are float tensors [N, 3, H, W] in [-1, 1] (ganfix converts any generator's output range to
this). `segment` returns a LongTensor [N, H, W] of class indices into `class_names`. Optional:
`scores(images)` → differentiable logits [N, C, H, W] (needed only to optimise soft unit masks).
"""
from __future__ import annotations

from typing import Protocol, runtime_checkable

import torch

from .errors import UsageError
from .user_code import call_factory, is_factory_spec


@runtime_checkable
class Segmenter(Protocol):
    class_names: list[str]

    def segment(self, images: torch.Tensor) -> torch.Tensor:  # [N,3,H,W] in [-1,1] → [N,H,W] long
        ...


# ---------------------------------------------------------------------------------------------
# Loading and validation (used by dissection and ACE)
# ---------------------------------------------------------------------------------------------

def _check_class_names(seg: object, origin: str) -> list[str]:
    names = getattr(seg, "class_names", None)
    if not isinstance(names, (list, tuple)) or not names or not all(isinstance(n, str) for n in names):
        raise UsageError(f"segmenter {origin} has no class_names (a non-empty list of strings)")
    if len(set(names)) != len(names):
        raise UsageError(f"segmenter {origin} has duplicate class names")
    if not callable(getattr(seg, "segment", None)):
        raise UsageError(f"segmenter {origin} has no segment(images) method")
    return list(names)


def load_segmenter(spec: str) -> Segmenter:
    """A built-in segmenter by name, or `path/to/file.py:factory` returning a Segmenter."""
    if is_factory_spec(spec):
        seg = call_factory(spec, "segmenter")
    else:
        from .registry import get_builtin_segmenter

        seg = get_builtin_segmenter(spec).build()
    _check_class_names(seg, repr(spec))
    if not hasattr(seg, "spec"):
        try:
            seg.spec = spec  # remembered for reports and cache keys
        except AttributeError:
            pass
    return seg


def class_index(seg: Segmenter, name: str) -> int:
    """Index of a class by name; UsageError listing the valid names."""
    names = list(seg.class_names)
    if name not in names:
        raise UsageError(f"unknown class {name!r}; segmenter classes: {', '.join(names)}")
    return names.index(name)


def checked_segment(seg: Segmenter, images: torch.Tensor) -> torch.Tensor:
    """seg.segment(images) validated: [N, H, W] integer labels within the class list."""
    n_cls = len(seg.class_names)
    with torch.no_grad():
        out = seg.segment(images)
    if not isinstance(out, torch.Tensor):
        raise UsageError(f"segmenter returned {type(out).__name__}, expected a tensor [N, H, W] of class indices")
    n, _, h, w = images.shape
    if out.dim() == 4 and out.is_floating_point():  # scores per class: accept only with the right class count
        if out.shape[1] != n_cls:
            raise UsageError(f"segmenter returned {out.shape[1]} class scores but names {n_cls} classes")
        out = out.argmax(1)
    if tuple(out.shape) != (n, h, w):  # one label per image pixel: fractions and masks are per pixel
        raise UsageError(f"segmenter output has shape {tuple(out.shape)}; expected [N, H, W] = {[n, h, w]} class indices")
    if out.is_floating_point():
        raise UsageError("segmenter output must hold integer class indices, got floats")
    out = out.long()
    if out.numel() and (int(out.min()) < 0 or int(out.max()) >= n_cls):
        raise UsageError(f"segmenter output has class index {int(out.max())} (or negative) but only {n_cls} classes "
                         f"({', '.join(seg.class_names)})")
    return out


def class_scores(seg: Segmenter, images: torch.Tensor) -> torch.Tensor:
    """Differentiable per-class scores [N, C, H, W] (softmax), for optimising unit masks."""
    fn = getattr(seg, "scores", None) or getattr(seg, "logits", None)
    if fn is None:
        raise UsageError("this segmenter exposes no differentiable scores(images) → [N, C, H, W]; "
                         "use select=iou or select=ace instead of optimize")
    with torch.enable_grad():
        out = fn(images)
        inner = getattr(fn, "__wrapped__", None)  # a method decorated with @torch.no_grad: call the undecorated one
        if images.requires_grad and not out.requires_grad and inner is not None:
            out = inner(getattr(fn, "__self__", None), images) if hasattr(fn, "__self__") else inner(images)
    if images.requires_grad and not out.requires_grad:
        raise UsageError("the segmenter's scores are not differentiable (computed without gradients); "
                         "use select=iou or select=ace instead of optimize")
    if out.dim() != 4 or out.shape[1] != len(seg.class_names):
        raise UsageError(f"segmenter scores have shape {tuple(out.shape)}; expected [N, {len(seg.class_names)}, H, W]")
    return out.softmax(1)


def segmenter_identity(seg: Segmenter) -> str | None:
    """A string that changes whenever the segmenter's behaviour might (None: not cacheable)."""
    from torch import nn

    from .fingerprint import fingerprint_module

    fp = getattr(seg, "fingerprint", None)
    if isinstance(fp, str):
        return fp
    for obj in (seg, getattr(seg, "module", None), getattr(seg, "net", None), getattr(seg, "model", None)):
        if isinstance(obj, nn.Module):
            return fingerprint_module(obj) + ":" + ",".join(seg.class_names)
    return None


def require_segmenter(gen, segmenter=None):
    """The segmenter to use (a name, path/to/file.py:factory or a Segmenter): the one given, else the built-in
    generator's own (registry `default_segmenter`), else a one-line error. The toy world's segmenter is never a
    silent default for another generator: its classes (sky, building, tree, …) say nothing about other images."""
    if segmenter is not None:
        return segmenter
    from .defaults import segmenter_for

    own = segmenter_for(gen)
    if own:
        return own
    raise UsageError(f"{getattr(gen, 'name', gen)} is not a built-in generator, so ganfix cannot guess its segmentation "
                     "classes: pass segmenter='path/to/seg.py:factory' (your own: an object with class_names and "
                     "segment(images)), or segmenter='toyscenes' for a model of toy-world-like scenes on purpose")
