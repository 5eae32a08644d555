"""Headless Chromium (Debian's, driven by Playwright from PyPI) for the dashboard tests.

CI installs both (.ci/run); elsewhere the tests are skipped when either is missing, except
under CI=true, where a missing browser is a failure rather than a silent skip.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
                 "--no-first-run", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync"]


def _missing(what: str) -> None:
    if os.environ.get("CI"):
        pytest.fail(f"{what} is missing: .ci/run should have installed it")
    pytest.skip(f"{what} is not installed")


@pytest.fixture
async def browser():
    try:
        from playwright.async_api import async_playwright
    except ImportError:
        _missing("playwright (pip install playwright)")
    if not CHROMIUM.exists():
        _missing("chromium (apt-get install chromium fonts-noto-cjk)")
    async with async_playwright() as playwright:
        launched = await playwright.chromium.launch(executable_path=str(CHROMIUM),
                                                    args=CHROMIUM_ARGS)
        try:
            yield launched
        finally:
            await launched.close()


@pytest.fixture
async def page(browser):
    context = await browser.new_context(locale="ja-JP", viewport={"width": 1280, "height": 900})
    opened = await context.new_page()
    try:
        yield opened
    finally:
        await context.close()
