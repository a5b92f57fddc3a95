"""Procedural outdoor scenes with exact per-pixel class maps (numpy only, deterministic).

A scene is sky (gradient, sun, clouds) above a horizon, grass and an optional road below it,
buildings standing on the horizon line with windows and doors, and trees in front.  Everything is
drawn with numpy slices and disc masks, so rendering is ~1 ms per 64×64 scene.

Determinism: the random stream is `numpy.random.default_rng([seed, index])`, so a scene depends only
on (seed, index, resolution) — never on batch size, order or process count.

Layout rules that the class map guarantees (tests check them):
- doors sit at the bottom of a building, their lowest row touching the ground line;
- windows and doors are inset inside building rectangles (never adjacent to sky);
- trees are never placed over a door's columns, so a door is never hidden behind a trunk.
"""
from __future__ import annotations

import numpy as np

# Clouds and the sun are labelled sky: they are sky content, not objects we dissect.
CLASS_NAMES = ["sky", "ground", "road", "building", "window", "door", "tree"]
SKY, GROUND, ROAD, BUILDING, WINDOW, DOOR, TREE = range(len(CLASS_NAMES))

# Building facade colours (RGB): brick, sand, grey, white-ish, blue-grey, ochre, pink.
_FACADES = np.array(
    [[150, 70, 55], [200, 180, 140], [130, 130, 135], [215, 210, 200], [110, 125, 150], [190, 140, 60], [200, 150, 150]],
    dtype=np.float32,
)
_DOORS = np.array([[90, 50, 25], [60, 35, 20], [40, 50, 90], [120, 30, 30], [35, 35, 35]], dtype=np.float32)

_grid_cache: dict[int, tuple[np.ndarray, np.ndarray]] = {}


def _grid(res: int) -> tuple[np.ndarray, np.ndarray]:
    if res not in _grid_cache:
        yy, xx = np.mgrid[0:res, 0:res].astype(np.float32)
        _grid_cache[res] = (yy, xx)
    return _grid_cache[res]


def _jitter(rng: np.random.Generator, colour, amount: float = 18.0) -> np.ndarray:
    return np.asarray(colour, dtype=np.float32) + rng.uniform(-amount, amount, 3).astype(np.float32)


def _disc(res: int, cy: float, cx: float, ry: float, rx: float) -> np.ndarray:
    yy, xx = _grid(res)
    return ((yy - cy) / ry) ** 2 + ((xx - cx) / rx) ** 2 <= 1.0


def render_scene(seed: int, index: int, resolution: int = 64) -> tuple[np.ndarray, np.ndarray]:
    """Render scene `index` of stream `seed`: (rgb uint8 [H,W,3], class map uint8 [H,W])."""
    if resolution < 32:
        raise ValueError(f"scene resolution must be at least 32, got {resolution}")
    R = resolution
    s = R / 64.0  # every size below is designed at 64×64 and scaled
    rng = np.random.default_rng([int(seed), int(index)])
    img = np.zeros((R, R, 3), dtype=np.float32)
    cls = np.zeros((R, R), dtype=np.uint8)
    yy, xx = _grid(R)

    # --- sky: vertical gradient, day blue or (rarely) sunset orange ---
    horizon = int(round(rng.uniform(0.58, 0.72) * R))
    if rng.random() < 0.8:
        top, bottom = _jitter(rng, [60, 110, 200], 25), _jitter(rng, [170, 205, 235], 15)
    else:
        top, bottom = _jitter(rng, [90, 80, 150], 20), _jitter(rng, [240, 160, 90], 20)
    t = (np.arange(R, dtype=np.float32) / max(horizon, 1)).clip(0, 1)[:, None, None]
    img[:] = top * (1 - t) + bottom * t
    if rng.random() < 0.5:  # sun
        cy, cx, r = rng.uniform(0.08, 0.3) * R, rng.uniform(0.1, 0.9) * R, rng.uniform(3, 5.5) * s
        img[_disc(R, cy, cx, r, r)] = _jitter(rng, [255, 235, 140], 10)
    for _ in range(rng.integers(0, 4)):  # clouds: a few overlapping ellipses
        cy, cx = rng.uniform(0.05, 0.35) * R, rng.uniform(0, 1) * R
        shade = _jitter(rng, [240, 240, 245], 10)
        for _ in range(rng.integers(2, 5)):
            m = _disc(R, cy + rng.uniform(-2, 2) * s, cx + rng.uniform(-6, 6) * s,
                      rng.uniform(2, 4) * s, rng.uniform(4, 8) * s)
            m &= yy < horizon
            img[m] = shade

    # --- ground: grass with a slight gradient; optional road band ---
    grass = _jitter(rng, [80, 145, 60], 20)
    gt = ((yy[horizon:, :1] - horizon) / max(R - horizon, 1))[..., None]
    img[horizon:] = grass * (0.85 + 0.3 * gt)
    cls[horizon:] = GROUND
    if rng.random() < 0.75 and R - horizon >= int(12 * s):
        r0 = horizon + int(rng.integers(int(3 * s), int(6 * s) + 1))
        r1 = min(R, r0 + int(rng.integers(int(7 * s), int(11 * s) + 1)))
        img[r0:r1] = _jitter(rng, [95, 95, 100], 15)
        cls[r0:r1] = ROAD
        mid = (r0 + r1) // 2
        if rng.random() < 0.7:  # dashed centre line
            dash, phase = int(4 * s), int(rng.integers(0, int(8 * s)))
            cols = ((np.arange(R) + phase) // dash) % 2 == 0
            img[mid, cols] = _jitter(rng, [235, 220, 120], 10)

    # --- buildings on the horizon line, drawn back to front ---
    door_cols = np.zeros(R, dtype=bool)
    n_buildings = int(rng.choice([0, 1, 2, 2, 3, 3, 4]))
    for _ in range(n_buildings):
        bw = int(rng.integers(int(13 * s), int(28 * s) + 1))
        bh = int(rng.integers(int(16 * s), max(int(16 * s) + 1, min(int(38 * s), horizon - int(5 * s))) + 1))
        x0 = int(rng.integers(-bw // 3, R - 2 * bw // 3))
        x1, y0, y1 = x0 + bw, horizon - bh, horizon
        cx0, cx1 = max(x0, 0), min(x1, R)
        facade = _jitter(rng, _FACADES[rng.integers(len(_FACADES))], 15)
        img[y0:y1, cx0:cx1] = facade
        cls[y0:y1, cx0:cx1] = BUILDING
        if rng.random() < 0.5:  # darker roof strip (still building)
            img[y0:y0 + max(1, int(2 * s)), cx0:cx1] = facade * 0.6
        # Door: several pixels wide/tall so it is learnable at 64×64; kept inside the facade.
        dw, dh = int(rng.integers(int(4 * s), int(7 * s) + 1)), int(rng.integers(int(8 * s), int(13 * s) + 1))
        has_door = rng.random() < 0.85 and bh >= dh + int(5 * s)
        dx0 = x0 + int(rng.integers(int(2 * s), max(int(2 * s) + 1, bw - dw - int(2 * s) + 1)))
        dx1 = dx0 + dw
        if has_door:
            # Windows must not overlap the door, with a 1 px gap of facade.
            d_lo, d_hi = dx0 - 1, dx1 + 1
        else:
            d_lo = d_hi = -10**6
        if rng.random() < 0.9:  # window grid
            ws = int(rng.integers(int(3 * s), int(5 * s) + 1))
            wh = ws + int(rng.integers(0, int(2 * s) + 1))
            gap = int(rng.integers(int(2 * s), int(4 * s) + 1))
            margin = int(rng.integers(int(2 * s), int(3 * s) + 1))
            lit = rng.random() < 0.3
            wcol = _jitter(rng, [250, 220, 120] if lit else [150, 190, 220], 15)
            bottom_limit = y1 - margin
            wy = y0 + margin + (int(2 * s) if rng.random() < 0.5 else 0)
            while wy + wh <= bottom_limit:
                wx = x0 + margin
                while wx + ws <= x1 - margin:
                    over_door = has_door and wx < d_hi and wx + ws > d_lo and wy + wh > y1 - dh - 1
                    if not over_door and rng.random() < 0.92:
                        a, b = max(wx, 0), min(wx + ws, R)
                        if a < b:
                            img[wy:wy + wh, a:b] = wcol
                            cls[wy:wy + wh, a:b] = WINDOW
                    wx += ws + gap
                wy += wh + gap
        if has_door:
            a, b = max(dx0, 0), min(dx1, R)
            if a < b:
                img[y1 - dh:y1, a:b] = _jitter(rng, _DOORS[rng.integers(len(_DOORS))], 12)
                cls[y1 - dh:y1, a:b] = DOOR
        # Columns of any door still visible (a later building may cover it; that is fine).
        door_cols = (cls[:horizon] == DOOR).any(axis=0)

    # --- trees in front, never over a door's columns ---
    for _ in range(int(rng.choice([0, 1, 1, 2, 2, 3]))):
        r = rng.uniform(4.5, 8.5) * s
        trunk_h, trunk_w = int(rng.integers(int(4 * s), int(8 * s) + 1)), int(rng.integers(int(2 * s), int(3 * s) + 1))
        for _try in range(6):
            cx = rng.uniform(0.05, 0.95) * R
            a, b = int(np.floor(cx - r)) - 1, int(np.ceil(cx + r)) + 2
            if not door_cols[max(a, 0):max(min(b, R), 0)].any():
                break
        else:
            continue
        base = horizon + int(rng.integers(0, int(4 * s) + 1))
        tx0 = int(round(cx - trunk_w / 2))
        img[base - trunk_h:base, max(tx0, 0):max(tx0 + trunk_w, 0)] = _jitter(rng, [95, 65, 35], 12)
        cls[base - trunk_h:base, max(tx0, 0):max(tx0 + trunk_w, 0)] = TREE
        cy = base - trunk_h - 0.7 * r
        crown = _disc(R, cy, cx, r * rng.uniform(0.9, 1.2), r)
        crown &= yy < base - trunk_h + int(1 * s)  # crown never reaches the ground
        leaf = _jitter(rng, [40, 100, 40], 15)
        img[crown] = leaf * (0.8 + 0.4 * ((yy[crown] - cy + r) / (2 * r)))[:, None]
        cls[crown] = TREE

    # Fine texture so images are not flat; the class map is unaffected.
    img += rng.normal(0.0, 4.0, img.shape).astype(np.float32)
    return np.clip(img, 0, 255).astype(np.uint8), cls


def render_batch(seed: int, start: int, n: int, resolution: int = 64) -> tuple[np.ndarray, np.ndarray]:
    """Scenes start…start+n-1: (rgb uint8 [n,H,W,3], class maps uint8 [n,H,W])."""
    rgb = np.empty((n, resolution, resolution, 3), dtype=np.uint8)
    cls = np.empty((n, resolution, resolution), dtype=np.uint8)
    for i in range(n):
        rgb[i], cls[i] = render_scene(seed, start + i, resolution)
    return rgb, cls


def to_tensor_images(rgb: np.ndarray):
    """uint8 [N,H,W,3] → float tensor [N,3,H,W] in [-1,1]."""
    import torch

    return torch.from_numpy(rgb).permute(0, 3, 1, 2).float().div(127.5).sub(1.0)
