"""Show where a unit fires on one image: dim outside its mask, bright outline just inside it.

The mask is the unit's activation map upsampled (bilinear) to the displayed size and thresholded at
the unit's high quantile, as in GAN Dissection. Upsampling straight to the display size (not to the
image size and then by pixel repetition) gives smooth outlines; the mask is the same region.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F

OUTLINE = (255, 214, 0)  # amber: stands out on most natural colours
HALO = (0, 0, 0)  # a dark line just outside, so the outline reads on bright yellow regions too
DIM = 0.45  # brightness kept outside the mask: enough context to judge the scene, the firing region still pops


def fire_mask(act_map: torch.Tensor, threshold: float, size: tuple[int, int]) -> torch.Tensor:
    """act_map [h, w] → bool [H, W]: where the upsampled activation reaches the threshold."""
    up = F.interpolate(act_map.float()[None, None], size=size, mode="bilinear", align_corners=False)[0, 0]
    return up >= threshold


def _shift_and(mask: torch.Tensor, radius: int, dim: int, fill: bool, op) -> torch.Tensor:
    """Square-window min/max along one axis by boolean shifts (separable morphology: cheap on bool maps)."""
    out = mask.clone()
    n = mask.shape[dim]
    for r in range(1, radius + 1):
        if r >= n:
            break
        fwd = torch.full_like(mask, fill)
        bwd = torch.full_like(mask, fill)
        fwd.narrow(dim, 0, n - r).copy_(mask.narrow(dim, r, n - r))
        bwd.narrow(dim, r, n - r).copy_(mask.narrow(dim, 0, n - r))
        out = op(op(out, fwd), bwd)
    return out


def _erode(mask: torch.Tensor, radius: int, dims: tuple[int, int] = (0, 1)) -> torch.Tensor:
    # Outside the image counts as "inside" the mask, so image borders are not outlined.
    return _shift_and(_shift_and(mask, radius, dims[0], True, torch.logical_and), radius, dims[1], True, torch.logical_and)


def _dilate(mask: torch.Tensor, radius: int, dims: tuple[int, int] = (0, 1)) -> torch.Tensor:
    return _shift_and(_shift_and(mask, radius, dims[0], False, torch.logical_or), radius, dims[1], False, torch.logical_or)


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
        ring = mask & ~_erode(mask, thickness)
        halo = _dilate(mask, 1) & ~mask
        out[:, halo] = torch.tensor(HALO, dtype=out.dtype)[:, None]
        out[:, ring] = torch.tensor(OUTLINE, dtype=out.dtype)[:, None]
    return out.round().clamp(0, 255).to(torch.uint8)


def render_tiles(images: torch.Tensor, act_maps: torch.Tensor | None, threshold: float, scale: int
                 ) -> tuple[torch.Tensor, torch.Tensor, list[float] | None]:
    """All of one unit's samples at once: images uint8 [k, C, H, W], maps [k, h, w] (None: a vector unit) →
    (overlaid tiles uint8 [k, 3, S, S], plain tiles, fraction of each image in the mask). Batched: the same
    pixels as `render_tile` one by one, at a fraction of the cost."""
    big = images.expand(-1, 3, -1, -1) if images.shape[1] == 1 else images[:, :3]
    if scale > 1:
        big = big.repeat_interleave(scale, 2).repeat_interleave(scale, 3)
    if act_maps is None:
        return big, big, None
    size = tuple(big.shape[-2:])
    mask = F.interpolate(act_maps.float()[:, None], size=size, mode="bilinear", align_corners=False)[:, 0] >= threshold
    thickness = max(1, min(3, size[-1] // 80))
    out = torch.where(mask[:, None], big, (big.float() * DIM).round().to(torch.uint8))
    ring = mask & ~_erode(mask, thickness, dims=(1, 2))
    halo = _dilate(mask, 1, dims=(1, 2)) & ~mask
    hwc = out.permute(0, 2, 3, 1)  # a view: writes go to `out`
    hwc[halo] = torch.tensor(HALO, dtype=torch.uint8)
    hwc[ring] = torch.tensor(OUTLINE, dtype=torch.uint8)
    return out, big, mask.flatten(1).float().mean(1).tolist()


def render_tile(image: torch.Tensor, act_map: torch.Tensor, threshold: float, scale: int) -> tuple[torch.Tensor, float]:
    """One sample of one unit at display size; also returns the fraction of the image in the mask."""
    big = upscale(image, scale)
    mask = fire_mask(act_map, threshold, tuple(big.shape[-2:]))
    thickness = max(1, min(3, big.shape[-1] // 80))
    return overlay(big, mask, thickness), float(mask.float().mean())
