"""Fashion-MNIST from Debian's `dataset-fashion-mnist` package, read with numpy (nothing downloads).

    apt-get install dataset-fashion-mnist      # puts the four idx .gz files in /usr/share/datasets/fashion-mnist

Set FASHION_MNIST_DIR to read the same files (plain or .gz) from somewhere else.

    python examples/fashion_mnist/data.py --out data/fmnist-test          # the 10 000 test images as PNG
    python examples/fashion_mnist/data.py --out data/fmnist-test-5k --split test --start 0 --count 5000
"""
from __future__ import annotations

import argparse
import gzip
import os
import sys
from pathlib import Path

import numpy as np

DEBIAN_DIR = Path("/usr/share/datasets/fashion-mnist")
CLASSES = ("T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot")
_FILES = {
    "train": ("train-images-idx3-ubyte", "train-labels-idx1-ubyte"),
    "test": ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"),
}


class DataMissing(FileNotFoundError):
    """The idx files are not where we looked."""


def data_dir() -> Path:
    return Path(os.environ.get("FASHION_MNIST_DIR", DEBIAN_DIR))


def available() -> bool:
    try:
        for images, labels in _FILES.values():
            _find(images)
            _find(labels)
    except DataMissing:
        return False
    return True


def _find(stem: str) -> Path:
    root = data_dir()
    for name in (stem + ".gz", stem):
        if (root / name).is_file():
            return root / name
    raise DataMissing(f"Fashion-MNIST file {stem}(.gz) not found in {root}: install Debian's package "
                      f"(apt-get install dataset-fashion-mnist) or set FASHION_MNIST_DIR to a folder holding the idx files")


def read_idx(path: Path) -> np.ndarray:
    """An idx file (http://yann.lecun.com/exdb/mnist/ format, unsigned bytes) as a numpy array."""
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "rb") as f:
        raw = f.read()
    zero, dtype_code, ndim = raw[0] * 256 + raw[1], raw[2], raw[3]
    if zero != 0 or dtype_code != 0x08:
        raise ValueError(f"{path} is not an unsigned-byte idx file")
    shape = tuple(int.from_bytes(raw[4 + 4 * i: 8 + 4 * i], "big") for i in range(ndim))
    data = np.frombuffer(raw, dtype=np.uint8, offset=4 + 4 * ndim)
    if data.size != int(np.prod(shape)):
        raise ValueError(f"{path}: header says {shape}, file holds {data.size} bytes")
    return data.reshape(shape).copy()  # writable, so torch.from_numpy does not warn


def load(split: str = "train") -> tuple[np.ndarray, np.ndarray]:
    """(images uint8 [N, 28, 28], labels uint8 [N]) of the 'train' (60 000) or 'test' (10 000) split."""
    if split not in _FILES:
        raise ValueError(f"split must be one of {sorted(_FILES)}, not {split!r}")
    images_stem, labels_stem = _FILES[split]
    images, labels = read_idx(_find(images_stem)), read_idx(_find(labels_stem))
    if len(images) != len(labels):
        raise ValueError(f"{split}: {len(images)} images but {len(labels)} labels")
    return images, labels


def write_pngs(out: str | Path, split: str = "test", start: int = 0, count: int | None = None) -> int:
    """Write images [start, start+count) of a split as 28×28 grayscale PNGs named `<split>_<index>.png`
    (zero-padded, so sorted order is index order). Returns the number written."""
    from PIL import Image

    images, _ = load(split)
    stop = len(images) if count is None else min(len(images), start + count)
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    for i in range(start, stop):
        Image.fromarray(images[i]).save(out / f"{split}_{i:05d}.png")
    return stop - start


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description="Write Fashion-MNIST images as PNG files (for ganfix --real FOLDER).")
    ap.add_argument("--out", required=True, help="folder to write into (created)")
    ap.add_argument("--split", default="test", choices=sorted(_FILES))
    ap.add_argument("--start", type=int, default=0)
    ap.add_argument("--count", type=int, default=None, help="default: to the end of the split")
    args = ap.parse_args(argv)
    try:
        n = write_pngs(args.out, args.split, args.start, args.count)
    except DataMissing as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(f"wrote {n} PNG files to {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
