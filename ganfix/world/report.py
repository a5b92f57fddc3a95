"""Measure the embedded world and write docs/world.md + docs/img/world_grid.png.

    python -m ganfix.world.report --out docs/ --n 2000 --seed 0

Everything printed in world.md is computed here, from the shipped assets and seeded streams:
- segmenter mIoU and per-class IoU on held-out scenes (a scene stream no training run used);
- Fréchet distance (FD) and KID in the shipped `toyscenes` feature space for: generated vs real,
  real vs real (another scene stream, the floor), and two baselines (real images blurred, noise);
- per-class pixel frequency of generated vs real images as judged by the segmenter (and the
  ground truth for the real ones).
"""
from __future__ import annotations

import argparse
import io
import json
import time
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from ..atomic import atomic_write_bytes, atomic_write_json, atomic_write_text
from .scenes import CLASS_NAMES, render_batch

# Scene streams: the GAN trained on seed 0, the segmenter on 100 (evaluated on 200 while training).
REAL_SEED_A, REAL_SEED_B, SEG_EVAL_SEED = 1000, 2000, 3000


def _u8(x: torch.Tensor) -> torch.Tensor:
    return ((x.clamp(-1, 1) + 1) * 127.5).round().to(torch.uint8)


def _real(seed: int, n: int) -> tuple[torch.Tensor, torch.Tensor]:
    rgb, cls = render_batch(seed, 0, n)
    return torch.from_numpy(rgb).permute(0, 3, 1, 2).contiguous(), torch.from_numpy(cls).long()


class _Images(torch.utils.data.Dataset):
    def __init__(self, x: torch.Tensor):
        self.x = x

    def __len__(self) -> int:
        return self.x.shape[0]

    def __getitem__(self, i: int) -> torch.Tensor:
        return self.x[i]


def fd_kid(a: torch.Tensor, b: torch.Tensor, kid_subset: int) -> dict:
    import torch_fidelity

    from .toy_extractor import FEATURE_LAYER, ensure_registered

    ensure_registered()
    m = torch_fidelity.calculate_metrics(
        input1=_Images(a), input2=_Images(b), fid=True, kid=True, cuda=False, verbose=False, cache=False,
        feature_extractor="toyscenes", feature_layer_fid=FEATURE_LAYER, feature_layer_kid=FEATURE_LAYER,
        kid_subset_size=kid_subset, kid_subsets=50, batch_size=100, rng_seed=0,
        save_cpu_ram=True)  # save_cpu_ram: no DataLoader worker processes (scarce cores)
    return {"fd": m["frechet_inception_distance"], "kid": m["kernel_inception_distance_mean"],
            "kid_std": m["kernel_inception_distance_std"]}


def blur(x: torch.Tensor, sigma: float = 2.0) -> torch.Tensor:
    r = int(3 * sigma)
    k = torch.exp(-torch.arange(-r, r + 1, dtype=torch.float32) ** 2 / (2 * sigma ** 2))
    k = k / k.sum()
    y = x.float()
    y = F.conv2d(F.pad(y, (r, r, 0, 0), mode="replicate"), k.view(1, 1, 1, -1).expand(3, 1, 1, -1), groups=3)
    y = F.conv2d(F.pad(y, (0, 0, r, r), mode="replicate"), k.view(1, 1, -1, 1).expand(3, 1, -1, 1), groups=3)
    return y.round().clamp(0, 255).to(torch.uint8)


def grid_png(real: torch.Tensor, fake: torch.Tensor, cols: int = 6, scale: int = 2, gap: int = 16) -> bytes:
    from PIL import Image

    def grid(x: torch.Tensor) -> np.ndarray:
        x = x[: cols * cols].permute(0, 2, 3, 1).numpy()
        n, h, w, _ = x.shape
        return x.reshape(cols, cols, h, w, 3).transpose(0, 2, 1, 3, 4).reshape(cols * h, cols * w, 3)

    left, right = grid(real), grid(fake)
    canvas = np.full((left.shape[0], left.shape[1] * 2 + gap // scale, 3), 255, dtype=np.uint8)
    canvas[:, : left.shape[1]] = left
    canvas[:, left.shape[1] + gap // scale:] = right
    img = Image.fromarray(canvas).resize((canvas.shape[1] * scale, canvas.shape[0] * scale), Image.NEAREST)
    buf = io.BytesIO()
    img.save(buf, format="PNG", optimize=True)
    return buf.getvalue()


def class_freq(labels: torch.Tensor) -> list[float]:
    counts = torch.bincount(labels.reshape(-1), minlength=len(CLASS_NAMES)).double()
    return (counts / counts.sum()).tolist()


def measure(n: int, seed: int, generator: str | None, n_seg_eval: int = 1000) -> dict:
    from ..generator import load_generator
    from .toy_segmenter import ToySegmenter, confusion, iou_from_confusion

    t0 = time.time()
    seg = ToySegmenter()
    # Segmenter, held out.
    eval_x, eval_y = _real(SEG_EVAL_SEED, n_seg_eval)
    pred = seg.segment(eval_x.float().div(127.5).sub(1))
    ious = iou_from_confusion(confusion(pred, eval_y))
    seg_report = {"scene_seed": SEG_EVAL_SEED, "n_scenes": n_seg_eval, "miou": sum(ious.values()) / len(ious),
                  "per_class_iou": ious, "pixel_accuracy": float((pred == eval_y).float().mean())}

    g = load_generator(generator or "toyscenes", device="cpu")
    fake = _u8(g.to_signed(g.generate(list(range(n)), seed=seed, batch_size=100)).cpu())
    real_a, labels_a = _real(REAL_SEED_A, n)
    real_b, _ = _real(REAL_SEED_B, n)
    noise = torch.randint(0, 256, real_b.shape, generator=torch.Generator().manual_seed(seed), dtype=torch.uint8)
    kid_subset = min(1000, n)
    distances = {
        "generated_vs_real": fd_kid(fake, real_a, kid_subset),
        "real_vs_real_other_seed": fd_kid(real_b, real_a, kid_subset),
        "blur1_real_vs_real": fd_kid(blur(real_b, 1.0), real_a, kid_subset),
        "blur3_real_vs_real": fd_kid(blur(real_b, 3.0), real_a, kid_subset),
        "noise_vs_real": fd_kid(noise, real_a, kid_subset),
    }
    freq = {
        "real_ground_truth": class_freq(labels_a),
        "real_segmenter": class_freq(seg.segment(real_a.float().div(127.5).sub(1))),
        "generated_segmenter": class_freq(seg.segment(fake.float().div(127.5).sub(1))),
    }
    return {
        "n": n, "seed": seed, "generator": g.name, "generator_fingerprint": g.fingerprint,
        "real_seeds": [REAL_SEED_A, REAL_SEED_B], "segmenter": seg_report, "distances": distances,
        "class_frequency": freq, "class_names": CLASS_NAMES, "seconds": round(time.time() - t0, 1),
        "_grid": (real_a, fake),
    }


def markdown(r: dict, recipe: dict, seg_recipe: dict) -> str:
    d, f, s = r["distances"], r["class_frequency"], r["segmenter"]
    arch = recipe.get("architecture", {})
    L = []
    L.append("# The embedded offline world\n")
    L.append("ganfix ships a small world so that the whole GAN Dissection workflow runs offline: procedural "
             "scenes with exact segmentation, a toy ProGAN trained on them, a segmenter and a feature extractor "
             "trained on them. Every number on this page was measured by `python -m ganfix.world.report "
             f"--out docs/ --n {r['n']} --seed {r['seed']}` (also `ganfix world report`).\n")
    L.append("![real scenes (left) beside generated samples (right)](img/world_grid.png)\n")
    L.append("*Left: rendered scenes (stream 1000). Right: `toyscenes` generator samples 0–35, seed "
             f"{r['seed']}. The generator is deliberately small and undertrained; its artifacts are kept.*\n")
    L.append("## Scenes\n")
    L.append("`ganfix.world.scenes.render_scene(seed, index, resolution=64)` draws sky (gradient, sun, clouds), "
             "grass, an optional road, 0–4 buildings standing on the horizon with window grids and a door at the "
             "bottom, and trees in front. Scene *i* of stream *s* is always the same image. Classes: "
             + ", ".join(f"`{c}`" for c in CLASS_NAMES) + " (clouds and the sun are labelled sky). "
             "`ganfix world render --n N --out DIR [--seed S]` writes `images/*.png` and `masks/*.png` "
             "(class index per pixel); `ganfix.world.dataset.SceneDataset` / `SceneImages` serve them to torch.\n")
    L.append("## Generator `toyscenes`\n")
    L.append(f"`ProGAN(resolution={arch.get('resolution')}, z_dim={arch.get('z_dim')}, widths={arch.get('widths')})` "
             "in the GAN Dissection layout (`layer1…layer10`, `output_64x64`), trained non-progressively with "
             f"`python -m ganfix.world.train_generator` ({recipe.get('loss')}, {recipe.get('optimizer')}, EMA of G "
             f"shipped): {recipe.get('steps')} steps of batch {recipe.get('args', {}).get('batch')} "
             f"({recipe.get('images_seen')} images) in {recipe.get('elapsed_minutes')} min on one CPU thread, "
             f"seed {recipe.get('args', {}).get('seed')}. Fingerprint `{r['generator_fingerprint']}`. The full recipe "
             "and loss history are in `ganfix/world/assets/toyscenes_generator.json`.\n")
    L.append("## Segmenter `toyscenes`\n")
    L.append(f"A small U-Net (`ganfix.world.toy_segmenter.SceneSegNet`), trained by `python -m ganfix.world.train_segmenter` "
             f"({seg_recipe.get('steps')} steps, {seg_recipe.get('minutes')} min, one CPU thread). Held-out scenes: "
             f"stream {s['scene_seed']}, {s['n_scenes']} scenes, never used for training.\n")
    L.append(f"| class | IoU |\n|---|---:|")
    for c, v in s["per_class_iou"].items():
        L.append(f"| {c} | {v:.3f} |")
    L.append(f"| **mean (mIoU)** | **{s['miou']:.3f}** |\n")
    L.append(f"Pixel accuracy {s['pixel_accuracy']:.4f}.\n")
    L.append("## Fréchet distance and KID with the `toyscenes` features\n")
    L.append("`ganfix.world.toy_extractor` registers the segmenter's encoder (global-average-pooled 8×8 bottleneck, "
             "128-d, feature name `pool`) with torch-fidelity as `toyscenes`, so "
             "`torch_fidelity.calculate_metrics(..., feature_extractor='toyscenes', feature_layer_fid='pool')` "
             "works offline. These distances are **not** comparable with Inception FID values.\n")
    L.append(f"{r['n']} images per set; KID over 50 subsets of {min(1000, r['n'])}.\n")
    L.append("| set vs real scenes (stream 1000) | FD | KID (mean ± std) |\n|---|---:|---:|")
    names = {"real_vs_real_other_seed": "real scenes, stream 2000 (floor)",
             "generated_vs_real": "`toyscenes` generator samples",
             "blur1_real_vs_real": "real scenes (stream 2000), Gaussian blur σ=1 px",
             "blur3_real_vs_real": "real scenes (stream 2000), Gaussian blur σ=3 px",
             "noise_vs_real": "uniform noise"}
    for k in ["real_vs_real_other_seed", "generated_vs_real", "blur1_real_vs_real", "blur3_real_vs_real", "noise_vs_real"]:
        L.append(f"| {names[k]} | {d[k]['fd']:.3f} | {d[k]['kid']:.4f} ± {d[k]['kid_std']:.4f} |")
    L.append("")
    L.append("## Class frequencies (fraction of pixels)\n")
    L.append("| class | real, ground truth | real, segmenter | generated, segmenter |\n|---|---:|---:|---:|")
    for i, c in enumerate(CLASS_NAMES):
        L.append(f"| {c} | {f['real_ground_truth'][i]:.4f} | {f['real_segmenter'][i]:.4f} | {f['generated_segmenter'][i]:.4f} |")
    L.append("")
    L.append("## Caveats\n")
    L.append("- The segmenter is near-perfect on rendered scenes because they are its training distribution; on "
             "generated images there is no ground truth, so the *generated* column above is the segmenter's "
             "judgement, not a measured accuracy.\n"
             "- The feature extractor is the segmenter's encoder, so FD/KID here measure what that encoder "
             "encodes (object content and layout, blur, colour); they are small numbers on their own scale.\n"
             "- KID uses 50 subsets of the whole set when the subset size equals the set size, so its std "
             "is then 0.\n")
    L.append("## Reproducing the assets\n")
    L.append("```bash\npython -m ganfix.world.train_generator --out runs/toygan --seed 0 --minutes 72   # resumable\n"
             "python -m ganfix.world.train_segmenter --out runs/toyseg --seed 0 --steps 1800\n"
             "python -m ganfix.world.report --out docs/\n```\n")
    L.append("CPU wall-clock time depends on the machine and its load, so a rerun of the time-budgeted GAN training "
             "stops at a different step; `--max-steps` with the recorded step count repeats the same number of "
             "updates.\n")
    return "\n".join(L)


def main(argv=None) -> dict:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--out", default="docs")
    p.add_argument("--n", type=int, default=2000)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--generator", default=None, help="ProGAN state dict (default: the shipped toyscenes)")
    p.add_argument("--threads", type=int, default=1)
    args = p.parse_args(argv)
    torch.set_num_threads(args.threads)
    from .builtin import GENERATOR_RECIPE

    r = measure(args.n, args.seed, args.generator)
    real_a, fake = r.pop("_grid")
    out = Path(args.out)
    atomic_write_bytes(out / "img" / "world_grid.png", grid_png(real_a, fake))
    recipe = json.loads(GENERATOR_RECIPE.read_text()) if GENERATOR_RECIPE.is_file() else {}
    seg_recipe_path = Path(__file__).parent / "assets" / "toyscenes_segmenter.json"
    seg_recipe = json.loads(seg_recipe_path.read_text()) if seg_recipe_path.is_file() else {}
    atomic_write_text(out / "world.md", markdown(r, recipe, seg_recipe))
    atomic_write_json(out / "img" / "world_report.json", r)
    print(json.dumps(r, indent=2))
    return r


if __name__ == "__main__":
    main()
