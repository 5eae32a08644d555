"""The dashboard's layout as staff see it in Chromium: on a phone (390 px), the shelter map,
the English page, and the shelter page's details (bar, chart size, headers on one line).
Screenshots go to docs/images/ when TSUNAGU_SCREENSHOTS=1 (ordinary runs leave the work tree
alone)."""

from __future__ import annotations

import os
import shutil
from pathlib import Path
from typing import Any

from playwright.async_api import Page, expect

from domains.bosai.dashboard.auth import DASHBOARD
from tests.domains.bosai.browser.helpers import DashboardUi
from tests.domains.bosai.browser.test_dashboard_browser import demo_data, demo_sites
from tests.domains.bosai.dashboard_support import SITES, load_status

IMAGES = Path(__file__).parents[4] / "docs" / "images"
PHONE = {"width": 390, "height": 844}
AD_HOC = "E1310100009999"  # a hotel opened as a shelter: a status row, no site, no coordinates


def keep(shot: Path) -> None:
    assert shot.stat().st_size > 10_000
    if os.environ.get("TSUNAGU_SCREENSHOTS"):
        IMAGES.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(shot, IMAGES / shot.name)


async def city(server, tmp_path) -> None:
    """The screenshot data (six sites, five open, 96 people) and an ad hoc shelter."""
    await demo_data(server, tmp_path)
    load_status(server.hub, tmp_path, [
        {"shelter_id": AD_HOC, "name": "九段ホテル臨時避難所", "open": "開設", "count": "20",
         "timestamp": "2024/4/30 18:00", "needs": "タオル、歯ブラシ"}])


async def phone_page(browser, **context: Any) -> Page:
    ctx = await browser.new_context(locale="ja-JP", viewport=PHONE, device_scale_factor=2,
                                    is_mobile=True, has_touch=True, **context)
    return await ctx.new_page()


async def box(locator) -> dict[str, float]:
    found = await locator.bounding_box()
    assert found is not None, locator
    return found


async def test_the_overview_fits_a_phone_with_each_shelters_state_and_needs_on_screen(
        browser, dashboard, tmp_path):
    await city(dashboard, tmp_path)
    page = await phone_page(browser)
    try:
        ui = DashboardUi(page, dashboard)
        await ui.login(DASHBOARD)
        await ui.wait_live()
        # nothing scrolls sideways: the document is no wider than the screen
        width = await page.evaluate("document.documentElement.scrollWidth")
        assert width <= PHONE["width"], width
        rows = page.locator('[data-live="shelters"] tbody tr')
        assert await rows.count() == 6  # five open sites and the hotel
        for n in range(await rows.count()):
            row = rows.nth(n)
            name = await box(row.locator("th"))  # the card's heading, across the card
            assert name["width"] > 300, name  # not two characters a line any more
            for column in ("state", "reported", "care_total", "needs"):
                cell = row.locator("td").nth(("type", "occupancy", "state", "reported",
                                              "care_total", "needs").index(column))
                await expect(cell).to_be_visible()
                found = await box(cell)
                assert 0 <= found["x"] and found["x"] + found["width"] <= PHONE["width"], (
                    column, found)
        bancho = rows.filter(has_text="番町小学校")
        label = await bancho.locator("td.state").evaluate(
            "e => getComputedStyle(e, '::before').content")
        assert label == '"状況"'  # each cell of a card names its column
        await expect(bancho.locator("td.needs")).to_contain_text("粉ミルク、毛布")
        await expect(bancho.locator("td.state")).to_contain_text("満員")
        # the wide 要配慮 matrix scrolls inside its own box, not the page
        care = page.locator('[data-live="care"] .scroll')
        assert await care.evaluate("e => e.scrollWidth > e.clientWidth")
        assert (await box(care))["width"] <= PHONE["width"]
        await page.screenshot(path=tmp_path / "dashboard-phone.png", full_page=True)
        keep(tmp_path / "dashboard-phone.png")
    finally:
        await page.context.close()


async def test_the_map_draws_each_open_shelter_with_coordinates(page, dashboard, tmp_path):
    await city(dashboard, tmp_path)
    ui = DashboardUi(page, dashboard)
    await ui.login(DASHBOARD)
    await ui.wait_live()
    section = page.locator('[data-live="map"]')
    svg = section.locator("svg.map")
    await expect(svg).to_be_visible()
    # one point per open site with coordinates: 富士見中学校 is closed, the hotel has none
    open_sites = [s for s in demo_sites() if s.local_id != "003"]
    points = svg.locator("a.point")
    assert sorted(await points.evaluate_all("ps => ps.map(p => p.dataset.shelter)")) == sorted(
        s.id for s in open_sites)
    await expect(section).to_contain_text("九段ホテル臨時避難所")  # named as not on the map
    await expect(svg.locator(".scale text")).to_have_text("500 m")
    await expect(svg.locator(".north text")).to_have_text("北")
    # each point: a link to its shelter, a title in words, sized by people, coloured by share
    bancho = svg.locator(f'a[data-shelter="{SITES[0].id}"]')
    assert (await bancho.get_attribute("href")).endswith(f"shelters/{SITES[0].id}")
    await expect(bancho.locator("title")).to_contain_text("番町小学校")
    assert "full" in await bancho.locator("circle").get_attribute("class")
    # north is up and east is right: 番町 (west, south) is left of and below 一橋中学校
    hitotsubashi = svg.locator(f'a[data-shelter="{open_sites[3].id}"] circle')
    west, east = await box(bancho.locator("circle")), await box(hitotsubashi)
    assert west["x"] < east["x"] and west["y"] > east["y"]
    # the same facts as a table, linked from the map for screen readers
    assert await svg.get_attribute("aria-describedby") == "map-data"
    await section.locator("#map-data summary").click()
    await expect(section.locator("#map-data tbody tr")).to_have_count(len(open_sites))
    await section.locator("#map-data summary").click()
    await section.scroll_into_view_if_needed()
    await page.locator("section.map").screenshot(path=tmp_path / "dashboard-map.png")
    keep(tmp_path / "dashboard-map.png")


async def test_the_english_page(page, dashboard, tmp_path):
    await city(dashboard, tmp_path)
    ui = DashboardUi(page, dashboard)
    await ui.login(DASHBOARD)
    await ui.open("?lang=en")
    await ui.wait_live()
    shelters = page.locator('[data-live="shelters"]')
    await expect(shelters.get_by_role("row", name="番町小学校")).to_contain_text(
        "Infant formula, Blankets")
    hotel = shelters.get_by_role("row", name="九段ホテル臨時避難所")
    await expect(hotel.locator('span[lang="ja"]').first).to_have_text("タオル")
    await expect(hotel).to_contain_text("(original)")
    # a supply request's 対象 written as its Japanese label (乳幼児) is still said in English
    supplies = page.locator('[data-live="supplies"]')
    blankets = supplies.get_by_role("row", name="Blankets")
    await expect(blankets.locator("td").nth(2)).to_have_text("Infant")  # 対象 / For whom
    await expect(supplies).not_to_contain_text("乳幼児")
    await page.screenshot(path=tmp_path / "dashboard-en.png", full_page=True)
    keep(tmp_path / "dashboard-en.png")


async def test_shelter_page_bar_under_people_chart_at_its_size_headers_on_one_line(
        page, dashboard, tmp_path):
    await city(dashboard, tmp_path)
    ui = DashboardUi(page, dashboard)
    await ui.login(DASHBOARD)
    await ui.open(f"shelters/{SITES[0].id}")
    await ui.wait_live()
    people = page.locator('[data-fact="people_now"]')
    bar, latest = people.locator("svg.bar"), page.locator('[data-fact="last_report"]')
    await expect(bar).to_be_visible()
    under, facts = await box(bar), await box(people)
    assert facts["x"] <= under["x"] < facts["x"] + facts["width"]  # in the 現在の人数 column
    assert under["x"] + 1 < (await box(latest))["x"] or under["y"] < (await box(latest))["y"]
    # the chart at the size it is drawn (640 x 220: its 12px labels stay 12px), not stretched
    # across most of the card; its table sits beside it
    chart = await box(page.locator("svg.chart"))
    assert 600 <= chart["width"] <= 645 and chart["height"] <= 225, chart
    beside = await box(page.locator("section.trend details summary"))
    assert beside["x"] > chart["x"] + chart["width"] and beside["y"] < chart["y"] + 50
    # column headers on one line each (報告人数, 要配慮: never broken mid-word)
    await ui.open("")
    for th in await page.locator("thead th").all():
        if not await th.is_visible():
            continue
        height = await th.evaluate("e => e.getBoundingClientRect().height")
        line = await th.evaluate("e => parseFloat(getComputedStyle(e).lineHeight)")
        assert height < 2 * line, (await th.inner_text(), height, line)
