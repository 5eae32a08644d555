"""axe-core on every page the bosai plug-in serves as HTML, in Japanese and in English.

``CHECKS`` is the list of page states the browser opens (each one a route and how to reach
it: a GET, or a form the browser fills in and submits, as staff do); axe-core (the copy
bundled with axe-playwright-python, run offline) must find nothing on any of them, of any
impact, and every page must declare the language it is in.

The pages are not listed by hand alone: ``test_every_html_route_is_axe_checked`` walks the
routes the connector's app really has under ``/domains/bosai/`` (the index, the catalog
page, the dashboard, and any page added later), asks each one for a response (GET,
and a same-origin POST of an empty form) and requires every route that answers with
``text/html`` to be in ``CHECKS``: a new page without an axe check fails that test.
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from aiohttp import web
from playwright.async_api import Page, expect

from domains.bosai.dashboard.auth import DASHBOARD, INQUIRY, PERSON_SEARCH
from tests.domains.bosai.browser.helpers import DashboardUi, axe
from tests.domains.bosai.browser.test_flows_browser import municipality
from tests.domains.bosai.dashboard_support import (
    SITES,
    DashboardServer,
    hold_supply_request,
    load_status,
    person,
)

PREFIX = "/domains/bosai/"
DASH = PREFIX + "dashboard/"
STAFF = (DASHBOARD, PERSON_SEARCH, INQUIRY)
# What a route's path parameters are filled with when the route test asks it for a page.
SAMPLES = {"id": SITES[0].id, "name": "dashboard.css", "type": "evacuee"}


@dataclass
class Browser:
    """One browser page against one connector, logging in and out as the checks need."""

    page: Page
    server: DashboardServer

    async def open(self, path: str, lang: str) -> Any:
        """``path`` (from the connector's root) in ``lang``; the dashboard remembers it for
        its forms."""
        joiner = "&" if "?" in path else "?"
        return await self.page.goto(f"{self.server.origin}{path}{joiner}lang={lang}")

    async def login(self, *scopes: str) -> None:
        """As staff do: the form, a pasted token, Enter (any previous session is gone)."""
        await self.page.context.clear_cookies()
        await DashboardUi(self.page, self.server).login(*scopes)

    async def submit(self, fields: dict[str, str]) -> None:
        """Fill the page's form by field id and submit it with Enter."""
        for field_id, value in fields.items():
            await self.page.locator(f"#{field_id}").fill(value)
        async with self.page.expect_navigation():
            await self.page.keyboard.press("Enter")


Go = Callable[[Browser, str], Awaitable[None]]


@dataclass(frozen=True)
class Check:
    name: str
    method: str
    route: str  # the route's canonical path, as aiohttp names it
    go: Go  # brings the browser to the page state, in the language given


CHECKS: list[Check] = []


def check(name: str, method: str, route: str) -> Callable[[Go], Go]:
    def add(go: Go) -> Go:
        CHECKS.append(Check(name, method, route, go))
        return go
    return add


# ---------------------------------------------------------------------------- public pages

@check("index", "GET", "/domains/bosai/")
async def _index(b: Browser, lang: str) -> None:
    await b.page.context.clear_cookies()
    await b.open(PREFIX, lang)
    # each description is followed by its other language, marked as such
    other = "en" if lang == "ja" else "ja"
    await expect(b.page.locator(f"main li span[lang={other}]")).to_have_count(7)


@check("catalog", "GET", "/domains/bosai/catalog")
async def _catalog(b: Browser, lang: str) -> None:
    await b.page.context.clear_cookies()
    await b.open(PREFIX + "catalog", lang)
    await b.page.locator("details summary").first.click()  # an offer's rules, opened
    # the city's titles are in Japanese only: on the English page they say so
    title = b.page.locator("section.dataset h2").first
    await expect(title).to_contain_text("千代田区")
    if lang == "en":
        await expect(title).to_have_attribute("lang", "ja")
    else:
        assert await title.get_attribute("lang") is None


@check("login", "GET", "/domains/bosai/dashboard/login")
async def _login(b: Browser, lang: str) -> None:
    await b.page.context.clear_cookies()
    await b.open(DASH + "login", lang)


@check("logged out", "GET", "/domains/bosai/dashboard/login")
async def _logged_out(b: Browser, lang: str) -> None:
    await b.login(DASHBOARD)
    await b.open(DASH, lang)
    async with b.page.expect_navigation():
        await b.page.locator("form.logout button").click()
    await expect(b.page.get_by_role("status")).to_be_visible()


@check("login refused", "POST", "/domains/bosai/dashboard/login")
async def _login_refused(b: Browser, lang: str) -> None:
    await _login(b, lang)
    await b.submit({"token": "tsu_wrong"})
    await expect(b.page.get_by_role("alert")).to_be_visible()


@check("staff login refused", "POST", "/domains/bosai/dashboard/login")
async def _staff_login_refused(b: Browser, lang: str) -> None:
    await _login(b, lang)
    await b.submit({"login": "hanako", "password": "not the password", "totp": "000000"})
    await expect(b.page.get_by_role("alert")).to_contain_text("staff.login_failed")


# ---------------------------------------------------------------------------- staff pages

@check("overview", "GET", "/domains/bosai/dashboard/")
async def _overview(b: Browser, lang: str) -> None:
    await b.login(*STAFF)
    await b.open(DASH, lang)
    await expect(b.page.locator("#live-status")).to_have_text(
        await b.page.locator("#live-status").get_attribute("data-on") or "")


@check("overview, chart as a table", "GET", "/domains/bosai/dashboard/")
async def _overview_table(b: Browser, lang: str) -> None:
    await _overview(b, lang)
    await b.page.locator("details summary").first.click()


@check("shelter", "GET", "/domains/bosai/dashboard/shelters/{id}")
async def _shelter(b: Browser, lang: str) -> None:
    await b.login(*STAFF)
    await b.open(f"{DASH}shelters/{SITES[0].id}", lang)
    await b.page.locator("details summary").first.click()


@check("shelter not found", "GET", "/domains/bosai/dashboard/shelters/{id}")
async def _no_shelter(b: Browser, lang: str) -> None:
    await b.login(*STAFF)
    assert (await b.open(f"{DASH}shelters/131016-999", lang)).status == 404


@check("search form", "GET", "/domains/bosai/dashboard/search")
async def _search_form(b: Browser, lang: str) -> None:
    await b.login(*STAFF)
    await b.open(DASH + "search", lang)


@check("search denied", "GET", "/domains/bosai/dashboard/search")
async def _search_denied(b: Browser, lang: str) -> None:
    await b.login(DASHBOARD)
    assert (await b.open(DASH + "search", lang)).status == 403


@check("search results", "POST", "/domains/bosai/dashboard/search")
async def _search_results(b: Browser, lang: str) -> None:
    await _search_form(b, lang)
    await b.submit({"q": "やまだ"})
    await expect(b.page.locator("#search-summary")).to_be_visible()


@check("search refused", "POST", "/domains/bosai/dashboard/search")
async def _search_refused(b: Browser, lang: str) -> None:
    await _search_form(b, lang)
    await b.submit({"q": "やまだ", "birth": "昭和99年"})
    await expect(b.page.get_by_role("alert")).to_be_visible()


@check("inquiry form", "GET", "/domains/bosai/dashboard/inquiry")
async def _inquiry_form(b: Browser, lang: str) -> None:
    await b.login(*STAFF)
    await b.open(DASH + "inquiry", lang)


@check("inquiry denied", "GET", "/domains/bosai/dashboard/inquiry")
async def _inquiry_denied(b: Browser, lang: str) -> None:
    await b.login(DASHBOARD)
    assert (await b.open(DASH + "inquiry", lang)).status == 403


@check("inquiry answered", "POST", "/domains/bosai/dashboard/inquiry")
async def _inquiry_answered(b: Browser, lang: str) -> None:
    await _inquiry_form(b, lang)
    await b.submit({"name": "やまだ　はなこ", "birth": "昭和25年4月1日"})
    await expect(b.page.locator("#inquiry-answer table")).to_be_visible()


@check("inquiry, nothing to tell", "POST", "/domains/bosai/dashboard/inquiry")
async def _inquiry_nothing(b: Browser, lang: str) -> None:
    await _inquiry_form(b, lang)
    await b.submit({"name": "髙橋一郎", "birth": "1985-07-12"})
    await expect(b.page.locator("#inquiry-answer")).to_be_visible()


@check("inquiry refused", "POST", "/domains/bosai/dashboard/inquiry")
async def _inquiry_refused(b: Browser, lang: str) -> None:
    await _inquiry_form(b, lang)
    await b.submit({"name": "やまだ", "birth": "2月30日"})
    await expect(b.page.get_by_role("alert")).to_be_visible()


# ---------------------------------------------------------------------------- the tests

async def city_with_people(start_bosai, tmp_path) -> Any:
    """A municipality (its datasets and offers: the catalog page has content), its shelters
    with reports (one closed), people staying in shelters, at home and in a car, care needs,
    supply requests; one person consented to disclosure, another did not."""
    city = await municipality(start_bosai, tmp_path)
    load_status(city.hub, tmp_path, [
        {"shelter_id": SITES[0].id, "open": "開設", "count": "2", "day_count": "1",
         "night_count": "2", "timestamp": "2024/4/30 12:00", "needs": "粉ミルク、毛布"},
        {"shelter_id": SITES[2].id, "open": "閉鎖", "timestamp": "2024/4/30 12:00"}])
    await city.hub.register({**person("山田", "花子", ("ヤマダ", "ハナコ"), "1950-04-01",
                                      stay="shelter", shelter=SITES[0].id,
                                      care=["elderly"]),
                             "consentToDisclose": True,
                             "disclosureScope": ["stay_type", "shelter", "address"]},
                            source="r:1")
    await city.hub.register(person("髙橋", "一郎", ("タカハシ", "イチロウ"), "1985-07-12",
                                   stay="shelter", shelter=SITES[0].id), source="r:2")
    await city.hub.register(person("鈴木", "健", ("スズキ", "ケン"), "1970-03-03",
                                   stay="vehicle", care=["disabled"]), source="r:3")
    await city.hub.register(person("田中", "美咲", ("タナカ", "ミサキ"), "1992-11-30",
                                   stay="home"), source="r:4")
    for item, status, site in (("粉ミルク", "requested", SITES[0]),
                               ("毛布", "committed", SITES[0]),
                               ("紙おむつ", "delivered", SITES[1])):
        hold_supply_request(city.connector, city.hub, item=item, quantity=10, status=status,
                            shelter_id=site.id)
    return city


async def test_axe_finds_nothing_on_any_page_in_either_language(page, start_bosai, tmp_path):
    city = await city_with_people(start_bosai, tmp_path)
    browser = Browser(page, city.api)
    found: dict[str, list[tuple[str, str, int]]] = {}
    langs: dict[str, str | None] = {}
    for lang in ("ja", "en"):
        for c in CHECKS:
            await c.go(browser, lang)
            name = f"{c.name} ({lang})"
            langs[name] = await page.locator("html").get_attribute("lang")
            violations = await axe(page)
            if violations:
                found[name] = [(v["id"], v["impact"], len(v["nodes"])) for v in violations]
    assert found == {}
    assert {name: got for name, got in langs.items() if got != name[-3:-1]} == {}


async def html_routes(server: DashboardServer) -> set[tuple[str, str]]:
    """(method, route) of every route under /domains/bosai/ that answers with a page, to a
    visitor or to staff: GETs with their parameters from ``SAMPLES``, POSTs with an empty
    form from this origin."""
    def walk(app: web.Application) -> list[web.AbstractRoute]:
        routes = []
        for resource in app.router.resources():
            sub = resource.get_info().get("app")
            if sub is not None:
                routes += walk(sub)
            else:
                routes += [r for r in resource if r.method in ("GET", "POST")]
        return routes

    found = set()
    for route in walk(server.server.app):
        template = route.resource.canonical
        if not template.startswith(PREFIX):
            continue
        path = re.sub(r"\{(\w+)\}", lambda m: SAMPLES[m.group(1)], template)
        for scopes in ((), STAFF):  # some pages are for visitors only (the login form)
            async with server.client() as http:
                if scopes:
                    await server.login(http, *scopes)
                if route.method == "GET":
                    response = await http.get(server.origin + path, allow_redirects=False)
                else:
                    response = await http.post(server.origin + path, data={},
                                               headers={"Origin": server.origin},
                                               allow_redirects=False)
                async with response:
                    if response.content_type == "text/html":
                        found.add((route.method, template))
    return found


async def test_every_html_route_is_axe_checked(start_bosai, tmp_path):
    city = await city_with_people(start_bosai, tmp_path)
    checked = {(c.method, c.route) for c in CHECKS}
    routes = await html_routes(city.api)
    assert routes == checked
    assert len(routes) >= 9  # index, catalog, login (2), overview, shelter, search (2), ...
