"""The dashboard in headless Chromium against a real connector on a real nats-server:
login, content, live update without reload, English, keyboard, hostile strings, person
search permission, and the screenshots in docs/screenshots/ (axe-core on every page:
test_accessibility_browser.py)."""

from __future__ import annotations

import os
import shutil
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import urljoin

import pytest
from playwright.async_api import expect

from domains.bosai.dashboard.auth import DASHBOARD, PERSON_SEARCH
from tests.domains.bosai.browser.helpers import DashboardUi
from tests.domains.bosai.dashboard_support import (
    HOSTILE,
    SITES,
    Site,
    check_in,
    hold_supply_request,
    load_sites,
    load_status,
    person,
    register,
    seed,
)

BOTH = (DASHBOARD, PERSON_SEARCH)
SCREENSHOTS = Path(__file__).parents[4] / "docs" / "screenshots"


async def test_login_is_required_and_the_form_is_labelled(page, dashboard):
    await page.goto(dashboard.url)
    assert page.url == dashboard.url + "login"  # sent to the form, nothing shown
    token = page.get_by_label("アクセストークン")
    await expect(token).to_have_attribute("type", "password")
    await token.fill("tsu_wrong")
    await page.get_by_role("button", name="ログイン").click()
    await expect(page.get_by_role("alert")).to_contain_text("トークンが無効")
    ui = DashboardUi(page, dashboard)
    await ui.login(DASHBOARD)
    await expect(page.get_by_role("heading", level=1)).to_have_text("避難状況ダッシュボード")
    cookies = await page.context.cookies()
    (session,) = [c for c in cookies if c["name"] == "tsunagu_bosai_session"]
    assert session["httpOnly"] and session["sameSite"] == "Strict"
    assert session["path"] == "/domains/bosai/dashboard/"
    assert await page.evaluate("document.cookie") == ""  # out of reach of scripts


async def test_the_page_shows_occupancy_stays_care_and_supplies(page, dashboard, tmp_path):
    seed(dashboard, tmp_path)
    ui = DashboardUi(page, dashboard)
    await ui.login(DASHBOARD)
    shelters = page.locator('[data-live="shelters"]')
    bancho = shelters.get_by_role("row", name="番町小学校")
    await expect(bancho).to_contain_text("3人／定員3人")
    await expect(bancho).to_contain_text("満員")
    await expect(shelters.get_by_role("row", name="九段ホール")).to_contain_text("余裕あり")
    await expect(page.locator('[data-live="stays"]').get_by_role("row", name="車中泊")
                 ).to_contain_text("1")
    await expect(page.locator('[data-live="care"]').get_by_role("row", name="番町小学校")
                 ).to_contain_text("2")
    await expect(page.locator('[data-live="supplies"]')).to_contain_text("要請中")
    await expect(page.get_by_role("img", name="避難所にいる人の推移")).to_be_visible()
    await bancho.get_by_role("link", name="番町小学校").click()
    await expect(page.get_by_role("heading", level=1)).to_have_text("番町小学校")
    await expect(page.locator('[data-live="timeline"]')).to_contain_text("2024-04-30 06:00")
    await expect(page.locator('[data-live="needs"]')).to_contain_text("粉ミルク")


async def test_a_registry_change_appears_without_reload_within_a_second(page, dashboard,
                                                                        tmp_path):
    ids = seed(dashboard, tmp_path)
    ui = DashboardUi(page, dashboard)
    await ui.login(DASHBOARD)
    await ui.wait_live()
    await ui.mark()
    check_in(dashboard.hub, ids["ken"], SITES[1].id)  # from his car into 九段ホール
    took = await ui.expect_live("shelters", "1人／定員40人", within_ms=1000)
    await expect(page.locator('[data-total="in_shelters"]')).to_have_text("4人")
    assert took < 1000
    # the shelter's own page follows too
    await ui.open(f"shelters/{SITES[1].id}")
    await ui.wait_live()
    await ui.mark()
    hold_supply_request(dashboard.connector, dashboard.hub, item="車いす", quantity=1,
                        status="requested", shelter_id=SITES[1].id)
    assert await ui.expect_live("supplies", "車いす", within_ms=1000) < 1000


async def test_english_switch(page, dashboard, tmp_path):
    seed(dashboard, tmp_path)
    ui = DashboardUi(page, dashboard)
    await ui.login(DASHBOARD)
    await page.get_by_role("link", name="English").click()
    await expect(page.locator("html")).to_have_attribute("lang", "en")
    await expect(page.get_by_role("heading", level=1)).to_have_text("Evacuation dashboard")
    await expect(page.get_by_role("heading", name="Where people stay")).to_be_visible()
    await page.get_by_role("link", name="番町小学校").first.click()  # names stay as written
    await expect(page.get_by_role("heading", name="Status history")).to_be_visible()
    await ui.wait_live()  # the stream speaks English too
    await ui.mark()
    check_in(dashboard.hub, (seed_ids := dashboard.connector.store.query(
        "SELECT id FROM bosai_persons WHERE stay_type = 'home'"))[0][0], SITES[0].id)
    assert seed_ids
    await ui.expect_live("summary", "4")
    await expect(page.locator("#live-status")).to_contain_text("Updated")
    await page.get_by_role("link", name="日本語").click()
    await expect(page.locator("html")).to_have_attribute("lang", "ja")


async def test_keyboard_reaches_the_person_search_and_focus_is_visible(page, dashboard,
                                                                        tmp_path):
    seed(dashboard, tmp_path)
    ui = DashboardUi(page, dashboard)
    await ui.login(*BOTH)
    await page.keyboard.press("Tab")
    focused = page.locator(":focus")
    await expect(focused).to_have_text("本文へ移動")  # the skip link comes first
    assert await focused.evaluate("e => getComputedStyle(e).outlineStyle") != "none"
    for _ in range(10):
        await page.keyboard.press("Tab")
        if await page.locator(":focus").text_content() == "避難者の検索":
            break
    else:
        pytest.fail("Tab never reached the person search link")
    assert await page.locator(":focus").evaluate(
        "e => getComputedStyle(e).outlineStyle") != "none"
    await page.keyboard.press("Enter")
    await page.wait_for_url(dashboard.url + "search")
    await page.keyboard.press("Tab")  # skip link
    for _ in range(10):
        await page.keyboard.press("Tab")
        if await page.locator(":focus").get_attribute("id") == "q":
            break
    else:
        pytest.fail("Tab never reached the search field")
    await page.keyboard.type("ﾔﾏﾀﾞ")
    await page.keyboard.press("Enter")
    await expect(page.get_by_role("status")).to_have_text("検索結果: 1件")
    await expect(page.get_by_role("row", name="山田 花子")).to_contain_text("番町小学校")
    assert "ﾔﾏﾀﾞ" not in page.url and "q=" not in page.url  # POST: nothing in the URL


async def test_person_search_is_denied_without_its_scope(page, dashboard, tmp_path):
    seed(dashboard, tmp_path)
    ui = DashboardUi(page, dashboard)
    await ui.login(DASHBOARD)
    await expect(page.get_by_role("link", name="避難者の検索")).to_have_count(0)
    response = await page.goto(dashboard.url + "search")
    assert response.status == 403
    await expect(page.get_by_role("alert")).to_contain_text("bosai:person-search")
    await expect(page.get_by_role("searchbox")).to_have_count(0)


async def test_hostile_strings_show_as_text_and_run_nothing(page, dashboard, tmp_path):
    script, img, sql = HOSTILE
    hub = dashboard.hub
    site = Site("666", f"{script}小学校", 10)
    load_sites(hub, tmp_path, [site])
    load_status(hub, tmp_path, [{"shelter_id": site.id, "open": "開設", "needs": img,
                                 "timestamp": "2024/4/30 6:00"}])
    register(hub, person(sql, img, ("ヤマダ", "ハナコ"), "1960-01-01", stay="shelter",
                         shelter=site.id))
    hold_supply_request(dashboard.connector, hub, item=script, quantity=2, status="requested",
                        shelter_id=site.id, for_whom=sql)
    dialogs: list[str] = []
    page.on("dialog", lambda d: dialogs.append(d.message))
    ui = DashboardUi(page, dashboard)
    await ui.login(*BOTH)
    await expect(page.get_by_role("link", name=f"{script}小学校").first).to_be_visible()
    await ui.open(f"shelters/{site.id}")
    await expect(page.get_by_role("heading", level=1)).to_have_text(f"{script}小学校")
    await expect(page.locator('[data-live="needs"]')).to_have_text(img)
    await expect(page.locator('[data-live="supplies"]')).to_contain_text(sql)
    await ui.open("search")
    await page.get_by_label("氏名またはふりがな").fill("やまだ")
    await page.keyboard.press("Enter")
    await expect(page.get_by_role("row", name=f"{sql} {img}")).to_be_visible()
    assert await page.locator("img").count() == 0 and dialogs == []
    assert await page.evaluate("document.querySelectorAll('script').length") == 1


async def test_screenshots(page, dashboard, tmp_path):
    """Japanese screenshots of the overview and a shelter (copied into docs/screenshots/ when
    TSUNAGU_SCREENSHOTS=1, so that ordinary runs leave the work tree alone)."""
    await demo_data(dashboard, tmp_path)
    ui = DashboardUi(page, dashboard)
    await ui.login(*BOTH)
    await ui.wait_live()
    shots = {"dashboard.png": "", "shelter-detail.png": f"shelters/{SITES[0].id}"}
    for name, path in shots.items():
        await ui.open(path)
        await ui.wait_live()
        await page.screenshot(path=tmp_path / name, full_page=True)
        assert (tmp_path / name).stat().st_size > 20_000
    if os.environ.get("TSUNAGU_SCREENSHOTS"):
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        for name in shots:
            shutil.copyfile(tmp_path / name, SCREENSHOTS / name)


DEMO_AT = ((35.6886, 139.7355), (35.6950, 139.7480), (35.6990, 139.7430), (35.6935, 139.7680),
           (35.6925, 139.7595), (35.6840, 139.7380))  # where such buildings are in 千代田区


def demo_sites() -> list[Site]:
    """SITES and three more, placed across the ward as on a map (about 3 km by 1.7 km)."""
    sites = [*SITES, Site("004", "神田公園区民館", 60), Site("005", "一橋中学校", 120),
             Site("006", "麹町区民館", 80)]
    return [replace(site, at=at) for site, at in zip(sites, DEMO_AT, strict=True)]


async def demo_data(server, tmp_path) -> None:
    """Six shelters filling up over twelve simulated hours (the registry's clock moved)."""
    hub = server.hub
    sites = demo_sites()
    load_sites(hub, tmp_path, sites)
    load_status(hub, tmp_path, [
        {"shelter_id": s.id, "open": "閉鎖" if s.local_id == "003" else "開設",
         "count": str(n), "day_count": str(n), "night_count": str(n + 3),
         "timestamp": "2024/4/30 18:00", "needs": needs}
        for s, n, needs in zip(sites, (3, 12, 0, 20, 41, 9),
                               ("粉ミルク、毛布", "紙おむつ", "", "水", "アレルギー対応食", ""),
                               strict=True)])
    start = datetime.now(UTC) - timedelta(hours=12)
    clock = {"now": start}
    hub.registry.clock = lambda: clock["now"]
    families = [("山田", "ヤマダ"), ("佐藤", "サトウ"), ("鈴木", "スズキ"), ("田中", "タナカ"),
                ("伊藤", "イトウ"), ("渡辺", "ワタナベ"), ("中村", "ナカムラ")]
    givens = [("花子", "ハナコ"), ("一郎", "イチロウ"), ("陽菜", "ヒナ"), ("健", "ケン"),
              ("美咲", "ミサキ"), ("翔", "ショウ"), ("結衣", "ユイ")]
    stays = ["shelter"] * 5 + ["home", "vehicle", "relatives"]
    care = [(), (), ("elderly",), (), ("infant",), ("disabled",), (), ("pregnant",)]
    open_sites = [s for s in sites if s.local_id != "003"]
    for n in range(96):
        clock["now"] = start + timedelta(minutes=7 * n)
        family, given = families[n % 7], givens[(n // 7) % 7]
        stay = stays[n % len(stays)]
        target = open_sites[(n // len(stays) + n) % len(open_sites)]
        register(hub, person(family[0], f"{given[0]}{n}", (family[1], given[1]),
                             f"{1940 + n % 80}-{n % 12 + 1:02d}-{n % 27 + 1:02d}",
                             stay=stay, shelter=target.id if stay == "shelter" else None,
                             care=care[n % len(care)]))
    hub.registry.clock = lambda: datetime.now(UTC)
    for item, quantity, status, site in (("粉ミルク", 10, "requested", sites[0]),
                                         ("毛布", 30, "committed", sites[0]),
                                         ("紙おむつ", 50, "requested", sites[1]),
                                         ("アレルギー対応食", 20, "delivered", sites[4])):
        hold_supply_request(server.connector, hub, item=item, quantity=quantity,
                            status=status, shelter_id=site.id)


async def test_pages_load_with_no_console_error_and_no_missing_file(page, dashboard, tmp_path):
    """Every request a page makes is answered (no /favicon.ico 404 logged on each page)."""
    seed(dashboard, tmp_path)
    errors: list[str] = []
    missing: list[str] = []
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    page.on("response", lambda r: missing.append(r.url) if r.status >= 400 else None)
    ui = DashboardUi(page, dashboard)
    await page.goto(dashboard.url + "login")
    await ui.login(DASHBOARD)
    await expect(page.get_by_role("heading", level=1)).to_have_text("避難状況ダッシュボード")
    await page.goto(dashboard.url + "?lang=en")
    icon = await page.locator('link[rel="icon"]').get_attribute("href")
    response = await page.request.get(urljoin(page.url, icon))
    assert response.status == 200 and response.headers["content-type"].startswith("image/svg")
    assert missing == [] and errors == []
