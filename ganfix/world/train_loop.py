"""What the toy world's segmenter and SSL-encoder training loops share: the run's start, the optimiser and
schedule, one optimisation step, and the occasional 3×3 blur augmentation. Random draws happen in the
same order as before they were shared, so a run with the same arguments gives the same weights."""
from __future__ import annotations

import argparse
import time
from pathlib import Path

import torch
import torch.nn.functional as F


def start_run(args: argparse.Namespace) -> tuple[Path, tuple[int, ...], float]:
    """Threads and global seed set, the run folder made: (out, widths from --widths, start time)."""
    torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    widths = tuple(int(v) for v in args.widths.split(","))
    return out, widths, time.time()


def one_cycle(net: torch.nn.Module, args: argparse.Namespace):
    """AdamW (weight decay 1e-4) with a one-cycle schedule peaking at --lr over --steps, and the loop's own
    random generator (seed + 1): (opt, sched, gen)."""
    opt = torch.optim.AdamW(net.parameters(), lr=args.lr, weight_decay=1e-4)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=args.lr, total_steps=max(args.steps, 1), pct_start=0.1)
    return opt, sched, torch.Generator().manual_seed(args.seed + 1)


def optimiser_step(loss: torch.Tensor, opt, sched) -> float:
    """One optimisation step on `loss`; its value."""
    opt.zero_grad(set_to_none=True)
    loss.backward()
    opt.step()
    sched.step()
    return loss.item()


def random_blur(x: torch.Tensor, gen: torch.Generator, p: float) -> torch.Tensor:
    """x ([N,3,H,W]) with a share `p` of its images (drawn from `gen`) blurred by a 3×3 binomial kernel, in place."""
    blur = torch.rand(x.shape[0], generator=gen) < p
    if blur.any():
        k = torch.tensor([1.0, 2.0, 1.0]) / 4
        k2 = (k[:, None] * k[None, :]).expand(3, 1, 3, 3)
        x[blur] = F.conv2d(F.pad(x[blur], (1, 1, 1, 1), mode="replicate"), k2, groups=3)
    return x
