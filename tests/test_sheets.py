"""Contact sheets: one PNG per unit at the expected size, grouped sheets + index, and the overlay
marks exactly where a planted unit fires (dim outside, bright inside)."""
from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from PIL import Image
from torch import nn

from ganfix.generator import Generator
from ganfix.sheets import build_sheets, fire_mask, overlay
from ganfix.sheets.overlay import DIM, OUTLINE

GRAY = 200


class Feat(nn.Module):
    """4 units on 8×8. Unit 2 fires only in the top-left 4×4 quadrant, with a strength set by z[1]."""

    def forward(self, z):
        f = torch.zeros(z.shape[0], 4, 8, 8)
        f[:, 0] = z[:, 0, None, None]
        f[:, 1, 4:, 4:] = z[:, 2, None, None].abs()
        f[:, 2, :4, :4] = 1 + z[:, 1, None, None].abs()
        f[:, 3] = torch.linspace(0, 1, 8)[None, None, :] * z[:, 3, None, None]
        return f


class FlatImage(nn.Module):
    """A flat grey 32×32 image, so any brightness change in a tile comes from the overlay."""

    def forward(self, f):
        return torch.full((f.shape[0], 3, 32, 32), GRAY / 127.5 - 1) + 0 * f.mean()


class Planted(nn.Module):
    def __init__(self):
        super().__init__()
        self.feat = Feat()
        self.out = FlatImage()

    def forward(self, z):
        return self.out(self.feat(z))


@pytest.fixture()
def planted():
    return Generator(Planted(), (4,), name="planted", device="cpu")


def test_fire_mask_and_overlay_mark_the_region():
    act = torch.zeros(8, 8)
    act[:4, :4] = 3.0
    mask = fire_mask(act, 1.0, (32, 32))
    assert mask[:14, :14].all() and not mask[18:, :].any() and not mask[:, 18:].any()
    img = torch.full((3, 32, 32), GRAY, dtype=torch.uint8)
    out = overlay(img, mask, thickness=1)
    assert out[:, 5, 5].tolist() == [GRAY] * 3  # inside: untouched
    assert out[:, 28, 28].tolist() == [round(GRAY * DIM)] * 3  # outside: dimmed
    edge = mask.nonzero().max(0).values  # the mask's last row/col lie on the outline
    assert out[:, int(edge[0]), 5].tolist() == list(OUTLINE)


def test_sheets_files_sizes_and_overlay(planted, tmp_path):
    calls = []
    m = build_sheets(planted, "feat", tmp_path / "s", samples=120, seed=1, quantile=0.8, group_size=3,
                     progress=lambda stage, n, total: calls.append((stage, n, total)))
    units = [u["unit"] for u in m["units"]]
    assert sorted(units) == [0, 1, 2, 3] and len(m["groups"]) == 2
    assert [g["units"] for g in m["groups"]] == [units[:3], units[3:]]  # grouped in ranking order
    scores = [u["score"] for u in m["units"]]
    assert scores == sorted(scores, reverse=True)
    # One traced generation pass over the deduplicated ids of all units.
    gen_total = {t for s, _, t in calls if s == "generate"}
    assert gen_total == {len({i for u in m["units"] for i in u["ids"]})}
    out = tmp_path / "s"
    assert json.loads((out / "sheets.json").read_text())["units"] == m["units"]
    html = (out / "index.html").read_text()
    for u in m["units"]:
        assert f'src="{u["file"]}"' in html
    for g in m["groups"]:
        assert f'href="{g["file"]}"' in html and (out / g["file"]).is_file()

    u2 = next(u for u in m["units"] if u["unit"] == 2)
    assert len(u2["ids"]) == 10
    img = np.asarray(Image.open(out / u2["file"]).convert("RGB"))
    tile = m["scale"] * 32
    assert tile >= 96 and img.shape[1] == 6 + 5 * (tile + 6)  # 5 columns of tiles enlarged to ≥ 96 px
    for x, y, w, h in u2["boxes"]:
        assert w == h == tile
        assert img[y + h // 4, x + w // 4].tolist() == [GRAY] * 3  # unit 2 fires top-left: bright
        for px, py in [(3 * w // 4, 3 * h // 4), (3 * w // 4, h // 4), (w // 4, 3 * h // 4)]:
            assert img[y + py, x + px].tolist() == [round(GRAY * DIM)] * 3  # elsewhere: dimmed
        # The outline sits on the quadrant's border (around the middle of the tile).
        row = img[y + h // 4, x: x + w]
        amber = np.nonzero((row == OUTLINE).all(1))[0]
        assert amber.size and abs(int(amber.max()) - w // 2) <= w // 16
    # The plain sheet: the same layout and samples, no dimming and no outline.
    plain = np.asarray(Image.open(out / u2["plain"]).convert("RGB"))
    assert plain.shape == img.shape
    for x, y, w, h in u2["boxes"]:
        tile_px = plain[y:y + h, x:x + w]
        assert not (tile_px == OUTLINE).all(2).any()
        assert tile_px[3 * h // 4, 3 * w // 4].tolist() == [GRAY] * 3  # not dimmed where the unit is off


def test_sheets_reused_when_key_matches_and_rebuilt_otherwise(planted, tmp_path):
    first = build_sheets(planted, "feat", tmp_path, samples=40, quantile=0.8)
    calls = []
    again = build_sheets(planted, "feat", tmp_path, samples=40, quantile=0.8, progress=lambda *a: calls.append(a))
    assert again == first and not calls
    top2 = build_sheets(planted, "feat", tmp_path, samples=40, quantile=0.8, top=2)
    assert len(top2["units"]) == 2 and len(list((tmp_path / "units").glob("*.png"))) == 2 * 2  # stale sheets removed (overlay + plain)


def test_progan_sheets(tmp_path):
    from ganfix.generator import load_generator
    from ganfix.models import ProGAN

    torch.manual_seed(0)
    path = tmp_path / "g.pt"
    torch.save(ProGAN(16, z_dim=16, widths=[8, 8, 8]).state_dict(), path)
    gen = load_generator(str(path), device="cpu")
    m = build_sheets(gen, "layer4", tmp_path / "s", samples=64, group_size=5)
    assert len(m["units"]) == 8 and len(m["groups"]) == 2 and m["image_size"] == 16
    for u in m["units"]:
        with Image.open(tmp_path / "s" / u["file"]) as im:
            assert im.size[0] == 6 + 5 * (16 * m["scale"] + 6)
