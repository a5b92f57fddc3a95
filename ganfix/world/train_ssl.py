"""Train the `toyscenes-ssl` encoder: contrastive self-supervision on rendered scenes, one CPU thread.

    python -m ganfix.world.train_ssl --out runs/toyssl --steps 1500 --ship

Recipe (independent of the segmenter whose encoder gives the `toyscenes` features):
- data: `--n-scenes` scenes of stream `--scene-seed` (default 500; the GAN used 0, the segmenter
  100/200, the world report 1000–3000, scoring's real sets small seeds);
- objective: SimCLR's NT-Xent (temperature `--tau`) between two augmented views of each scene, no
  labels; the loss is on a 2-layer projection head that is not shipped;
- augmentations: random resized crop (area 45–100 %, aspect 3/4–4/3), horizontal flip, brightness
  gain ±10 %, Gaussian pixel noise, occasional 3×3 blur. No hue/saturation jitter: colour stays
  informative, so colour blotches move the features;
- model: ganfix.world.toy_ssl.SceneEncoder (eight 3×3 convs, four of stride 2, BatchNorm, ReLU;
  128-d global-average-pooled feature).

Writes OUT/encoder.pt (weights_only-loadable, without the projection head) and OUT/recipe.json
(arguments, steps, minutes, loss history, and the held-out top-1 view-matching accuracy on
`--eval-seed` scenes). `--ship` copies both into ganfix/world/assets as toyscenes_ssl.{pt,json}.
"""
from __future__ import annotations

import argparse
import math
import time

import torch
import torch.nn.functional as F

from ..atomic import atomic_torch_save, atomic_write_bytes, atomic_write_json
from .scenes import render_batch
from .train_args import add_loop_args, training_parser
from .train_loop import one_cycle, optimiser_step, random_blur, start_run
from .toy_ssl import ASSETS, SceneEncoder, encoder_state_dict


def parse_args(argv=None) -> argparse.Namespace:
    p = training_parser(__doc__, scene_seed=500, n_scenes=6000, scene_seed_help="stream of the training scenes")
    add_loop_args(p, batch=64, lr=2e-3, batch_help="scenes per step (two views each)")
    p.add_argument("--eval-seed", type=int, default=600, help="stream of the held-out scenes")
    p.add_argument("--n-eval", type=int, default=512)
    p.add_argument("--steps", type=int, default=1500)
    p.add_argument("--tau", type=float, default=0.2)
    p.add_argument("--widths", default="16,32,64,128")
    p.add_argument("--ship", action="store_true", help="copy the result into ganfix/world/assets")
    return p.parse_args(argv)


def augment(x: torch.Tensor, gen: torch.Generator) -> torch.Tensor:
    """One random view of each image in x ([N,3,H,W] in [-1,1]); geometry and light, never hue."""
    n = x.shape[0]
    area = 0.45 + 0.55 * torch.rand(n, generator=gen)
    logr = (torch.rand(n, generator=gen) - 0.5) * 2 * math.log(4 / 3)
    sx = (area * logr.exp()).sqrt().clamp(max=1.0)
    sy = (area / logr.exp()).sqrt().clamp(max=1.0)
    tx = (1 - sx) * (2 * torch.rand(n, generator=gen) - 1)
    ty = (1 - sy) * (2 * torch.rand(n, generator=gen) - 1)
    flip = torch.where(torch.rand(n, generator=gen) < 0.5, -1.0, 1.0)
    theta = torch.zeros(n, 2, 3)
    theta[:, 0, 0], theta[:, 0, 2] = sx * flip, tx
    theta[:, 1, 1], theta[:, 1, 2] = sy, ty
    grid = F.affine_grid(theta, list(x.shape), align_corners=False)
    v = F.grid_sample(x, grid, mode="bilinear", padding_mode="border", align_corners=False)
    v = v * (1 + 0.2 * (torch.rand(n, 1, 1, 1, generator=gen) - 0.5))
    v = v + torch.randn(v.shape, generator=gen) * 0.05 * torch.rand(n, 1, 1, 1, generator=gen)
    return random_blur(v, gen, 0.2).clamp(-1, 1)


def nt_xent(z1: torch.Tensor, z2: torch.Tensor, tau: float) -> tuple[torch.Tensor, float]:
    """SimCLR loss over 2N views; also the fraction of views whose nearest other view is its pair."""
    z = F.normalize(torch.cat([z1, z2]), dim=1)
    n = z1.shape[0]
    sim = z @ z.t() / tau
    sim.fill_diagonal_(float("-inf"))
    target = torch.cat([torch.arange(n, 2 * n), torch.arange(0, n)])
    acc = float((sim.argmax(1) == target).float().mean())
    return F.cross_entropy(sim, target), acc


def _tensors(seed: int, n: int) -> torch.Tensor:
    rgb, _ = render_batch(seed, 0, n)  # the class maps are not used: no labels
    return torch.from_numpy(rgb).permute(0, 3, 1, 2).contiguous()


@torch.no_grad()
def evaluate(net: SceneEncoder, images_u8: torch.Tensor, tau: float, seed: int = 1) -> dict:
    net.eval()
    gen = torch.Generator().manual_seed(seed)
    x = images_u8.float().div(127.5).sub(1)
    loss, acc = nt_xent(net(augment(x, gen)), net(augment(x, gen)), tau)
    return {"loss": round(float(loss), 4), "view_match_top1": round(acc, 4), "n_scenes": int(x.shape[0])}


def train(args: argparse.Namespace) -> dict:
    out, widths, t0 = start_run(args)
    images = _tensors(args.scene_seed, args.n_scenes)
    eval_images = _tensors(args.eval_seed, args.n_eval)
    net = SceneEncoder(widths)
    opt, sched, gen = one_cycle(net, args)
    history, run_loss, run_acc = [], 0.0, 0.0
    for step in range(1, args.steps + 1):
        net.train()
        idx = torch.randint(0, images.shape[0], (args.batch,), generator=gen)
        x = images[idx].float().div(127.5).sub(1)
        loss, acc = nt_xent(net(augment(x, gen)), net(augment(x, gen)), args.tau)
        run_loss += optimiser_step(loss, opt, sched)
        run_acc += acc
        if step % args.log_every == 0:
            history.append({"step": step, "loss": round(run_loss / args.log_every, 4),
                            "view_match_top1": round(run_acc / args.log_every, 4),
                            "minutes": round((time.time() - t0) / 60, 2)})
            run_loss = run_acc = 0.0
            print(history[-1], flush=True)
    recipe = {
        "kind": "ganfix toy-world self-supervised encoder (toyscenes-ssl)",
        "command": "python -m ganfix.world.train_ssl",
        "args": vars(args),
        "objective": "NT-Xent (SimCLR) between two augmented views; projection head not shipped",
        "augmentations": "random resized crop (area 0.45-1, aspect 3/4-4/3), h-flip, brightness ±10 %, "
                         "pixel noise, 20 % 3x3 blur; no hue/saturation jitter",
        "steps": args.steps,
        "minutes": round((time.time() - t0) / 60, 2),
        "held_out": {"scene_seed": args.eval_seed, **evaluate(net, eval_images, args.tau)},
        "history": history,
        "torch": torch.__version__,
    }
    atomic_torch_save(out / "encoder.pt", encoder_state_dict(net))
    atomic_write_json(out / "recipe.json", recipe)
    if args.ship:
        atomic_write_bytes(ASSETS / "toyscenes_ssl.pt", (out / "encoder.pt").read_bytes())
        atomic_write_json(ASSETS / "toyscenes_ssl.json", recipe)
    return recipe


def main(argv=None) -> None:
    r = train(parse_args(argv))
    print(f"done: {r['steps']} steps in {r['minutes']} min; held-out view matching {r['held_out']}", flush=True)


if __name__ == "__main__":
    main()
