"""Train the toy ProGAN (GAN Dissection layout) on rendered scenes, non-progressively, on CPU.

    python -m ganfix.world.train_generator --out runs/toygan --seed 0 --minutes 80

Recipe: non-saturating logistic loss, lazy R1 penalty on reals, Adam(β=(0, 0.99)), an EMA of the
generator weights (the EMA is what ships), horizontal-flip augmentation of a pre-rendered scene set.
The run checkpoints atomically every `--ckpt-minutes` and resumes from `OUT/checkpoint.pt` (the
wall-clock budget `--minutes` counts time across resumes).  `OUT/recipe.json` records the arguments,
steps, time and a loss history; `OUT/generator_ema.pt` is a plain state dict loadable with
`torch.load(weights_only=True)` and `progan_from_state_dict`.
"""
from __future__ import annotations

import argparse
import copy
import math
import time
from pathlib import Path

import numpy as np
import torch
from torch import nn
import torch.nn.functional as F

from .train_args import add_loop_args, training_parser
from ..atomic import atomic_torch_save, atomic_write_json
from ..models.progan import ProGAN
from .scenes import render_batch


class EqConv(nn.Module):
    """Conv with equalised learning rate, matching the generator's parameterisation (same Adam lr)."""

    def __init__(self, c_in: int, c_out: int, k: int, padding: int = 0):
        super().__init__()
        self.weight = nn.Parameter(torch.randn(c_out, c_in, k, k))
        self.bias = nn.Parameter(torch.zeros(c_out))
        self.scale = math.sqrt(2.0) / math.sqrt(c_in * k * k)
        self.padding = padding

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.conv2d(x, self.weight * self.scale, self.bias, padding=self.padding)


class Discriminator(nn.Module):
    """Small ProGAN-style D: fromRGB, conv + avgpool per resolution, minibatch-stddev, 4×4 head."""

    def __init__(self, resolution: int = 64, widths: list[int] | None = None):
        super().__init__()
        n_down = int(math.log2(resolution)) - 2  # down to 4×4
        widths = list(widths) if widths is not None else [min(8 * 2 ** i, 128) for i in range(n_down + 1)]
        if len(widths) != n_down + 1:
            raise ValueError(f"discriminator for {resolution}px needs {n_down + 1} widths")
        self.from_rgb = EqConv(3, widths[0], 1)
        self.blocks = nn.ModuleList(EqConv(widths[i], widths[i + 1], 3, 1) for i in range(n_down))
        self.final_conv = EqConv(widths[-1] + 1, widths[-1], 3, 1)
        self.final_fc = EqConv(widths[-1], widths[-1], 4)  # 4×4 → 1×1
        self.out = EqConv(widths[-1], 1, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = F.leaky_relu(self.from_rgb(x), 0.2)
        for block in self.blocks:
            x = F.avg_pool2d(F.leaky_relu(block(x), 0.2), 2)
        # Minibatch stddev (groups of up to 4) helps D see mode collapse.
        n, c, h, w = x.shape
        g = min(4, n)
        while n % g:
            g -= 1
        std = x.reshape(g, -1, c, h, w).std(dim=0, unbiased=False).mean(dim=(1, 2, 3))
        std = std.reshape(-1, 1, 1, 1).repeat(g, 1, h, w)
        x = torch.cat([x, std], dim=1)
        x = F.leaky_relu(self.final_conv(x), 0.2)
        x = F.leaky_relu(self.final_fc(x), 0.2)
        return self.out(x).flatten()


def parse_args(argv=None) -> argparse.Namespace:
    p = training_parser(__doc__, scene_seed=0, n_scenes=20000, out_help="run folder (checkpoint, recipe, samples)",
                        seed_help="training seed (weights init, batches, latents)")
    add_loop_args(p, batch=32, lr=0.002)
    p.add_argument("--resolution", type=int, default=64)
    p.add_argument("--z-dim", type=int, default=128)
    p.add_argument("--widths", default="128,64,32,16,8", help="G widths at 4,8,16,32,64 px")
    p.add_argument("--d-widths", default="8,16,32,64,128", help="D widths at 64,32,16,8,4 px")
    p.add_argument("--r1-gamma", type=float, default=1.0)
    p.add_argument("--r1-every", type=int, default=4, help="lazy R1: penalty every k D steps (scaled by k)")
    p.add_argument("--ema-beta", type=float, default=0.998)
    p.add_argument("--minutes", type=float, default=80.0, help="wall-clock budget, counted across resumes")
    p.add_argument("--max-steps", type=int, default=0, help="stop after this many steps (0: no limit)")
    p.add_argument("--ckpt-minutes", type=float, default=3.0)
    return p.parse_args(argv)


def _ints(text: str) -> list[int]:
    return [int(v) for v in text.split(",") if v.strip()]


def save_grid(images: torch.Tensor, path: Path, nrow: int = 8) -> None:
    from io import BytesIO

    from PIL import Image

    from ..atomic import atomic_write_bytes

    x = ((images.clamp(-1, 1) + 1) * 127.5).round().byte().permute(0, 2, 3, 1).numpy()
    n, h, w, _ = x.shape
    rows = math.ceil(n / nrow)
    grid = np.zeros((rows * h, nrow * w, 3), dtype=np.uint8)
    for i in range(n):
        r, c = divmod(i, nrow)
        grid[r * h:(r + 1) * h, c * w:(c + 1) * w] = x[i]
    buf = BytesIO()
    Image.fromarray(grid).save(buf, format="PNG")
    atomic_write_bytes(path, buf.getvalue())


def train(args: argparse.Namespace) -> dict:
    torch.set_num_threads(args.threads)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    ckpt_path = out / "checkpoint.pt"
    torch.manual_seed(args.seed)

    G = ProGAN(args.resolution, z_dim=args.z_dim, widths=_ints(args.widths))
    D = Discriminator(args.resolution, _ints(args.d_widths))
    G_ema = copy.deepcopy(G).eval().requires_grad_(False)
    opt_g = torch.optim.Adam(G.parameters(), lr=args.lr, betas=(0.0, 0.99), eps=1e-8)
    # Lazy R1: adjust D's lr/betas as in StyleGAN2 so the penalty's cadence doesn't change dynamics.
    c = args.r1_every / (args.r1_every + 1)
    opt_d = torch.optim.Adam(D.parameters(), lr=args.lr * c, betas=(0.0, 0.99 ** c), eps=1e-8)
    batch_gen = torch.Generator().manual_seed(args.seed + 1)
    step, elapsed, history = 0, 0.0, []

    if ckpt_path.exists():  # resume
        state = torch.load(ckpt_path, weights_only=True)
        G.load_state_dict(state["G"]); D.load_state_dict(state["D"]); G_ema.load_state_dict(state["G_ema"])
        opt_g.load_state_dict(state["opt_g"]); opt_d.load_state_dict(state["opt_d"])
        batch_gen.set_state(state["batch_rng"]); torch.set_rng_state(state["torch_rng"])
        step, elapsed, history = state["step"], state["elapsed"], state["history"]
        print(f"resumed at step {step}, {elapsed / 60:.1f} min done", flush=True)

    t0 = time.time()
    rgb, _ = render_batch(args.scene_seed, 0, args.n_scenes, args.resolution)
    reals_u8 = torch.from_numpy(rgb).permute(0, 3, 1, 2).contiguous()  # uint8, converted per batch
    del rgb
    print(f"rendered {args.n_scenes} scenes in {time.time() - t0:.1f}s", flush=True)

    fixed_z = torch.randn(64, args.z_dim, generator=torch.Generator().manual_seed(12345))
    session_start = time.time()
    last_ckpt = time.time()
    run_meter = {"d": 0.0, "g": 0.0, "r1": 0.0, "n": 0}

    def recipe(done: bool) -> dict:
        return {
            "kind": "ganfix toy ProGAN",
            "command": "python -m ganfix.world.train_generator",
            "args": vars(args),
            "architecture": {"class": "ganfix.models.progan.ProGAN", "resolution": args.resolution,
                             "z_dim": args.z_dim, "widths": _ints(args.widths)},
            "discriminator_widths": _ints(args.d_widths),
            "loss": "non-saturating logistic + lazy R1 on reals",
            "optimizer": "Adam(lr, betas=(0, 0.99))",
            "augmentation": "horizontal flip",
            "shipped_weights": "EMA of G",
            "steps": step,
            "images_seen": step * args.batch,
            "elapsed_minutes": round(elapsed / 60, 2),
            "finished": done,
            "history": history,
            "torch": torch.__version__,
        }

    def checkpoint(done: bool = False) -> None:
        atomic_torch_save(ckpt_path, {
            "G": G.state_dict(), "D": D.state_dict(), "G_ema": G_ema.state_dict(),
            "opt_g": opt_g.state_dict(), "opt_d": opt_d.state_dict(),
            "batch_rng": batch_gen.get_state(), "torch_rng": torch.get_rng_state(),
            "step": step, "elapsed": elapsed, "history": history,
        })
        atomic_torch_save(out / "generator_ema.pt", {k: v.clone() for k, v in G_ema.state_dict().items()})
        atomic_write_json(out / "recipe.json", recipe(done))
        with torch.no_grad():
            save_grid(G_ema(fixed_z), out / "samples_latest.png")
            if step % 2000 < args.batch or done:
                save_grid(G_ema(fixed_z), out / f"samples_{step:07d}.png")

    budget = args.minutes * 60
    base_elapsed = elapsed
    while True:
        elapsed = base_elapsed + (time.time() - session_start)
        if elapsed >= budget or (args.max_steps and step >= args.max_steps):
            break
        idx = torch.randint(0, reals_u8.shape[0], (args.batch,), generator=batch_gen)
        real = reals_u8[idx].float().div_(127.5).sub_(1.0)
        flip = torch.rand(args.batch, generator=batch_gen) < 0.5
        real[flip] = real[flip].flip(-1)

        # --- D step ---
        z = torch.randn(args.batch, args.z_dim)
        with torch.no_grad():
            fake = G(z)
        do_r1 = args.r1_gamma > 0 and step % args.r1_every == 0
        real.requires_grad_(do_r1)
        d_real, d_fake = D(real), D(fake)
        loss_d = F.softplus(d_fake).mean() + F.softplus(-d_real).mean()
        r1 = torch.zeros(())
        if do_r1:
            (grad,) = torch.autograd.grad(d_real.sum(), real, create_graph=True)
            r1 = grad.pow(2).sum(dim=(1, 2, 3)).mean()
            loss_d = loss_d + 0.5 * args.r1_gamma * args.r1_every * r1
        opt_d.zero_grad(set_to_none=True)
        loss_d.backward()
        opt_d.step()

        # --- G step ---
        z = torch.randn(args.batch, args.z_dim)
        D.requires_grad_(False)
        loss_g = F.softplus(-D(G(z))).mean()
        D.requires_grad_(True)
        opt_g.zero_grad(set_to_none=True)
        loss_g.backward()
        opt_g.step()

        # EMA with warm-up so early samples are not dominated by the random init.
        beta = min(args.ema_beta, (1 + step) / (10 + step))
        with torch.no_grad():
            for pe, p in zip(G_ema.parameters(), G.parameters()):
                pe.lerp_(p, 1 - beta)
        step += 1
        run_meter["d"] += loss_d.item(); run_meter["g"] += loss_g.item(); run_meter["r1"] += r1.item(); run_meter["n"] += 1
        if step % args.log_every == 0:
            n = run_meter["n"]
            entry = {"step": step, "minutes": round((base_elapsed + time.time() - session_start) / 60, 2),
                     "loss_d": round(run_meter["d"] / n, 4), "loss_g": round(run_meter["g"] / n, 4),
                     "r1": round(run_meter["r1"] / n * args.r1_every, 4)}
            history.append(entry)
            run_meter = {"d": 0.0, "g": 0.0, "r1": 0.0, "n": 0}
            print(entry, flush=True)
        if time.time() - last_ckpt > args.ckpt_minutes * 60:
            elapsed = base_elapsed + (time.time() - session_start)
            checkpoint()
            last_ckpt = time.time()
    checkpoint(done=True)
    return recipe(True)


def main(argv=None) -> None:
    args = parse_args(argv)
    r = train(args)
    print(f"done: {r['steps']} steps, {r['elapsed_minutes']} min → {Path(args.out) / 'generator_ema.pt'}", flush=True)


if __name__ == "__main__":
    main()
