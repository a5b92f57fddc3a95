"""Fréchet distances in the extractor's feature space (extractor.py), with torch-fidelity's own
statistics and distance functions (the ones ganfix's scoring uses):

- real vs real: the first 5000 test images against the last 5000 (disjoint halves) — the floor
  that any generator is measured against;
- generated vs real: N samples of the shipped DCGAN (latents as ganfix draws them: sample ids
  0…N-1 under --seed; outputs quantised to uint8 like ganfix does) against the whole test set and
  against each half (same N as the real-vs-real pair; the first half is what `ganfix score
  --samples 5000 --real data/fmnist-test` compares with: the folder's first 5000 files);
- also the training set (first 5000) vs the second test half, for scale;
- and how the classifier labels the generated samples (does the generator cover all ten classes?).

    python examples/fashion_mnist/measure_fd.py            # ~1 min on 1 thread
"""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import torch

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
import data  # noqa: E402
import extractor  # noqa: E402
import models  # noqa: E402


def features(net: torch.nn.Module, images_u8: torch.Tensor, batch: int = 500) -> torch.Tensor:
    with torch.no_grad():
        return torch.cat([net(images_u8[i:i + batch]) for i in range(0, len(images_u8), batch)]).double()


def fd(a: torch.Tensor, b: torch.Tensor) -> float:
    from torch_fidelity.metric_fid import fid_features_to_statistics, fid_statistics_to_metric

    return fid_statistics_to_metric(fid_features_to_statistics(a), fid_features_to_statistics(b), False)[
        "frechet_inception_distance"]


def generate(weights: Path, n: int, seed: int) -> torch.Tensor:
    """n samples as uint8 [n, 1, 28, 28]; latents from ganfix.latents when ganfix is importable."""
    g = models.generator()
    g.load_state_dict(torch.load(weights, map_location="cpu", weights_only=True)["netG_state_dict"])
    g.eval()
    try:
        from ganfix.latents import sample_latents
        z = sample_latents(range(n), seed, g.z_shape)
    except ImportError:
        z = torch.randn(n, *g.z_shape, generator=torch.Generator().manual_seed(seed))
    with torch.no_grad():
        x = torch.cat([g(z[i:i + 500]) for i in range(0, n, 500)])
    return ((x + 1) * 127.5).round().clamp(0, 255).to(torch.uint8)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--weights", default=str(HERE / "assets" / "dcgan_fmnist.pt"))
    ap.add_argument("--samples", type=int, default=5000)
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args(argv)
    torch.set_num_threads(1)
    start = time.time()
    try:
        test_x, _ = data.load("test")
        train_x, _ = data.load("train")
    except data.DataMissing as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    net = extractor.factory()
    test = features(net, torch.from_numpy(test_x)[:, None])
    half_a, half_b = test[:5000], test[5000:]
    train = features(net, torch.from_numpy(train_x[:5000])[:, None])
    gen_u8 = generate(Path(args.weights), args.samples, args.seed)
    gen = features(net, gen_u8)
    rows = [
        ("real vs real: test[0:5000] vs test[5000:10000]", fd(half_a, half_b)),
        ("train[0:5000] vs test[5000:10000]", fd(train, half_b)),
        (f"generated ({args.samples}, seed {args.seed}) vs test (10000)", fd(gen, test)),
        (f"generated ({args.samples}, seed {args.seed}) vs test[0:5000]", fd(gen, half_a)),
        (f"generated ({args.samples}, seed {args.seed}) vs test[5000:10000]", fd(gen, half_b)),
    ]
    print(f"Fréchet distance in extractor.py's {net.feature_dim}-d feature space (not Inception FID):")
    for name, value in rows:
        print(f"  {name:55s} {value:10.3f}")
    print(f"  (scale: trace of the test set's feature covariance {torch.trace(torch.cov(test.T)).item():.1f})")
    with torch.no_grad():  # the classifier's verdict on the samples: does the generator cover all ten classes?
        pred = torch.cat([net.net.head(gen[i:i + 1000].float()) for i in range(0, len(gen), 1000)]).argmax(1)
    counts = torch.bincount(pred, minlength=10).tolist()
    print("generated samples per class (classifier's prediction): "
          + ", ".join(f"{c} {n}" for c, n in zip(data.CLASSES, counts)))
    print(f"({time.time() - start:.0f} s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
