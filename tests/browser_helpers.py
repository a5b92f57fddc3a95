"""Headless Chromium (Playwright, /usr/bin/chromium, never `playwright install`) for the page tests."""
from __future__ import annotations

import os
import time

import pytest

CHROMIUM = "/usr/bin/chromium"
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update", "--disable-sync"]

try:
    from playwright.sync_api import sync_playwright
except ImportError:  # pragma: no cover - depends on the environment
    sync_playwright = None


@pytest.fixture()
def browser():
    if sync_playwright is None:
        pytest.skip("playwright (Python) is not installed: pip install playwright")
    if not os.access(CHROMIUM, os.X_OK):
        pytest.skip(f"{CHROMIUM} is missing: apt-get install -y chromium")
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=ARGS, headless=True)
        yield b
        b.close()


def wait_for(check, timeout=10.0):
    end = time.monotonic() + timeout
    while True:
        value = check()
        if value or time.monotonic() > end:
            return value
        time.sleep(0.05)


def screenshot_dir(tmp_path):
    """$GANFIX_SCREENSHOTS (to refresh the README's pictures), else the test's temp folder."""
    return os.environ.get("GANFIX_SCREENSHOTS", str(tmp_path))
