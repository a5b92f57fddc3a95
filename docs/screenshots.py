"""Screenshots of the study and paint pages for the README, taken by headless Chromium.

    python docs/screenshots.py --study study/ --out docs/img     # a study folder from `ganfix study … --out study/`

The study page shows the first pair of rater "screenshot" (nothing is answered). The paint page
shows toyscenes sample 3 after one mouse stroke of tree units over a row of ground cells and one
of door units over building cells.
"""
from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

CHROMIUM = "/usr/bin/chromium"
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update", "--disable-sync"]


def drag(page, box, grid, cells):
    gh, gw = grid
    at = lambda r, c: (box["x"] + (c + 0.5) * box["width"] / gw, box["y"] + (r + 0.5) * box["height"] / gh)
    page.mouse.move(*at(*cells[0]))
    page.mouse.down()
    for r, c in cells[1:]:
        page.mouse.move(*at(r, c), steps=3)
    page.mouse.up()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--study", type=Path, required=True)
    ap.add_argument("--out", type=Path, default=Path("docs/img"))
    ap.add_argument("--sample", type=int, default=3)
    args = ap.parse_args()

    from playwright.sync_api import sync_playwright

    from ganfix.generator import load_generator
    from ganfix.pages import PageServer
    from ganfix.pages.paint import PaintSession, paint_page
    from ganfix.pages.study import StudySession, study_page
    from ganfix.paint import Painting, find_palette
    from ganfix.segmenters import load_segmenter
    from ganfix.study import load_study

    args.out.mkdir(parents=True, exist_ok=True)
    gen = load_generator("toyscenes", device="cpu")
    seg = load_segmenter("toyscenes")
    pal = find_palette(gen, seg, "layer4", ["tree", "door", "window", "sky"], samples=200)
    painting = Painting(gen, "layer4", pal, seg, 0, args.sample)
    with sync_playwright() as p, tempfile.TemporaryDirectory() as tmp:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=ARGS, headless=True)
        with PageServer(study_page(StudySession(load_study(args.study), "screenshot"))) as server:
            page = browser.new_page(viewport={"width": 1180, "height": 720})
            page.goto(server.url)
            page.wait_for_selector("body[data-done='0']")
            page.wait_for_function("() => document.querySelector('#right').complete")
            page.screenshot(path=str(args.out / "study_page.png"))
        with PageServer(paint_page(PaintSession(painting, Path(tmp) / "paint"))) as server:
            page = browser.new_page(viewport={"width": 1180, "height": 760})
            page.goto(server.url)
            page.wait_for_selector("body[data-edits='0']")
            box = page.locator("#overlay").bounding_box()
            page.keyboard.press("1")  # tree
            drag(page, box, painting.grid, [[5, c] for c in range(8)])
            page.wait_for_selector("body[data-edits='1']")
            page.keyboard.press("2")  # door
            drag(page, box, painting.grid, [[4, 1], [4, 2]])
            page.wait_for_selector("body[data-edits='2']")
            page.mouse.move(5, 5)
            page.screenshot(path=str(args.out / "paint_page.png"))
        browser.close()
    print(f"wrote {args.out / 'study_page.png'} and {args.out / 'paint_page.png'}")


if __name__ == "__main__":
    main()
