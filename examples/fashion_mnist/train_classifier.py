"""Train the small CNN of extractor.py on the Fashion-MNIST training set (CPU, seeded) and report its
test accuracy. Its penultimate layer is the feature space ganfix scores in
(`--features examples/fashion_mnist/extractor.py:factory`).

    python examples/fashion_mnist/train_classifier.py          # 3 epochs of batch 128, a few minutes on 1 thread
"""
from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

import torch
import torch.nn.functional as F

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
import data  # noqa: E402
import extractor  # noqa: E402


@torch.no_grad()
def accuracy(net: torch.nn.Module, images, labels, batch: int = 1000) -> float:
    net.eval()
    x, y = torch.from_numpy(images)[:, None], torch.from_numpy(labels).long()
    correct = sum((net(extractor.to_input(x[i:i + batch])).argmax(1) == y[i:i + batch]).sum().item()
                  for i in range(0, len(x), batch))
    return correct / len(x)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--epochs", type=int, default=3)
    ap.add_argument("--batch", type=int, default=128)
    ap.add_argument("--lr", type=float, default=1e-3)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--out", default=str(extractor.WEIGHTS))
    args = ap.parse_args(argv)

    torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)
    try:
        train_x, train_y = data.load("train")
        test_x, test_y = data.load("test")
    except data.DataMissing as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    x_all, y_all = torch.from_numpy(train_x)[:, None], torch.from_numpy(train_y).long()
    net = extractor.FashionCNN()
    opt = torch.optim.Adam(net.parameters(), lr=args.lr)
    steps_per_epoch = len(x_all) // args.batch
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, args.lr, total_steps=args.epochs * steps_per_epoch)
    rng = torch.Generator().manual_seed(args.seed)

    start = time.time()
    for epoch in range(1, args.epochs + 1):
        net.train()
        order = torch.randperm(len(x_all), generator=rng)
        total = 0.0
        for s in range(steps_per_epoch):
            idx = order[s * args.batch:(s + 1) * args.batch]
            x = x_all[idx]
            flip = torch.rand(len(x), generator=rng) < 0.5        # horizontal flips: clothes are ~symmetric
            x = torch.where(flip[:, None, None, None], x.flip(-1), x)
            loss = F.cross_entropy(net(extractor.to_input(x)), y_all[idx])
            opt.zero_grad()
            loss.backward()
            opt.step()
            sched.step()
            total += loss.item()
        print(f"epoch {epoch}/{args.epochs}  train loss {total / steps_per_epoch:.4f}  "
              f"test accuracy {accuracy(net, test_x, test_y):.4f}  {time.time() - start:.0f} s", flush=True)

    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_suffix(".tmp")
    torch.save(net.state_dict(), tmp)
    os.replace(tmp, out)
    acc = accuracy(net, test_x, test_y)
    print(f"test accuracy {acc:.4f} ({round(acc * len(test_y))}/{len(test_y)}); saved {out} "
          f"({out.stat().st_size / 1e6:.2f} MB) in {time.time() - start:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
