"""Driving the dashboard in a browser: log in, open pages, wait for live updates.

Reusable with any ``DashboardServer`` (tests/domains/bosai/dashboard_support.py), e.g. a
check-in made through a shelter operator's connector::

    ui = DashboardUi(page, server)
    await ui.login(DASHBOARD)
    await ui.open()
    await ui.wait_live()
    await ui.mark()
    ... check someone in through the operator's connector ...
    await ui.expect_live("shelters", "1人／定員40人", within_ms=1000)
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

from playwright.async_api import Page, expect

from tests.domains.bosai.dashboard_support import DashboardServer


@dataclass
class DashboardUi:
    page: Page
    server: DashboardServer
    _marked: float = 0.0

    async def login(self, *scopes: str) -> None:
        """Through the form, as staff do: paste a token, press Enter."""
        await self.page.goto(self.server.url + "login")
        await self.page.get_by_label("アクセストークン").fill(self.server.token(*scopes))
        await self.page.keyboard.press("Enter")
        await self.page.wait_for_url(self.server.url)

    async def open(self, path: str = "") -> None:
        await self.page.goto(self.server.url + path)

    async def wait_live(self) -> None:
        """Until the page's event stream is connected (the status line says so)."""
        status = self.page.locator("#live-status")
        on = await status.get_attribute("data-on")
        await expect(status).to_have_text(on or "", timeout=5000)

    async def mark(self) -> None:
        """Call right before the change: marks the page (a reload would lose the mark) and
        starts the clock of ``expect_live``."""
        await self.page.evaluate("window.__noReload = true")
        self._marked = time.perf_counter()

    async def expect_live(self, section: str, text: str, within_ms: float = 1000) -> float:
        """Wait until a live section shows ``text``, without a reload since ``mark()``; the
        milliseconds since the mark."""
        await expect(self.page.locator(f'[data-live="{section}"]')).to_contain_text(
            text, timeout=within_ms)
        took = (time.perf_counter() - self._marked) * 1000
        assert await self.page.evaluate("window.__noReload === true"), "the page reloaded"
        return took


async def axe(page: Page) -> list[dict[str, Any]]:
    """Every violation axe-core finds on the page as it is now, of any impact (the copy of
    axe-core bundled with axe-playwright-python: nothing is fetched)."""
    from axe_playwright_python.async_playwright import Axe

    return (await Axe().run(page)).response["violations"]
