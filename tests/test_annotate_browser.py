"""The labelling page in headless Chromium (Playwright): keys and clicks change the annotation file,
a reload restores the state, requests without the token and `../` paths are refused."""
from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from annotate_helpers import running_server
from browser_helpers import browser, wait_for  # noqa: F401  (browser is a fixture)

pytestmark = [pytest.mark.browser, pytest.mark.slow]
def labels_on_disk(path: Path) -> dict:
    return json.loads(path.read_text())


def test_keys_clicks_reload_and_refusals(browser, tmp_path):
    with running_server(tmp_path) as (server, path, manifest):
        order = [u["unit"] for u in manifest["units"]]
        page = browser.new_page(viewport={"width": 1400, "height": 900})
        errors = []
        page.on("pageerror", lambda e: errors.append(str(e)))
        page.goto(server.url)
        assert wait_for(lambda: page.text_content("#unit-title") != "unit –")  # polled from Python: the page's CSP forbids the eval a string predicate needs
        assert page.text_content("#unit-title") == f"unit {order[0]}"
        assert page.eval_on_selector("#sheet", "img => img.complete && img.naturalWidth > 0")
        page.keyboard.press("o")  # overlay off: the plain sheet of the same unit, then back
        assert "-plain.png" in page.get_attribute("#sheet", "src")
        assert wait_for(lambda: page.eval_on_selector("#sheet", "img => img.complete && img.naturalWidth > 0"))
        page.keyboard.press("o")
        assert "-plain.png" not in page.get_attribute("#sheet", "src")

        page.keyboard.press("x")  # mark the first unit
        assert wait_for(lambda: labels_on_disk(path)["units"] == [order[0]])
        page.keyboard.press("j")
        assert page.text_content("#unit-title") == f"unit {order[1]}"
        page.click("#toggle")  # mark the second by click
        assert wait_for(lambda: labels_on_disk(path)["units"] == sorted(order[:2]))
        page.keyboard.press("t")
        page.keyboard.type("checker blotch")
        page.keyboard.press("Enter")
        assert wait_for(lambda: labels_on_disk(path)["labels"].get(str(order[1]), {}).get("text") == "checker blotch")
        page.keyboard.press("ArrowRight")
        page.keyboard.press("ArrowRight")
        page.keyboard.press("k")
        assert page.text_content("#unit-title") == f"unit {order[2]}"
        page.keyboard.press("Space")  # mark the third, then go back and unmark the first
        page.click("#prev")
        page.click("#prev")
        assert page.text_content("#unit-title") == f"unit {order[0]}"
        page.keyboard.press("x")
        assert wait_for(lambda: labels_on_disk(path)["units"] == sorted(order[1:3]))
        page.click(f"#marked li[data-unit='{order[2]}']")  # the marked list jumps to a unit
        assert page.text_content("#unit-title") == f"unit {order[2]}"
        assert page.get_attribute("#frame", "class") == "frame marked"
        page.wait_for_selector("#status.saved")

        page.reload()  # state comes back from the file through the server
        assert wait_for(lambda: page.text_content("#unit-title") != "unit –")  # polled from Python: the page's CSP forbids the eval a string predicate needs
        assert page.text_content("#unit-title") == f"unit {order[2]}"
        assert "on" in page.get_attribute("#toggle", "class")
        # The marked list follows the ranking order of the page.
        assert page.eval_on_selector_all("#marked li", "lis => lis.map(li => +li.dataset.unit)") == order[1:3]
        page.keyboard.press("k")
        assert page.input_value("#label") == "checker blotch"
        assert page.text_content("#progress-text").startswith(f"2 / {len(order)}")
        shots = Path(os.environ.get("GANFIX_SCREENSHOTS", tmp_path))
        page.screenshot(path=str(shots / "annotate-page.png"))
        assert not errors

        base = f"http://127.0.0.1:{server.port}"
        assert page.request.get(f"{base}/api/state").status == 403
        assert page.request.get(f"{base}/api/state", headers={"X-Ganfix-Token": "wrong"}).status == 403
        assert page.goto(f"{base}/").status == 403
        assert page.request.post(f"{base}/api/label", data={"unit": order[0], "marked": True}).status == 403
        refused = page.request.get(f"{base}/sheets/..%2f..%2ftiny.pt?token={server.token}")
        assert refused.status == 403 and b"PNG" not in refused.body()
        # Chromium itself folds a literal ../ away; what arrives is outside every served folder.
        assert page.goto(f"{base}/sheets/../../tiny.pt?token={server.token}").status in (403, 404)
        assert labels_on_disk(path)["units"] == sorted(order[1:3])  # refused requests changed nothing
