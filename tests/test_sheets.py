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


def test_batched_tiles_have_the_pixels_of_one_tile_at_a_time():
    """build_sheets draws a unit's tiles in one batched pass; they must equal `render_tile` one by one
    (grey and RGB images, several scales, thresholds and map sizes)."""
    from ganfix.sheets.overlay import render_tile, render_tiles

    g = torch.Generator().manual_seed(0)
    for channels, scale, size, map_size in ((3, 2, 64, 8), (1, 3, 28, 7), (3, 1, 32, 4), (3, 4, 16, 16)):
        images = torch.randint(0, 256, (5, channels, size, size), generator=g, dtype=torch.uint8)
        maps = torch.rand(5, map_size, map_size, generator=g)
        for threshold in (0.3, 0.9):
            tiles, plain, coverage = render_tiles(images, maps, threshold, scale)
            assert tiles.shape == plain.shape == (5, size * scale, size * scale, 3)
            for i in range(5):
                tile, cov = render_tile(images[i], maps[i], threshold, scale)
                assert np.array_equal(tiles[i], tile.permute(1, 2, 0).numpy()), (channels, scale, threshold, i)
                assert cov == pytest.approx(coverage[i])


def test_cached_glyph_captions_look_like_pillow_text():
    """Captions are blended from cached glyphs instead of Pillow's text call; the pixels must match it."""
    from PIL import ImageDraw

    from ganfix.sheets.layout import BG, MUTED
    from ganfix.sheets.text import draw_text, font

    for text, size, anchor in (("#1234", 12, "la"), ("max 12.34 · 5%", 12, "ra"), ("unit 17", 22, "la"),
                               ("rank 3/64  ·  max score 3.1  ·  mask: act >= q0.99 = 1.23", 13, "la"), ("gjpq()", 18, "la")):
        x = 350 if anchor == "ra" else 3
        ref = Image.new("RGB", (700, 40), BG)
        ImageDraw.Draw(ref).text((x, 6), text, fill=MUTED, font=font(size), anchor=anchor)
        ref = np.asarray(ref).astype(int)
        ours = np.asarray(Image.new("RGB", (700, 40), BG)).copy()
        draw_text(ours, (x, 6), text, MUTED, size, anchor)
        diff = np.abs(ref - ours.astype(int)).max(2)
        inked = (ref != np.asarray(BG)).any(2).sum()
        assert inked > 20 and (diff > 0).sum() <= max(3, inked // 200) and diff.max() <= 8, text


def test_no_sheet_is_written_when_some_samples_are_nan(tmp_path):
    """Units are drawn while later samples are still being generated; NaN samples must still leave no file."""
    from ganfix.scoring import NonFiniteSamples

    class NanWhenUnit0Fires(nn.Module):
        def forward(self, f):
            img = torch.zeros(f.shape[0], 3, 32, 32)
            img[f[:, 0, 0, 0] > 1.5] = float("nan")  # the top samples of unit 0
            return img + 0 * f.mean()

    class Model(nn.Module):
        def __init__(self):
            super().__init__()
            self.feat, self.out = Feat(), NanWhenUnit0Fires()

        def forward(self, z):
            return self.out(self.feat(z))

    gen = Generator(Model(), (4,), name="nan", device="cpu")
    with pytest.raises(NonFiniteSamples, match="black"):
        build_sheets(gen, "feat", tmp_path / "sheets", samples=200, batch_size=16, use_cache=False)
    assert not list(tmp_path.rglob("*.png")) and not (tmp_path / "sheets" / "sheets.json").exists()


def test_background_hands_over_items_errors_and_cleans_up():
    from ganfix.background import Background

    closed = []

    def items(fail_at=None):
        try:
            for i in range(100):
                if i == fail_at:
                    raise ValueError("boom")
                yield i
        finally:
            closed.append(True)

    with Background(items(), ahead=2) as it:
        assert list(it) == list(range(100))
    with pytest.raises(ValueError, match="boom"):
        with Background(items(fail_at=5)) as it:
            assert [next(it) for _ in range(5)] == list(range(5))
            next(it)
    with Background(items(), ahead=1) as it:  # the caller stops early: the worker stops and the generator closes
        next(it)
    assert closed == [True, True, True]


@pytest.mark.parametrize("size", [32, 64, 128])
def test_painting_captions_on_their_known_background_changes_no_pixel(size, monkeypatch):
    """Captions on a sheet's frame or panel are painted from a lookup table over their whole box (`on=`); that is
    only right where the box holds nothing but that background, which the layout must guarantee at every tile size."""
    import ganfix.sheets.layout as layout
    from ganfix.sheets.text import draw_text

    g = torch.Generator().manual_seed(0)
    tiles = torch.randint(0, 256, (10, size, size, 3), generator=g, dtype=torch.uint8).numpy()
    info = {"unit": 17, "rank": 3, "of": 64, "by": "ablation", "score": -1.25, "top_max": 7.5, "rate": 0.0123,
            "quantile": 0.99, "threshold": 6.9}
    ids, maxes, cov = list(range(1000, 1010)), [7.5 - i / 10 for i in range(10)], [0.004 * i for i in range(10)]

    def draw_all():
        return (*layout.unit_sheets(info, tiles, tiles, ids, maxes, cov)[:2], layout.group_sheet([(info, tiles)] * 3))

    fast = draw_all()
    monkeypatch.setattr(layout, "draw_text", lambda *a, on=None, **k: draw_text(*a, **k))  # always blend
    for ours, blended in zip(fast, draw_all()):
        assert np.array_equal(ours, blended)
