"""The paint page in headless Chromium: one mouse stroke of tree units over ground cells adds tree
pixels, z undoes it bit for bit, s saves, and replaying the saved edit list gives the same image."""
from __future__ import annotations

import base64
import json
from pathlib import Path

import pytest
import torch

from browser_helpers import browser, screenshot_dir  # noqa: F401  (fixture)
from ganfix.pages import PageServer
from ganfix.pages.paint import PaintSession, paint_page
from paint_helpers import best_row, cells_of, pixels, toy_painting

pytestmark = [pytest.mark.browser, pytest.mark.slow]  # a real Chromium: seconds per test


def image_png(page) -> bytes:
    src = page.get_attribute("#image", "src")
    assert src.startswith("data:image/png;base64,")
    return base64.b64decode(src.split(",", 1)[1])


def test_stroke_undo_save_replay(browser, tmp_path):
    from ganfix.paint import replay

    painting = toy_painting(0)
    row = best_row(cells_of(painting, "ground"))
    assert len(row) >= 3
    with PageServer(paint_page(PaintSession(painting, tmp_path / "paint"))) as server:
        page = browser.new_page(viewport={"width": 1180, "height": 800})
        errors = []
        page.on("pageerror", lambda e: errors.append(str(e)))
        page.goto(server.url)
        page.wait_for_selector("body[data-edits='0']")
        original = image_png(page)
        assert torch.equal(pixels(original), painting.render([]).permute(1, 2, 0))
        page.keyboard.press("1")  # tree
        assert "current" in page.get_attribute("#palette li[data-class='tree']", "class")
        box = page.locator("#overlay").bounding_box()
        gh, gw = painting.grid
        at = lambda r, c: (box["x"] + (c + 0.5) * box["width"] / gw, box["y"] + (r + 0.5) * box["height"] / gh)
        page.mouse.move(*at(*row[0]))
        page.mouse.down()
        for r, c in row[1:]:
            page.mouse.move(*at(r, c), steps=3)
        page.mouse.up()
        page.wait_for_selector("body[data-edits='1']")
        assert painting.edits[0].cells == sorted(row) and painting.edits[0].cls == "tree"
        state = json.loads(page.request.get(f"http://127.0.0.1:{server.port}/api/state?token={server.token}").body())
        assert state["counts"]["tree"] > state["base_counts"]["tree"]  # trees where the ground was
        assert page.text_content("#counts tr[data-class='tree'] td:nth-child(3)").startswith("+")
        assert state["render_ms"] < 1000
        page.screenshot(path=str(Path(screenshot_dir(tmp_path)) / "paint-page.png"))
        edited = image_png(page)
        assert edited != original

        page.keyboard.press("z")
        page.wait_for_selector("body[data-edits='0']")
        assert image_png(page) == original  # undo: the same PNG, bit for bit
        page.keyboard.press("y")
        page.wait_for_selector("body[data-edits='1']")
        assert image_png(page) == edited
        page.keyboard.press("s")
        page.wait_for_selector("body:not([data-saved=''])")
        folder = Path(page.get_attribute("body", "data-saved"))
        assert (folder / "image.png").read_bytes() == edited
        counts = json.loads((folder / "counts.json").read_text())["pixels"]
        assert counts["change"]["tree"] > 0
        assert not errors

    replayed = replay(folder / "edits.json", tmp_path / "replay", painting.gen, painting.segmenter)
    assert Path(replayed["image"]).read_bytes() == edited and replayed["counts"] == counts
