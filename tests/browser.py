"""Headless Chromium for the page tests: Debian's `chromium` driven by Playwright (never a
downloaded browser). Tests that need it carry `requires_chromium`, which skips them, naming
the package to install, on a machine without it."""

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from playwright.sync_api import Browser, sync_playwright

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
]

requires_chromium = pytest.mark.skipif(
    not Path(CHROMIUM).exists(),
    reason=f"{CHROMIUM} not found: install it with `apt-get install chromium`",
)


@contextmanager
def chromium() -> Iterator[Browser]:
    """A headless Chromium, closed on the way out."""
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        try:
            yield browser
        finally:
            browser.close()
