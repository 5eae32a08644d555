"""The supply-chain view mounted on real connectors (``tsunagu demo steel``, run once) in
Debian's Chromium: a coil centre's staff log in with the token the demo printed, search the
heat number, see the strips and lengths with where each is now, open the delivered length,
switch language and log out; axe-core finds nothing serious in either language, on the
login page nor on the tree. The login page's screenshot is docs/images/steel-chain-login.png
(deterministic: it shows no data)."""

from __future__ import annotations

import re

from playwright.async_api import expect

from domains.steel.demo import mill_sheet
from domains.steel.demo.scenario import BUILDER, DELIVERED, LENGTHS, STRIPS
from tests.domains.steel.browser.test_chain_view_browser import IMAGES, no_serious
from tests.domains.steel.demo_support import serving_demo


async def test_log_in_search_open_and_log_out_on_a_real_connector(tmp_path, page):
    said: list[str] = []
    async with serving_demo(tmp_path, said):
        out = "\n".join(said)
        url = re.findall(r"画面: (http\S+)", out)[0]  # the coil centre's view
        token = re.findall(r"Bearer\): (tsu_\S+)", out)[0]
        base = url.split("?")[0]

        await page.goto(url)  # no session: the login form
        await expect(page).to_have_url(base + "login")
        await no_serious(page)
        await page.screenshot(path=str(IMAGES / "steel-chain-login.png"), full_page=True)
        field = page.get_by_label("アクセストークン (steel:chain)")
        await field.fill("tsu_not-a-token")
        await field.press("Enter")
        await expect(page.get_by_role("status")).to_contain_text("トークンが無効")
        await page.get_by_label("アクセストークン (steel:chain)").fill(token)
        await page.get_by_label("アクセストークン (steel:chain)").press("Enter")
        await expect(page).to_have_url(base)

        search = page.get_by_label("溶鋼番号または証明書番号")
        await search.fill(mill_sheet.HEAT)
        await search.press("Enter")
        for piece in (*STRIPS, *LENGTHS):
            await expect(page.locator(f'[data-piece="{piece}"]')).to_be_visible()
        await expect(page.locator(f'[data-piece="{DELIVERED}"]')).to_contain_text(BUILDER.name)
        await expect(page.locator('[data-verified="false"]')).to_have_count(0)
        await no_serious(page)

        await page.get_by_role("link", name="English").click()
        await expect(page.locator("html")).to_have_attribute("lang", "en")
        await expect(page.get_by_role("heading", name="Derived pieces and where each is now")
                     ).to_be_visible()
        await no_serious(page)
        await page.get_by_role("link", name=DELIVERED, exact=True).click()
        await expect(page.locator("h1")).to_have_text(DELIVERED)
        await expect(page.locator(".banner")).to_contain_text("Verified")
        await no_serious(page)

        await page.get_by_role("button", name="Log out").click()
        await expect(page.get_by_role("status")).to_contain_text("logged out")
        await page.goto(url)
        await expect(page).to_have_url(base + "login")
