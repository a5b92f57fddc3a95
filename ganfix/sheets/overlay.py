"""Show where a unit fires on one image: dim outside its mask, bright outline just inside it.

The mask is the unit's activation map upsampled (bilinear) to the displayed size and thresholded at
the unit's high quantile, as in GAN Dissection. Upsampling straight to the display size (not to the
image size and then by pixel repetition) gives smooth outlines; the mask is the same region.
"""
from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F

OUTLINE = (255, 214, 0)  # amber: stands out on most natural colours
HALO = (0, 0, 0)  # a dark line just outside, so the outline reads on bright yellow regions too
DIM = 0.45  # brightness kept outside the mask: enough context to judge the scene, the firing region still pops


def fire_mask(act_map: torch.Tensor, threshold: float, size: tuple[int, int]) -> torch.Tensor:
    """act_map [h, w] → bool [H, W]: where the upsampled activation reaches the threshold."""
    up = F.interpolate(act_map.float()[None, None], size=size, mode="bilinear", align_corners=False)[0, 0]
    return up >= threshold


def _window(mask: np.ndarray, radius: int, axes: tuple[int, int], erode: bool) -> np.ndarray:
    """Square-window min (erode) or max (dilate) of a bool array over two axes, by in-place shifted ANDs/ORs
    (separable morphology). Outside the array leaves a pixel as it is: for erosion, image borders count as
    "inside" the mask, so they are not outlined."""
    op = np.logical_and if erode else np.logical_or
    out = mask.copy()
    for axis in axes:
        src = out.copy()
        n = out.shape[axis]
        for r in range(1, min(radius, n - 1) + 1):
            lo, hi = [slice(None)] * out.ndim, [slice(None)] * out.ndim
            lo[axis], hi[axis] = slice(0, n - r), slice(r, n)
            op(out[tuple(lo)], src[tuple(hi)], out=out[tuple(lo)])  # the neighbour r steps after
            op(out[tuple(hi)], src[tuple(lo)], out=out[tuple(hi)])  # the neighbour r steps before
    return out


def _outline(mask: np.ndarray, thickness: int, axes: tuple[int, int]) -> tuple[np.ndarray, np.ndarray]:
    """(ring: the mask's inner edge, `thickness` px; halo: 1 px just outside it)."""
    return mask & ~_window(mask, thickness, axes, erode=True), _window(mask, 1, axes, erode=False) & ~mask


def upscale(image: torch.Tensor, scale: int) -> torch.Tensor:
    """uint8 [C, H, W] → uint8 [3, H·s, W·s] by pixel repetition (keeps small images crisp)."""
    if image.shape[0] == 1:
        image = image.expand(3, -1, -1)
    image = image[:3]
    if scale > 1:
        image = image.repeat_interleave(scale, 1).repeat_interleave(scale, 2)
    return image


def overlay(image: torch.Tensor, mask: torch.Tensor, thickness: int = 2) -> torch.Tensor:
    """image uint8 [3, H, W], mask bool [H, W] → uint8 [3, H, W] with dimmed outside and outline."""
    img = image.float()
    out = torch.where(mask[None], img, img * DIM)
    if mask.any():
        ring, halo = (torch.from_numpy(m) for m in _outline(mask.numpy(), thickness, (0, 1)))
        out[:, halo] = torch.tensor(HALO, dtype=out.dtype)[:, None]
        out[:, ring] = torch.tensor(OUTLINE, dtype=out.dtype)[:, None]
    return out.round().clamp(0, 255).to(torch.uint8)


# x → round(x·DIM) for every byte value, computed as `overlay` computes it (float32), so the batched path gives
# the same pixels without a float copy of the tiles.
_DIM_LUT = (torch.arange(256).float() * DIM).round().to(torch.uint8).numpy()


def render_tiles(images: torch.Tensor, act_maps: torch.Tensor | None, threshold: float, scale: int
                 ) -> tuple[np.ndarray, np.ndarray, list[float] | None]:
    """All of one unit's samples at once: images uint8 [k, C, H, W], maps [k, h, w] (None: a vector unit) →
    (overlaid tiles, plain tiles, fraction of each image in the mask); tiles are channels-last uint8
    [k, S, S, 3] arrays, ready to copy into a sheet. The same pixels as `render_tile` one by one, at a
    fraction of the cost."""
    hwc = (images.expand(-1, 3, -1, -1) if images.shape[1] == 1 else images[:, :3]).permute(0, 2, 3, 1).numpy()
    k, h, w, _ = hwc.shape
    # Pixel repetition as one broadcast copy (torch's repeat_interleave on channels-last data was ~5× slower).
    plain = np.ascontiguousarray(np.broadcast_to(hwc[:, :, None, :, None, :], (k, h, scale, w, scale, 3))
                                 .reshape(k, h * scale, w * scale, 3))
    if act_maps is None:
        return plain, plain, None
    size = (h * scale, w * scale)
    mask = F.interpolate(act_maps.float()[:, None], size=size, mode="bilinear", align_corners=False)[:, 0] >= threshold
    thickness = max(1, min(3, size[-1] // 80))
    mask_np = mask.numpy()
    ring, halo = _outline(mask_np, thickness, (1, 2))
    # Dim everything (as `overlay` does, in float32), then put back the firing pixels and draw the lines by
    # flat pixel indices: the mask is usually a small part of a tile, and masked copies of [k, S, S, 3] were slower.
    out = np.take(_DIM_LUT, plain)
    flat_out, flat_plain = out.reshape(-1, 3), plain.reshape(-1, 3)
    inside = np.flatnonzero(mask_np)
    flat_out[inside] = flat_plain[inside]
    flat_out[np.flatnonzero(halo)] = HALO
    flat_out[np.flatnonzero(ring)] = OUTLINE
    return out, plain, (np.count_nonzero(mask_np.reshape(k, -1), axis=1) / (size[0] * size[1])).tolist()


def render_tile(image: torch.Tensor, act_map: torch.Tensor, threshold: float, scale: int) -> tuple[torch.Tensor, float]:
    """One sample of one unit at display size; also returns the fraction of the image in the mask."""
    big = upscale(image, scale)
    mask = fire_mask(act_map, threshold, tuple(big.shape[-2:]))
    thickness = max(1, min(3, big.shape[-1] // 80))
    return overlay(big, mask, thickness), float(mask.float().mean())
