"""The pmh views in Debian's Chromium (Playwright): login through the form, keyboard use,
axe-core with nothing serious or critical in Japanese and English, a checkup changing the
open pages without a reload (SSE), and the screenshots in docs/images/."""

from __future__ import annotations

import time
from datetime import date
from pathlib import Path

import pytest
from playwright.async_api import Page, expect

from domains.pmh.hub.api import CLINIC, FAMILY
from domains.pmh.views.auth import DASHBOARD
from tests.domains.bosai.browser.helpers import axe
from tests.domains.pmh import family
from tests.domains.pmh.views.support import (
    CHILD_B_NAME,
    FAMILY_A,
    infant_checkup,
    post_checkup,
    town,
)

IMAGES = Path(__file__).resolve().parents[4] / "docs" / "images"
EPDS = {"municipality": "131016",
        "encounter": {"subject": family.MOTHER, "encounterKind": "pregnancy_checkup",
                      "start": "2026-06-01T10:00:00+09:00", "clinic": {"code": "1312345678"},
                      "voucher": family.VOUCHER},
        "observations": [{"measurement": "epds_total", "value": 12,
                          "effective": "2026-06-01T10:30:00+09:00"},
                         # blood tests: the first in its standard period, the GBS swab not
                         {"measurement": "hemoglobin", "value": 11.6, "weeks": 10, "days": 2,
                          "effective": "2026-06-01T10:20:00+09:00"},
                         {"measurement": "gbs", "result": "negative", "weeks": 10, "days": 2,
                          "effective": "2026-06-01T10:20:00+09:00"}]}
DEVELOPMENT = [{"measurement": "development_item", "checkupAge": "3_4m", "item": item,
                "answer": answer, "effective": "2026-11-20T10:00:00+09:00"}
               for item, answer in (("head_control", "yes"), ("follows_with_eyes", "yes"),
                                    ("smiles_when_played_with", "no"))]


def with_development(body: dict) -> dict:
    return {**body, "observations": [*body["observations"], *DEVELOPMENT]}


@pytest.fixture
async def space(start_pmh):
    return await town(start_pmh)


async def login(page: Page, url: str, token: str) -> None:
    """As a person does: the form, the token pasted, Enter, keyboard only."""
    await page.goto(url + "login")
    await page.get_by_label("アクセストークン").first.fill(token)
    await page.keyboard.press("Enter")
    await page.wait_for_url(url)


async def vaccinate(tokyo):
    """The child's first 五種混合 dose (2026-10-05) through the Tokyo clinic."""
    return await tokyo.call("POST", "vaccinations", {
        "municipality": "131016", "immunization": {
            k: v for k, v in family.immunization().items()
            if k not in ("@context", "type", "id")}}, CLINIC)


async def no_serious(page: Page) -> None:
    found = [(v["id"], v["impact"]) for v in await axe(page)
             if v["impact"] in ("serious", "critical")]
    assert not found, found


async def test_dashboard_live_accessible_in_both_languages(space, page):
    city, tokyo = space
    url = f"{city.origin}/domains/pmh/dashboard/"
    await page.goto(url)
    await no_serious(page)  # the login page
    await login(page, url, city.token(DASHBOARD))
    status = page.locator("#live-status")
    await expect(status).to_have_text("自動更新中", timeout=5000)
    await page.evaluate("window.__noReload = true")
    followups = page.locator('[data-live="followups"] dd').first
    await expect(followups).to_have_text("0")
    started = time.perf_counter()
    await post_checkup(tokyo, EPDS)
    await expect(followups).to_have_text("1", timeout=3000)
    took = time.perf_counter() - started
    assert await page.evaluate("window.__noReload === true"), "the page reloaded"
    assert took < 3
    await post_checkup(tokyo, infant_checkup(date(2026, 11, 20), 6.1, 61.0))
    await expect(page.locator('[data-live="clinics"]')).to_contain_text("1312345678")
    status, answer = await vaccinate(tokyo)
    assert status == 201, answer
    await expect(page.locator('[data-live="coverage"]')).to_contain_text("50%")
    await expect(page.locator('[data-live="blood_tests"]')).to_contain_text("B群溶血性")
    # June's voucher settled with the clinic and paid: the by-clinic figures follow.
    batch = city.hub.create_settlement("1312345678", "2026-06", by="test:会計")
    city.hub.advance_settlement(batch["id"], "approved", by="test:課長")
    city.hub.advance_settlement(batch["id"], "paid", by="test:会計", paid_on=date(2026, 7, 31))
    await expect(page.locator('[data-live="clinics"]')).to_contain_text("5,040", timeout=3000)
    await no_serious(page)
    IMAGES.mkdir(parents=True, exist_ok=True)
    await page.screenshot(path=str(IMAGES / "pmh-dashboard.png"), full_page=True)
    # Keyboard: the skip link first, then the language switch, which is followed by Enter.
    await page.keyboard.press("Tab")
    await expect(page.locator("a.skip")).to_be_focused()
    await page.keyboard.press("Tab")
    await page.keyboard.press("Enter")
    await page.wait_for_url("**lang=en")
    await expect(page.locator("html")).to_have_attribute("lang", "en")
    await expect(page.locator("h1")).to_have_text("Maternal and child health dashboard")
    await no_serious(page)
    await page.screenshot(path=str(IMAGES / "pmh-dashboard-en.png"), full_page=True)


async def test_family_view_live_accessible_and_only_ours(space, page):
    city, tokyo = space
    await post_checkup(tokyo, with_development(infant_checkup(date(2026, 11, 20), 6.1, 61.0)))
    assert (await vaccinate(tokyo))[0] == 201
    url = f"{city.origin}/domains/pmh/family-app/"
    await page.goto(url)
    await no_serious(page)
    await login(page, url, city.token(FAMILY, subjects=FAMILY_A))
    await expect(page.locator("h2").first).to_contain_text("さくら")
    await expect(page.locator('[data-live="vaccinations-0"]')).to_contain_text("五種混合")
    assert CHILD_B_NAME not in await page.content()
    await expect(page.locator("#live-status")).to_have_text("自動更新中", timeout=5000)
    await page.evaluate("window.__noReload = true")
    history = page.locator('[data-live="history-0"]')
    await expect(history).not_to_contain_text("2026-12-01")
    # A second checkup (one more measurement) appears on the open page.
    body = infant_checkup(date(2026, 12, 1), 6.6, 63.2)
    body["encounter"].pop("voucher")
    body["encounter"]["encounterKind"] = "other"
    await post_checkup(tokyo, body)
    await expect(history).to_contain_text("2026-12-01", timeout=3000)
    growth = page.locator('[data-live="growth-0"]')
    await expect(growth).to_contain_text("6.6")
    # The reference's bands behind the points, each point's band, and the source.
    await expect(growth.locator("svg .band-outer")).to_have_count(2)
    await expect(growth).to_contain_text("P25–P50（推定P")
    await expect(growth).to_contain_text("出典：厚生労働省「令和5年乳幼児身体発育調査」（e-Stat）")
    development = page.locator('[data-live="development-0"]')
    await expect(development).to_contain_text("あやすとよく笑いますか")
    assert await page.evaluate("window.__noReload === true")
    await no_serious(page)
    await page.screenshot(path=str(IMAGES / "pmh-family.png"), full_page=True)
    await page.goto(url + "?lang=en")
    await expect(page.locator("html")).to_have_attribute("lang", "en")
    await expect(page.locator("h1")).to_have_text("Our family's records")
    await expect(page.locator('[data-live="growth-0"]')).to_contain_text("Percentile band")
    await no_serious(page)
