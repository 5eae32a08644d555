"""The catalog page: ``/catalog/`` on the app API's port when the connector runs a catalog
node (``[catalog_node] enabled = true``)::

    GET  /                    search, facets with counts, hits with each offer explained
                              (?q= &purpose= &mine=1 &publisher= ... &cursor= &lang=en)
    POST /negotiate           one click: a negotiation for an offer (staff, contracts:write)
    GET  /negotiations/{pid}  its state
    GET|POST /login, POST /logout, GET /static/catalog.css

Listing is public, like the DSP catalogs it is made of (datasets and terms, never records).
Starting a negotiation needs a signed-in staff person (password + TOTP, the connector's
staff accounts) or a bearer token with ``contracts:write``; the session is a cookie
holding the staff session secret (HttpOnly, SameSite=Strict, this page's path; no table of
its own) and every POST must come from this origin
(``connector.web.sessions.same_origin``), as on the other pages. The negotiation is the
connector's own (``NegotiationService.start``: the provider's offer is fetched and checked
again, nothing from the page is trusted) and is audited with the person who asked.
Same standards as the bosai dashboard: a strict CSP with no script at all, styles from this
origin, Japanese first.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import quote

from aiohttp import web

from catalog.service import page_json
from connector.api.staff.accounts import StaffError
from connector.api.staff.service import StaffAuth
from connector.api.staff.sessions import PREFIX as STAFF_PREFIX
from connector.api.tokens import TokenInfo, TokenStore
from connector.catalog_node import page as views
from connector.catalog_node.query import MAX_VALUE, parse_search
from connector.web.headers import add_headers
from connector.web.sessions import bearer_reader, same_origin, set_cookie
from trust.errors import TsunaguError, ValidationError

SCOPE = "contracts:write"  # what starting a negotiation needs, as on the app API
COOKIE = "tsunagu_catalog_session"
STATIC = Path(__file__).with_name("static")
CONNECTOR = web.AppKey("catalog_page.connector", Any)
STAFF = web.AppKey("catalog_page.staff", dict)
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def _auth(request: web.Request) -> tuple[StaffAuth, TokenStore]:
    """The connector's staff service and tokens, one per store (a restarted connector has a
    new one)."""
    connector, held = request.app[CONNECTOR], request.app[STAFF]
    key = id(connector.store)
    if key not in held:
        held.clear()
        held[key] = (StaffAuth.of(connector), TokenStore(connector.store))
    return held[key]


def _staff(request: web.Request) -> TokenInfo | None:
    """The person (cookie: their staff session) or app (bearer token) behind a request,
    if they may start negotiations; None otherwise."""
    staff, tokens = _auth(request)
    header = request.headers.get("Authorization", "")
    if header[:7].lower() == "bearer ":
        info = bearer_reader(header[7:].strip(), tokens, staff)
    else:
        secret = request.cookies.get(COOKIE) or ""
        info = staff.sessions.resolve(secret) if secret.startswith(STAFF_PREFIX) else None
    return info if info is not None and info.allows(SCOPE) else None


def _base(request: web.Request) -> str:
    return str(request.app.router["home"].url_for())


def _page(request: web.Request, staff: TokenInfo | None) -> views.Page:
    lang: views.Lang = "en" if request.query.get("lang") == "en" else "ja"
    params = tuple((k, v[:MAX_VALUE * 8]) for k, v in request.query.items())[:200]
    person = None
    if staff is not None:
        person = staff.person.name if staff.person is not None else staff.id
    return views.Page(lang=lang, base=_base(request), path=request.path, params=params,
                      person=person, can_negotiate=staff is not None)


def _html(text: str, status: int = 200) -> web.Response:
    return web.Response(text=text, status=status, content_type="text/html", charset="utf-8",
                        headers={"Cache-Control": "no-store"})


def _redirect(location: str) -> web.Response:
    return web.Response(status=303, headers={"Location": location})


def _asker_defaults(connector: Any, node: Any) -> dict[str, Any]:
    """``mine=1``: the offers are evaluated for this participant, with its roles from the
    verified registry (what the provider will see in its credential)."""
    roles: tuple[str, ...] = ()
    if node.registry is not None:
        roles = next((p.roles for p in node.registry.participants if p.did == connector.did),
                     ())
    return {"roles": roles, "did": connector.did}


async def home(request: web.Request) -> web.Response:
    connector = request.app[CONNECTOR]
    page = _page(request, _staff(request))
    node = connector.catalog_node.node
    if node is None:
        return _html(views.listing_page(page, views.Listing(notice=views.notice(
            page.lang, "no_node"))), 503)
    query = request.query.copy()
    query.setdefault("facets", "true")
    query.popall("lang", None)
    mine = query.popall("mine", [])
    try:
        search = parse_search(query, asker_defaults=_asker_defaults(connector, node)
                              if "1" in mine else None)
        found = page_json(search.run(node.catalog))
    except ValidationError as exc:
        notice = views.notice(page.lang, "bad_input", field=exc.details.get("field", "?"))
        return _html(views.listing_page(page, views.Listing(notice=notice)), 400)
    names = {p["id"]: p["name"] for p in node.catalog.index.participants()}
    return _html(views.listing_page(page, views.Listing(
        hits=found["dataset"], total=found["tsunagu:total"],
        next_cursor=found["tsunagu:nextCursor"], facets=found.get("tsunagu:facets", {}),
        names=names)))


def _field(form: Any, name: str, required: bool = True) -> str:
    value = str(form.get(name, "")).strip()
    if (required and not value) or len(value) > 2000:
        raise ValidationError(f"'{name}' is missing or too long", field=name)
    return value


async def negotiate(request: web.Request) -> web.Response:
    if not same_origin(request):
        raise web.HTTPForbidden(text="cross-site request refused")
    staff = _staff(request)
    page = _page(request, staff)
    if staff is None:
        return _redirect(page.href("login"))
    connector = request.app[CONNECTOR]
    form = await request.post()
    try:
        provider, dataset, offer = (_field(form, n) for n in ("provider", "dataset", "offer"))
        purpose = _field(form, "purpose", required=False) or None
        started = await connector.negotiations.start(provider, dataset, offer, purpose=purpose)
    except TsunaguError as exc:
        message = views.notice(page.lang, "refused", detail=exc.message)
        return _html(views.negotiation_page(page, None, message), 400)
    with connector.store.transaction():  # who asked, from which page
        connector.audit.append("catalog.negotiation_requested", datetime.now(UTC),
                               **staff.audit_fields(), negotiation=started["pid"],
                               provider=provider, dataset=dataset, offer=offer)
    return _redirect(page.href("negotiations/" + quote(started["pid"], safe="")))


async def negotiation(request: web.Request) -> web.Response:
    staff = _staff(request)
    page = _page(request, staff)
    if staff is None:
        return _redirect(page.href("login"))
    view = request.app[CONNECTOR].negotiations.get(request.match_info["pid"])
    return _html(views.negotiation_page(page, view), 200 if view else 404)


async def login_form(request: web.Request) -> web.Response:
    if _staff(request) is not None:
        return _redirect(_page(request, None).href())
    page = _page(request, None)
    return _html(views.login_page(page, "logged_out" if request.query.get("bye") else None))


async def login(request: web.Request) -> web.Response:
    if not same_origin(request):
        raise web.HTTPForbidden(text="cross-site request refused")
    page = _page(request, None)
    form = await request.post()
    name = str(form.get("login", "")).strip()[:64]
    staff = _auth(request)[0]
    try:
        person = staff.login_password(name, str(form.get("password", "")),
                                      str(form.get("totp", "")))
    except StaffError:
        return _html(views.login_page(page, "login_failed", name), 401)
    if not person.account.scopes & {SCOPE, "admin"}:
        staff.sessions.logout(person.secret)
        return _html(views.login_page(page, "login_scope", name), 403)
    response = _redirect(page.href())
    set_cookie(response, request, COOKIE, person.secret, page.base,
               int((person.expires - datetime.now(UTC)).total_seconds()))
    return response


async def logout(request: web.Request) -> web.Response:
    if not same_origin(request):
        raise web.HTTPForbidden(text="cross-site request refused")
    secret = request.cookies.get(COOKIE) or ""
    if secret.startswith(STAFF_PREFIX):
        _auth(request)[0].sessions.logout(secret)
    page = _page(request, None)
    response = _redirect(page.href("login", [("bye", "1")]))
    response.del_cookie(COOKIE, path=page.base)
    return response


def _stylesheet() -> Handler:
    body = (STATIC / "catalog.css").read_bytes()

    async def stylesheet(_: web.Request) -> web.Response:
        return web.Response(body=body, content_type="text/css", charset="utf-8",
                            headers={"Cache-Control": "no-cache"})
    return stylesheet


def catalog_page_app(connector: Any) -> web.Application:
    app = web.Application()
    app[CONNECTOR] = connector
    app[STAFF] = {}
    app.on_response_prepare.append(add_headers())
    app.router.add_get("/", home, name="home")
    app.router.add_post("/negotiate", negotiate)
    app.router.add_get("/negotiations/{pid}", negotiation)
    app.router.add_get("/login", login_form)
    app.router.add_post("/login", login)
    app.router.add_post("/logout", logout)
    app.router.add_get("/static/catalog.css", _stylesheet())
    return app
