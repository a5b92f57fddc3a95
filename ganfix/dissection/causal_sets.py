"""Choosing causal unit sets for a class: by IoU rank, by single-unit ACE, or by an optimised soft mask."""
from __future__ import annotations

from typing import Callable, Optional, Sequence

import torch

from ..generator import Generator
from ..hooks import Intervention, Trace
from ..segmenters import Segmenter, checked_segment, class_scores
from .ace import average_causal_effect, present_mask
from .result import LayerDissection


def select_by_iou(dissection: LayerDissection, cls: int, n: int) -> tuple[list[int], list[float]]:
    order = dissection.class_ranking(cls)[:n]
    iou = torch.nan_to_num(dissection.iou_uc[:, cls], nan=0.0)
    return order, [float(iou[u]) for u in order]


def single_unit_ace(gen: Generator, segmenter: Segmenter, layer: str, cls: int, value: torch.Tensor,
                    candidates: Sequence[int], samples: int, seed: int = 0, batch_size: int = 32,
                    on_unit: Optional[Callable[[int], None]] = None) -> dict[int, float]:
    """ACE of each candidate unit on its own (two interventions per unit and sample)."""
    out = {}
    for u in candidates:
        out[int(u)] = average_causal_effect(gen, segmenter, layer, [int(u)], cls, samples, seed, batch_size,
                                            value=value).ace
        if on_unit:
            on_unit(1)
    return out


def select_by_ace(scores: dict[int, float], n: int) -> tuple[list[int], list[float]]:
    ranked = sorted(scores.items(), key=lambda kv: (-kv[1], kv[0]))[:n]
    return [u for u, _ in ranked], [s for _, s in ranked]


def optimize_unit_mask(gen: Generator, segmenter: Segmenter, layer: str, cls: int, value: torch.Tensor,
                       samples: int, seed: int = 0, batch_size: int = 16, steps: int = 60, lr: float = 0.05,
                       l2: float = 1e-3, on_step: Optional[Callable[[int], None]] = None) -> torch.Tensor:
    """Soft mask α ∈ [0,1]^d maximising E[p_c(insert α)] − E[p_c(ablate α)] − l2·‖α‖² (projected Adam).

    Uses the segmenter's differentiable class probabilities; deterministic for a seed (batches cycle
    through sample ids 0…samples−1)."""
    d = gen.layer(layer).units
    alpha = torch.zeros(d, device=gen.device, requires_grad=True)
    opt = torch.optim.Adam([alpha], lr=lr)
    k = torch.as_tensor(value, dtype=torch.float32, device=gen.device)
    n_batches = max(1, (samples + batch_size - 1) // batch_size)
    for step in range(steps):
        lo = (step % n_batches) * batch_size
        ids = list(range(lo, min(lo + batch_size, samples)))
        z = gen.latents(ids, seed)
        with torch.no_grad(), Trace(gen.module, [layer], stop=False) as tr:
            acts = tr.run(z)[layer]
            labels = checked_segment(segmenter, gen.to_signed(tr.output))
        pres = present_mask(labels, cls, acts.shape[-2:])
        with torch.enable_grad():
            with Intervention(gen.module, layer, alpha, 0.0, spatial=pres):
                p_abl = class_scores(segmenter, gen.to_signed(gen.module(z)))[:, cls].mean()
            with Intervention(gen.module, layer, alpha, k, spatial=1 - pres):
                p_ins = class_scores(segmenter, gen.to_signed(gen.module(z)))[:, cls].mean()
            loss = -(p_ins - p_abl) + l2 * alpha.pow(2).sum()
            opt.zero_grad()
            loss.backward()
        opt.step()
        with torch.no_grad():
            alpha.clamp_(0, 1)
        if on_step:
            on_step(1)
    return alpha.detach().cpu()


def select_by_mask(alpha: torch.Tensor, n: int) -> tuple[list[int], list[float]]:
    order = torch.argsort(-alpha, stable=True)[:n]
    return [int(u) for u in order], [float(alpha[u]) for u in order]
