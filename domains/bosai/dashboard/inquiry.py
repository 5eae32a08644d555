"""The safety inquiry page (安否確認) for staff answering families' calls.

``GET/POST /domains/bosai/dashboard/inquiry`` for staff whose token has ``bosai:inquiry``
(besides ``bosai:dashboard``). The question is a POST (no name in a URL or a log); the answer
comes from ``Registry.inquire``: consenting people only, with only the items they consented
to, and one "no information" message for unknown and non-consenting people alike. Every
inquiry is audited by the registry (who asked: the person's staff account, or the token's
id; never the query).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from aiohttp import web

from connector.api.tokens import TokenInfo
from connector.web.markup import Markup, el, join
from domains.bosai import vocab
from domains.bosai.dashboard import views
from domains.bosai.dashboard.auth import INQUIRY, same_origin
from domains.bosai.dashboard.i18n import Lang, label, t
from domains.bosai.registry.errors import RegistryInputError
from domains.bosai.registry.inquiry import InquiryAnswer

MAX_NAME = 100


def inquiry_page(page: views.Page, *, name: str = "", birth: str = "",
                 answer: InquiryAnswer | None = None, error: str | None = None,
                 shelters: dict[str, str] | None = None) -> str:
    lang = page.lang
    form = el("form", {"method": "post", "action": page.url("inquiry"), "class": "search"},
              el("div", {"class": "field"},
                 el("label", {"for": "name"}, t(lang, "search_name")),
                 el("input", {"id": "name", "name": "name", "type": "text", "value": name,
                              "required": True, "maxlength": MAX_NAME, "autocomplete": "off",
                              "aria-invalid": "true" if error else None})),
              el("div", {"class": "field"},
                 el("label", {"for": "birth"}, t(lang, "inquiry_birth")),
                 el("input", {"id": "birth", "name": "birth", "type": "text", "value": birth,
                              "required": True, "maxlength": 40, "autocomplete": "off",
                              "aria-describedby": "birth-hint",
                              "aria-invalid": "true" if error else None}),
                 el("p", {"id": "birth-hint", "class": "hint"}, t(lang, "search_birth_hint"))),
              el("button", {"type": "submit"}, t(lang, "inquiry_submit")))
    parts: list[Markup | None] = [el("p", None, t(lang, "inquiry_intro")), form]
    if error:
        parts.append(el("p", {"role": "alert", "class": "error"}, t(lang, error)))
    elif answer is not None:
        parts.append(_answer(answer, lang, shelters or {}))
    return views.layout(page, t(lang, "inquiry"), join(parts), current="inquiry")


def _answer(answer: InquiryAnswer, lang: Lang, shelters: dict[str, str]) -> Markup:
    if not answer.people:
        return el("p", {"role": "status", "class": "empty", "id": "inquiry-answer"},
                  answer.message(lang))
    blocks = []
    for n, shown in enumerate(answer.people, 1):
        rows: list[tuple[str, str]] = [(t(lang, "accounted_for"), t(lang, "accounted_for_yes"))]
        if "stayType" in shown:
            rows.append((t(lang, "stay_type"), label(lang, vocab.STAY_TYPES, shown["stayType"])))
        if "shelterId" in shown:
            rows.append((t(lang, "shelter"), shelters.get(shown["shelterId"],
                                                          shown["shelterId"])))
        if "address" in shown:
            rows.append((t(lang, "home_address"), shown["address"]))
        if "contact" in shown:
            rows.append((t(lang, "contact"), " / ".join(shown["contact"].values())))
        blocks.append(el("table", None,
                         el("caption", None, f"{t(lang, 'inquiry_found')} ({n})"),
                         el("tbody", None, *(el("tr", None, el("th", {"scope": "row"}, k),
                                                el("td", None, v)) for k, v in rows))))
    return el("div", {"role": "status", "id": "inquiry-answer"}, *blocks)


def _shelter_names(hub: Any) -> dict[str, str]:
    names = {s["id"]: s["name"] for s in hub.sites.sites() if s.get("name")}
    names.update((s["shelterId"], s["name"]) for s in hub.sites.current_status()
                  if s.get("name"))
    return names


def add_inquiry(app: web.Application, *, page_for: Any, html: Any, staff_page: Any,
                hub_of: Callable[[web.Request], Any]) -> None:
    """The two routes, with the dashboard's own page, response, login and hub helpers."""

    def denied(request: web.Request, staff: TokenInfo) -> web.Response | None:
        if staff.allows(INQUIRY):
            return None
        return html(request, views.message_page(page_for(request, staff), "inquiry",
                                                "inquiry_denied"), 403)

    @staff_page
    async def form(request: web.Request, staff: TokenInfo) -> web.Response:
        return denied(request, staff) or html(request, inquiry_page(page_for(request, staff)))

    @staff_page
    async def answer(request: web.Request, staff: TokenInfo) -> web.Response:
        refused = denied(request, staff)
        if refused is not None:
            return refused
        if not same_origin(request):
            raise web.HTTPForbidden(text="cross-site request refused")
        page = page_for(request, staff)
        data = await request.post()
        name = str(data.get("name", "")).strip()[:MAX_NAME]
        birth = str(data.get("birth", "")).strip()[:40]
        if not name or not birth:
            return html(request, inquiry_page(page, name=name, birth=birth,
                                              error="inquiry_bad"), 400)
        hub = hub_of(request)
        try:
            result = hub.registry.inquire(name, birth, asked_by=staff.actor)
        except RegistryInputError:
            return html(request, inquiry_page(page, name=name, birth=birth,
                                              error="search_bad_birth"), 400)
        return html(request, inquiry_page(page, name=name, birth=birth, answer=result,
                                          shelters=_shelter_names(hub)))

    app.router.add_get("/inquiry", form)
    app.router.add_post("/inquiry", answer)
