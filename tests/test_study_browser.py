"""The study page in headless Chromium: 10 pairs answered with the keyboard land on disk in the
rater's plan order, a reload resumes, a SIGKILLed server (the real CLI) keeps the acknowledged answer."""
from __future__ import annotations

import json
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from browser_helpers import browser, screenshot_dir, wait_for  # noqa: F401  (fixture)
from ganfix.pages import PageServer
from ganfix.pages.study import StudySession, study_page
from ganfix.study import rater_plan
from study_helpers import tiny_study

pytestmark = [pytest.mark.browser, pytest.mark.slow]  # a real Chromium: seconds per test

KEYS = ["ArrowLeft", "ArrowRight", "1", "2", "Space", "ArrowLeft", "2", "ArrowRight", "1", "ArrowLeft"]
CHOICE = {"ArrowLeft": "left", "1": "left", "ArrowRight": "right", "2": "right", "Space": "skip"}


def done(page) -> int:
    return int(page.get_attribute("body", "data-done") or -1)


def test_ten_pairs_by_keyboard_then_reload_resumes(browser, tmp_path):
    _, _, st = tiny_study(tmp_path)
    plan = rater_plan(st, "alice")
    with PageServer(study_page(StudySession(st, "alice"))) as server:
        page = browser.new_page(viewport={"width": 1200, "height": 760})
        errors = []
        page.on("pageerror", lambda e: errors.append(str(e)))
        page.goto(server.url)
        page.wait_for_selector("body[data-done='0']")
        assert page.get_attribute("body", "data-trial") == str(plan[0]["trial"])
        assert page.eval_on_selector("#left", "img => img.complete && img.naturalWidth === 16")
        for i, key in enumerate(KEYS):
            page.keyboard.press(key)
            page.wait_for_selector(f"body[data-done='{i + 1}']")
        assert page.text_content("#progress-text").startswith("11 / 12")
        page.reload()  # resumes at the 11th pair of the plan
        page.wait_for_selector("body[data-done='10']")
        assert page.get_attribute("body", "data-trial") == str(plan[10]["trial"])
        assert "1 skipped" in page.text_content("#progress-text")
        page.screenshot(path=str(Path(screenshot_dir(tmp_path)) / "study-page.png"))
        lines = [json.loads(l) for l in (st.dir / "answers-alice.jsonl").read_text().splitlines()]
        assert [l["trial"] for l in lines] == [e["trial"] for e in plan[:10]]
        for line, key, e in zip(lines, KEYS, plan):
            assert line["choice"] == CHOICE[key] and (line["left"], line["right"]) == (e["left"], e["right"])
            assert line["position"] == e["position"]
            assert line["preferred"] == (None if key == "Space" else e[CHOICE[key]])
        page.keyboard.press("1")
        page.wait_for_selector("body[data-done='11']")
        page.keyboard.press("2")
        page.wait_for_selector("#done:not([hidden])")
        assert done(page) == 12 and not errors


def test_a_killed_server_keeps_the_answer(browser, tmp_path):
    spec, ann, st = tiny_study(tmp_path)
    proc = subprocess.Popen([sys.executable, "-m", "ganfix.cli.app", "study", str(spec), "-a", str(ann), "--out", str(st.dir),
                             "-n", "6", "--rater", "bob", "--json"], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                            text=True, cwd=tmp_path)
    try:
        lines = []
        while not "".join(lines).rstrip().endswith("}"):
            line = proc.stdout.readline()
            assert line, f"study exited early ({proc.poll()})"
            lines.append(line)
        info = json.loads("".join(lines))
        page = browser.new_page()
        page.goto(info["url"])
        page.wait_for_selector("body[data-done='0']")
        page.keyboard.press("ArrowRight")
        page.wait_for_selector("#status.saved")
        assert page.text_content("#status") == "saved ✓"
        proc.send_signal(signal.SIGKILL)  # no chance to flush anything after the reply
        proc.wait(timeout=10)
        saved = [json.loads(l) for l in Path(info["answers"]).read_text().splitlines()]
        first = rater_plan(st, "bob")[0]
        assert len(saved) == 1 and saved[0]["trial"] == first["trial"] and saved[0]["preferred"] == first["right"]
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
