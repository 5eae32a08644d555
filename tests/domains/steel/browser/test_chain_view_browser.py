"""The supply-chain view in Debian's Chromium (Playwright): axe-core with nothing serious or
critical in Japanese and English, a search and a piece opened by keyboard alone, and the
screenshots of docs/steel.md (docs/images/steel-chain-ja.png, -en.png)."""

from __future__ import annotations

from pathlib import Path

from playwright.async_api import Page, expect

from tests.domains.bosai.browser.helpers import axe
from tests.domains.steel import provenance_samples as samples

IMAGES = Path(__file__).resolve().parents[4] / "docs" / "images"


async def no_serious(page: Page) -> None:
    found = [(v["id"], v["impact"], [n["target"] for n in v["nodes"]][:3])
             for v in await axe(page) if v["impact"] in ("serious", "critical")]
    assert not found, found


async def test_the_tree_is_accessible_in_both_languages(chain_view, page):
    await page.goto(chain_view.url(path=f"?q={samples.HEAT}"))
    await expect(page.locator(f'[data-piece="{samples.PIECE}"]')).to_contain_text(
        samples.BUILDER)
    await no_serious(page)
    await page.screenshot(path=str(IMAGES / "steel-chain-ja.png"), full_page=True)
    await page.get_by_role("link", name="English").click()
    await expect(page.locator("html")).to_have_attribute("lang", "en")
    await expect(page.get_by_role("heading", name="Derived pieces and where each is now")
                 ).to_be_visible()
    await no_serious(page)
    await page.screenshot(path=str(IMAGES / "steel-chain-en.png"), full_page=True)


async def test_pieces_failures_and_flags_are_accessible(chain_view, page):
    for mount, path in (("chain", f"pieces/{samples.PIECE}"),
                        ("failing", f"?q={samples.HEAT}"),
                        ("flagged", f"pieces/{samples.PIECE}?lang=en"),
                        ("chain", "")):
        await page.goto(chain_view.url(mount, path))
        await no_serious(page)


async def test_search_and_open_a_piece_by_keyboard_alone(chain_view, page):
    await page.goto(chain_view.url())
    await page.keyboard.press("Tab")
    await expect(page.locator("a.skip")).to_be_focused()
    await page.keyboard.press("Enter")
    await page.keyboard.press("Tab")  # from main: the search field
    await expect(page.get_by_label("溶鋼番号または証明書番号")).to_be_focused()
    await page.keyboard.type(samples.CERT_NUMBER)
    await page.keyboard.press("Enter")
    await expect(page.get_by_role("heading", name="派生した鋼材と現在の保有者")).to_be_visible()
    link = page.get_by_role("link", name=samples.PIECE, exact=True)
    for _ in range(40):  # Tab through the tree until the delivered piece's link
        await page.keyboard.press("Tab")
        if await link.evaluate("e => e === document.activeElement"):
            break
    await expect(link).to_be_focused()
    await page.keyboard.press("Enter")
    await expect(page.locator("h1")).to_have_text(samples.PIECE)
    await expect(page.locator(".banner")).to_contain_text("検証済み")


async def test_the_package_page_is_accessible_and_printable(tmp_path, page):
    from datetime import datetime, timedelta, timezone

    from domains.steel.package import export

    # A fixed export time: the screenshot changes only when the page does.
    at = datetime(2026, 6, 3, 10, 0, tzinfo=timezone(timedelta(hours=9)))
    done = export.build(samples.flagged(), base_url="https://hub.example.jp/steel/chain",
                        with_pdf=False, exported_at=at)
    file = tmp_path / "package.html"
    file.write_text(done.html, encoding="utf-8")
    await page.goto(file.as_uri())
    await expect(page.locator("[data-verified]")).to_contain_text("検証済み")
    await expect(page.locator(".banner.flag")).to_be_visible()
    await no_serious(page)
    await page.set_viewport_size({"width": 900, "height": 1200})
    await page.screenshot(path=str(IMAGES / "steel-package-ja.png"), full_page=True)
