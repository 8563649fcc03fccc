"""The browser tests' Chromium: Debian's, driven by Playwright."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

CHROMIUM = Path("/usr/bin/chromium")
# Playwright adds --headless and --user-data-dir (a fresh profile below) itself.
CHROMIUM_FLAGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                  "--disable-component-update", "--disable-sync", "--no-first-run"]


@pytest.fixture
def browser(tmp_path):
    """Debian's Chromium driven by Playwright, with a fresh profile and a throw-away HOME."""
    assert CHROMIUM.exists(), "Chromium missing: apt-get install -y chromium fonts-wqy-microhei"
    from playwright.sync_api import sync_playwright

    home = tmp_path / "home"
    home.mkdir()
    with sync_playwright() as pw:
        context = pw.chromium.launch_persistent_context(
            str(tmp_path / "profile"), executable_path=str(CHROMIUM), args=CHROMIUM_FLAGS,
            headless=True, env={**os.environ, "HOME": str(home)},
            viewport={"width": 1280, "height": 800}, locale="zh-CN",
        )
        try:
            yield context
        finally:
            context.close()
    shutil.rmtree(home, ignore_errors=True)

