"""Train the small DCGAN of models.py on the Fashion-MNIST training set, on CPU, seeded.

    python examples/fashion_mnist/train_dcgan.py              # 2000 steps of batch 64, ~7 min on 1 thread

Saves the PyTorch DCGAN tutorial's checkpoint layout on purpose (a dict holding `netG_state_dict`
and `netD_state_dict`), so ganfix has to find the generator's: `--weights-key netG_state_dict`
names it (without it ganfix picks it by its name and says so). Also writes a grid of 64 samples next to the checkpoint.
"""
from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

import numpy as np
import torch
from torch import nn

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
import data  # noqa: E402
import models  # noqa: E402


def save_grid(images: torch.Tensor, path: Path, nrow: int = 8, scale: int = 3) -> None:
    """images [N, 1, 28, 28] in [-1, 1] → one PNG, upscaled `scale`× (nearest) so it can be looked at."""
    from PIL import Image

    x = ((images.clamp(-1, 1) + 1) * 127.5).round().to(torch.uint8)[:, 0].numpy()
    n, h, w = x.shape
    rows = (n + nrow - 1) // nrow
    grid = np.full((rows * (h + 2) + 2, nrow * (w + 2) + 2), 255, np.uint8)
    for i in range(n):
        r, c = divmod(i, nrow)
        grid[2 + r * (h + 2): 2 + r * (h + 2) + h, 2 + c * (w + 2): 2 + c * (w + 2) + w] = x[i]
    Image.fromarray(grid).resize((grid.shape[1] * scale, grid.shape[0] * scale), Image.NEAREST).save(path)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--steps", type=int, default=2000)
    ap.add_argument("--batch", type=int, default=64)
    ap.add_argument("--lr", type=float, default=2e-4)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--out", default=str(HERE / "assets" / "dcgan_fmnist.pt"))
    args = ap.parse_args(argv)

    torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)
    try:
        images, _ = data.load("train")
    except data.DataMissing as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    real = torch.from_numpy(images).float().div(127.5).sub(1.0)[:, None]  # [60000, 1, 28, 28] in [-1, 1]

    netG, netD = models.generator(), models.discriminator()
    netG.apply(models.weights_init)
    netD.apply(models.weights_init)
    optG = torch.optim.Adam(netG.parameters(), lr=args.lr, betas=(0.5, 0.999))
    optD = torch.optim.Adam(netD.parameters(), lr=args.lr, betas=(0.5, 0.999))
    bce = nn.BCEWithLogitsLoss()
    ones, zeros = torch.ones(args.batch), torch.zeros(args.batch)
    fixed_z = torch.randn(64, models.NZ, 1, 1, generator=torch.Generator().manual_seed(args.seed + 1))
    rng = torch.Generator().manual_seed(args.seed)
    order, pos = torch.randperm(len(real), generator=rng), 0

    start = time.time()
    for step in range(1, args.steps + 1):
        if pos + args.batch > len(order):
            order, pos = torch.randperm(len(real), generator=rng), 0
        x = real[order[pos:pos + args.batch]]
        pos += args.batch
        z = torch.randn(args.batch, models.NZ, 1, 1, generator=rng)

        fake = netG(z)
        lossD = bce(netD(x), ones) + bce(netD(fake.detach()), zeros)
        optD.zero_grad()
        lossD.backward()
        optD.step()

        lossG = bce(netD(fake), ones)  # non-saturating generator loss
        optG.zero_grad()
        lossG.backward()
        optG.step()

        if step % 100 == 0 or step == args.steps:
            print(f"step {step:5d}/{args.steps}  loss_D {lossD.item():.3f}  loss_G {lossG.item():.3f}  "
                  f"{time.time() - start:6.0f} s", flush=True)

    netG.eval()
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    ckpt = {
        "netG_state_dict": netG.state_dict(),
        "netD_state_dict": netD.state_dict(),
        "steps": args.steps, "batch": args.batch, "seed": args.seed, "nz": models.NZ,
    }
    tmp = out.with_suffix(".tmp")
    torch.save(ckpt, tmp)
    os.replace(tmp, out)
    with torch.no_grad():
        save_grid(netG(fixed_z), out.with_name(out.stem + "_samples.png"))
    print(f"saved {out} ({out.stat().st_size / 1e6:.2f} MB) and {out.stem}_samples.png in "
          f"{time.time() - start:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
