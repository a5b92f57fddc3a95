"""Procedural scenes: determinism, layout rules of the class map, dataset and `ganfix world render`."""
from __future__ import annotations

import numpy as np
import pytest
import torch
from PIL import Image
from typer.testing import CliRunner

from ganfix.world.dataset import SceneDataset, SceneImages, real_images
from ganfix.world.scenes import (BUILDING, CLASS_NAMES, DOOR, GROUND, ROAD, SKY, TREE, WINDOW, render_batch,
                                 render_scene)

N_CHECK = 200


def test_same_seed_and_index_give_identical_bytes():
    a_rgb, a_cls = render_scene(5, 7)
    b_rgb, b_cls = render_scene(5, 7)
    assert a_rgb.tobytes() == b_rgb.tobytes() and a_cls.tobytes() == b_cls.tobytes()
    assert a_rgb.shape == (64, 64, 3) and a_rgb.dtype == np.uint8 and a_cls.shape == (64, 64)


def test_other_index_or_seed_gives_another_scene():
    base = render_scene(5, 7)[0].tobytes()
    assert render_scene(5, 8)[0].tobytes() != base
    assert render_scene(6, 7)[0].tobytes() != base


def test_batch_matches_single_scenes():
    rgb, cls = render_batch(3, 10, 4)
    for j in range(4):
        r, c = render_scene(3, 10 + j)
        assert np.array_equal(rgb[j], r) and np.array_equal(cls[j], c)


def test_all_classes_occur_with_learnable_sizes():
    _, cls = render_batch(0, 0, N_CHECK)
    freq = np.bincount(cls.ravel(), minlength=len(CLASS_NAMES)) / cls.size
    assert len(CLASS_NAMES) == 7 and cls.max() < len(CLASS_NAMES)
    assert (freq > 0.01).all(), dict(zip(CLASS_NAMES, freq.round(4)))
    # Doors several pixels wide and tall: at least one door column run ≥ 8 px somewhere.
    assert max(int((c == DOOR).sum(0).max()) for c in cls) >= 8


def _horizon(cls: np.ndarray) -> int:
    return int(np.argmax((cls == GROUND).any(axis=1)))


@pytest.mark.parametrize("seed", [0, 11])
def test_doors_stand_on_the_ground_inside_buildings(seed):
    n_doors = 0
    for i in range(N_CHECK):
        _, cls = render_scene(seed, i)
        h = _horizon(cls)
        door = cls == DOOR
        assert not door[h:].any(), f"scene {i}: door below the ground line"
        for c in np.flatnonzero(door.any(axis=0)):
            rows = np.flatnonzero(door[:, c])
            n_doors += 1
            # contiguous run whose lowest pixel touches the ground line …
            assert rows[-1] == h - 1, f"scene {i} col {c}: door ends at row {rows[-1]}, ground line at {h}"
            assert np.array_equal(rows, np.arange(rows[0], rows[-1] + 1))
            # … under building facade (never sky or a tree above a door)
            assert rows[0] > 0 and cls[rows[0] - 1, c] == BUILDING, f"scene {i} col {c}"
            # the ground line below the door is ground (not a tree trunk in front of it)
            assert cls[h, c] in (GROUND, ROAD), f"scene {i} col {c}"
    assert n_doors > 100


def test_windows_and_doors_never_touch_the_sky():
    for i in range(N_CHECK):
        _, cls = render_scene(1, i)
        inside = np.isin(cls, (WINDOW, DOOR))
        sky = np.pad(cls == SKY, 1)
        near_sky = sky[:-2, 1:-1] | sky[2:, 1:-1] | sky[1:-1, :-2] | sky[1:-1, 2:]
        assert not (inside & near_sky).any(), f"scene {i}: window/door pixel next to sky"
        assert not (cls[_horizon(cls):] == WINDOW).any()


def test_other_resolutions_render_and_small_ones_are_refused():
    rgb, cls = render_scene(0, 3, resolution=128)
    assert rgb.shape == (128, 128, 3) and cls.shape == (128, 128)
    with pytest.raises(ValueError):
        render_scene(0, 0, resolution=16)


def test_scene_dataset_and_images():
    ds = SceneDataset(5, seed=2)
    x, y = ds[4]
    assert x.shape == (3, 64, 64) and x.dtype == torch.float32 and -1 <= x.min() and x.max() <= 1
    assert y.shape == (64, 64) and y.dtype == torch.long
    cached = SceneDataset(5, seed=2, cache=True)
    assert torch.equal(cached[4][0], x) and torch.equal(cached[4][1], y)
    imgs = SceneImages(5, seed=2)
    assert imgs[4].dtype == torch.uint8 and torch.equal(imgs[4], real_images(5, seed=2)[4])
    with pytest.raises(IndexError):
        ds[5]


def test_cli_render_writes_images_and_masks(tmp_path):
    from ganfix.cli.app import app

    res = CliRunner().invoke(app, ["world", "render", "--n", "3", "--out", str(tmp_path / "w"), "--seed", "4"])
    assert res.exit_code == 0, res.output
    for i in range(3):
        rgb, cls = render_scene(4, i)
        assert np.array_equal(np.asarray(Image.open(tmp_path / "w" / "images" / f"{i:06d}.png")), rgb)
        assert np.array_equal(np.asarray(Image.open(tmp_path / "w" / "masks" / f"{i:06d}.png")), cls)
    assert not list((tmp_path / "w").rglob("*.tmp"))


@pytest.mark.parametrize("args", [["--n", "0"], ["--n", "2", "--resolution", "8"], ["--n", "-3"]])
def test_cli_render_bad_input_is_one_line_exit_2(tmp_path, args):
    from ganfix.cli.app import app

    res = CliRunner().invoke(app, ["world", "render", "--out", str(tmp_path / "w"), *args])
    assert res.exit_code == 2
    assert "Traceback" not in res.output


def test_cli_render_out_is_a_file(tmp_path):
    from ganfix.cli.app import app

    f = tmp_path / "file"
    f.write_text("x")
    res = CliRunner().invoke(app, ["world", "render", "--n", "1", "--out", str(f)])
    assert res.exit_code == 2 and "not a folder" in res.output
