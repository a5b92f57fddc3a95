"""Train the toy-world segmenter on rendered scenes and measure it on held-out scenes.

    python -m ganfix.world.train_segmenter --out runs/toyseg --seed 0 --steps 1500

Training scenes come from `--scene-seed`, evaluation scenes from `--eval-seed` (a different
stream, so evaluation scenes are never seen).  Augmentation: horizontal flips, brightness/contrast
jitter, pixel noise and occasional blur, so the net also reads the imperfect images an undertrained
GAN makes.  Writes `OUT/segmenter.pt` (state dict, weights_only-loadable) and `OUT/recipe.json`
with the arguments, steps, time and per-class IoU on the held-out scenes.
"""
from __future__ import annotations

import argparse
import time

import torch
import torch.nn.functional as F

from .train_args import add_loop_args, training_parser
from .train_loop import one_cycle, optimiser_step, random_blur, start_run
from ..atomic import atomic_torch_save, atomic_write_json
from .scenes import CLASS_NAMES, render_batch
from .toy_segmenter import SceneSegNet, confusion, iou_from_confusion, segnet_state_dict


def parse_args(argv=None) -> argparse.Namespace:
    p = training_parser(__doc__, scene_seed=100, n_scenes=8000, scene_seed_help="stream of the training scenes")
    add_loop_args(p, batch=32, lr=3e-3)
    p.add_argument("--eval-seed", type=int, default=200, help="stream of the held-out scenes")
    p.add_argument("--n-eval", type=int, default=500)
    p.add_argument("--steps", type=int, default=1500)
    p.add_argument("--widths", default="16,32,64,128")
    return p.parse_args(argv)


def augment(x: torch.Tensor, gen: torch.Generator) -> torch.Tensor:
    """Photometric jitter in [-1,1] space; geometry is untouched so the labels stay exact."""
    n = x.shape[0]
    gain = 1 + 0.2 * (torch.rand(n, 1, 1, 1, generator=gen) - 0.5)
    bias = 0.2 * (torch.rand(n, 3, 1, 1, generator=gen) - 0.5)
    x = x * gain + bias
    x = x + torch.randn(x.shape, generator=gen) * 0.06 * torch.rand(n, 1, 1, 1, generator=gen)
    return random_blur(x, gen, 0.25).clamp(-1, 1)


@torch.no_grad()
def evaluate(net: SceneSegNet, images: torch.Tensor, labels: torch.Tensor, batch: int = 100) -> dict:
    net.eval()
    conf = torch.zeros(len(CLASS_NAMES), len(CLASS_NAMES), dtype=torch.long)
    for i in range(0, images.shape[0], batch):
        pred = net(images[i:i + batch]).argmax(1)
        conf += confusion(pred, labels[i:i + batch])
    ious = iou_from_confusion(conf)
    return {"miou": sum(ious.values()) / len(ious), "per_class_iou": ious,
            "pixel_accuracy": float(conf.diag().sum()) / float(conf.sum())}


def _tensors(seed: int, n: int) -> tuple[torch.Tensor, torch.Tensor]:
    rgb, cls = render_batch(seed, 0, n)
    return torch.from_numpy(rgb).permute(0, 3, 1, 2).float().div(127.5).sub(1), torch.from_numpy(cls).long()


def train(args: argparse.Namespace) -> dict:
    out, widths, t0 = start_run(args)
    images, labels = _tensors(args.scene_seed, args.n_scenes)
    eval_images, eval_labels = _tensors(args.eval_seed, args.n_eval)
    # Rare classes (door, window) get more weight so they are not drowned by sky (√ inverse frequency).
    freq = torch.bincount(labels.reshape(-1), minlength=len(CLASS_NAMES)).double() / labels.numel()
    weight = (freq.clamp(min=1e-4) ** -0.5).float()
    weight = weight / weight.mean()

    net = SceneSegNet(widths=widths)
    opt, sched, gen = one_cycle(net, args)
    history = []
    running = 0.0
    for step in range(1, args.steps + 1):
        net.train()
        idx = torch.randint(0, images.shape[0], (args.batch,), generator=gen)
        x, y = images[idx].clone(), labels[idx].clone()
        flip = torch.rand(args.batch, generator=gen) < 0.5
        x[flip], y[flip] = x[flip].flip(-1), y[flip].flip(-1)
        x = augment(x, gen)
        running += optimiser_step(F.cross_entropy(net(x), y, weight=weight), opt, sched)
        if step % args.log_every == 0:
            history.append({"step": step, "loss": round(running / args.log_every, 4),
                            "minutes": round((time.time() - t0) / 60, 2)})
            running = 0.0
            print(history[-1], flush=True)
    metrics = evaluate(net, eval_images, eval_labels)
    recipe = {
        "kind": "ganfix toy-world segmenter",
        "command": "python -m ganfix.world.train_segmenter",
        "args": vars(args),
        "class_names": CLASS_NAMES,
        "steps": args.steps,
        "minutes": round((time.time() - t0) / 60, 2),
        "held_out": {"scene_seed": args.eval_seed, "n_scenes": args.n_eval, **metrics},
        "history": history,
        "torch": torch.__version__,
    }
    atomic_torch_save(out / "segmenter.pt", segnet_state_dict(net, widths))
    atomic_write_json(out / "recipe.json", recipe)
    return recipe


def main(argv=None) -> None:
    r = train(parse_args(argv))
    h = r["held_out"]
    print(f"held-out mIoU {h['miou']:.4f}  " + "  ".join(f"{k}={v:.3f}" for k, v in h["per_class_iou"].items()), flush=True)


if __name__ == "__main__":
    main()
