"""The catalog page in Debian's Chromium (Playwright), on a connector running a catalog node
over real connectors on a real nats-server: the listing with facet counts and each offer
explained in Japanese and English, axe-core finding nothing in either language, the
listing and its pages by cursor without JavaScript, keyboard use, and one click by a
signed-in staff person starting a negotiation that reaches FINALIZED. Its Japanese
screenshot is docs/images/catalog-ja.png."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import parse_qs, urlparse

import aiohttp
import pytest
from aiohttp.test_utils import TestServer
from playwright.async_api import Page, expect

from connector.api.app import make_app
from connector.api.staff import totp
from connector.api.staff.service import StaffAuth
from connector.runtime.connector import Connector
from tests.connector.catalog_node_support import FOR_OPERATORS, OPEN, node_config, until
from tests.domains.bosai.browser.helpers import axe

IMAGES = Path(__file__).resolve().parents[3] / "docs" / "images"
PASSWORD = "correct horse battery staple 2026"
SUPPORT = "urn:tsunagu:test:dataset:support"


@dataclass
class Served:
    url: str  # the catalog page, ending in /
    connector: Connector
    totp_secret: str


@pytest.fixture
async def served(tmp_path, authority, nats_server, start_connector, provider,
                 registry_url) -> AsyncIterator[Served]:
    await provider.datasets.offer_dataset(SUPPORT, "避難行動要支援者名簿", [FOR_OPERATORS],
                                          description="支援が必要な方の名簿 (people needing "
                                          "help to evacuate)", keywords=["避難", "bosai"])
    await provider.datasets.offer_dataset("urn:tsunagu:test:dataset:roads", "道路規制情報",
                                          [OPEN], keywords=["道路"])
    node = await start_connector(node_config(tmp_path, authority, nats_server,
                                             registry_url=registry_url))
    await until(lambda: node.catalog_node.rounds >= 1)
    made = StaffAuth.of(node).accounts.add("hanako", "佐藤 花子", scopes=["contracts:write"],
                                           password=PASSWORD)
    secret = parse_qs(urlparse(made.totp_uri).query)["secret"][0]
    server = TestServer(make_app(node), host="127.0.0.1", port=0)
    await server.start_server()
    try:
        yield Served(str(server.make_url("/catalog/")), node, secret)
    finally:
        await server.close()


async def axe_clean(page: Page) -> None:
    """axe-core finds nothing at all (not only nothing serious, as the dashboards' tests)."""
    found = [(v["id"], v["impact"], [n["target"] for n in v["nodes"]][:3])
             for v in await axe(page)]
    assert not found, found


async def test_listing_facets_explanations_both_languages_and_axe(served, page):
    await page.goto(served.url)
    await expect(page.get_by_role("status").first).to_have_text("3 件")
    hit = page.locator(f'article[data-dataset="{SUPPORT}"]')
    await expect(hit.get_by_role("heading", name="避難行動要支援者名簿")).to_be_visible()
    await expect(hit.locator("ul.explained")).to_contain_text("shelter_operator")
    # facets with counts over every match
    await expect(page.get_by_role("group", name="提供者", exact=True)).to_contain_text("仙台市 (3)")
    await expect(page.get_by_role("group", name="キーワード", exact=True)
                 ).to_contain_text("bosai (2)")
    await axe_clean(page)
    await page.screenshot(path=str(IMAGES / "catalog-ja.png"), full_page=True)

    # text by reading, and what this participant could get for a purpose
    await page.get_by_label("キーワード", exact=True).fill("ひなん")
    await page.get_by_label("利用目的（例：disaster_response）").fill("disaster_response")
    await page.get_by_label("この参加者が利用できる提供条件だけ").check()
    await page.get_by_role("button", name="検索", exact=True).click()
    await expect(page.locator("article.hit")).to_have_count(2)
    await expect(hit.locator('[data-outcome="permit"]')).to_have_text("利用できます")
    shelters = page.locator('article[data-dataset="urn:tsunagu:test:dataset:shelters"]')
    await expect(shelters.locator('[data-outcome="conditional"]')).to_be_visible()
    await expect(shelters.locator(".conditions")).to_contain_text("2030-12-31")
    # a facet box narrows the search (checkbox, then the Apply button)
    await page.get_by_role("checkbox", name="避難 (1)", exact=True).check()
    await page.get_by_role("button", name="絞り込む").click()
    await expect(page.locator("article.hit")).to_have_count(1)
    await axe_clean(page)

    await page.get_by_role("link", name="English").click()
    await expect(page.locator("html")).to_have_attribute("lang", "en")
    await expect(page.get_by_role("status").first).to_have_text("1 found")
    await expect(hit.locator('[data-outcome="permit"]')).to_have_text("Permitted")
    await expect(hit.locator("ul.explained")).to_contain_text("may use")
    await expect(hit.get_by_role("heading", level=3)).to_have_attribute("lang", "ja")
    await axe_clean(page)


async def test_without_javascript_pages_by_cursor_and_bad_input_is_a_page(served, browser):
    context = await browser.new_context(locale="ja-JP", java_script_enabled=False)
    page = await context.new_page()
    try:
        seen = []
        await page.goto(served.url + "?limit=1")
        for _ in range(3):
            seen.append(await page.locator("article.hit").get_attribute("data-dataset"))
            following = page.get_by_role("link", name="次のページ")
            if await following.count() == 0:
                break
            await following.click()
        assert len(set(seen)) == 3
        await expect(page.get_by_role("link", name="最初のページ")).to_be_visible()
        response = await page.goto(served.url + "?q=%22NEAR((&cursor=bogus")
        assert response is not None and response.status == 400
        await expect(page.get_by_role("alert")).to_contain_text("cursor")
        response = await page.goto(served.url + "?q=" + "避難%00所" * 200)  # 2,000 characters
        assert response is not None and response.status == 200
    finally:
        await context.close()


async def test_keyboard_login_and_one_click_negotiation(served, page):
    await page.goto(served.url)
    await page.keyboard.press("Tab")
    await expect(page.get_by_role("link", name="本文へ移動")).to_be_focused()
    assert await page.get_by_role("button", name="この条件で合意を申し込む").count() == 0
    await page.get_by_role("link", name="ログイン").first.click()
    await page.get_by_label("ログイン名").fill("hanako")
    await page.get_by_label("パスワード").fill(PASSWORD)
    await page.get_by_label("確認コード（6桁）").fill(totp.code_at(served.totp_secret,
                                                            datetime.now(UTC)))
    await page.keyboard.press("Enter")
    await expect(page.get_by_text("ログイン中：佐藤 花子")).to_be_visible()
    await axe_clean(page)

    offer = page.locator(f'article[data-dataset="{SUPPORT}"]').get_by_role(
        "button", name="この条件で合意を申し込む")
    await offer.focus()
    await page.keyboard.press("Enter")  # one click (here: one key)
    await expect(page.get_by_role("heading", level=1)).to_have_text("合意の申し込み")
    for _ in range(100):
        if await page.locator('[data-state="FINALIZED"]').count():
            break
        await page.get_by_role("link", name="最新の状態を表示").click()
    await expect(page.locator('[data-state="FINALIZED"]')).to_have_text("合意成立")
    await axe_clean(page)
    agreements = served.connector.agreements.summaries()
    assert [a["dataset"] for a in agreements] == [SUPPORT]
    lines = [r[0] for r in served.connector.store.query("SELECT line FROM audit")]
    assert any("catalog.negotiation_requested" in line and "stf_" in line for line in lines)

    # a form posted from another site is refused, even with the session cookie
    cookies = {c["name"]: c["value"] for c in await page.context.cookies()}
    async with aiohttp.ClientSession(cookies=cookies) as http:
        async with http.post(served.url + "negotiate", data={
                "provider": "x", "dataset": SUPPORT, "offer": "y"},
                headers={"Origin": "https://evil.example"}) as resp:
            assert resp.status == 403

    await page.get_by_role("button", name="ログアウト").click()
    await expect(page.get_by_role("status")).to_have_text("ログアウトしました。")
