"""The municipality sign-in as a person does it, in Debian's chromium (Playwright): the
dashboard's button, the provider's own login page, back through the callback's short
continue page to the dashboard, whose SameSite=Strict session cookie then holds; axe-core
finds nothing on the pages the flow adds (the login page with the button, the continue
page, a refusal)."""

from __future__ import annotations

from playwright.async_api import expect

from tests.domains.bosai.browser.helpers import axe
from tests.staff.test_staff_oidc import link


async def sign_in_at_provider(page, issuer: str, subject: str,
                              button: str = "統合認証でサインイン") -> None:
    await page.get_by_role("link", name=button).click()
    await page.wait_for_url(issuer + "/**")  # the provider's own login page
    await page.locator('input[name="login"]').fill(subject)
    await page.locator('input[name="password"]').fill("the provider's business")
    await page.locator('button[type="submit"]').click()


async def test_a_person_signs_in_through_the_provider_in_a_browser(oidc_setup, page):
    setup, d = oidc_setup, oidc_setup.dashboard
    account = link(setup, "hanako-at-city")
    await page.goto(d.url)
    assert page.url == d.url + "login"
    assert await axe(page) == []  # the login page with the municipality button
    await sign_in_at_provider(page, setup.provider.issuer, "hanako-at-city")
    await page.wait_for_url(d.url)  # via the continue page's refresh
    await expect(page.get_by_role("heading", level=1)).to_have_text("避難状況ダッシュボード")
    cookies = {c["name"]: c for c in await page.context.cookies()}
    assert cookies["tsunagu_bosai_session"]["sameSite"] == "Strict"
    assert "tsunagu_bosai_oidc" not in cookies  # the state cookie is gone once used
    (login,) = d.connector.audit.entries("staff.login")
    assert (login["staff"], login["staff_name"]) == (account.id, "山田 花子")


async def test_the_pages_of_a_refused_sign_in_are_accessible(oidc_setup, page):
    setup, d = oidc_setup, oidc_setup.dashboard
    link(setup, "hanako-at-city")
    await page.goto(d.url + "login")
    await sign_in_at_provider(page, setup.provider.issuer, "mallory")  # nobody linked this subject
    await expect(page.get_by_role("alert")).to_contain_text("oidc.not_linked")
    assert await axe(page) == []
    await page.goto(d.url + "login?lang=en")
    await expect(page.get_by_role("link", name="Sign in with the municipality account")
                 ).to_be_visible()
    assert await axe(page) == []
