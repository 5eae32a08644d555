"""The supply-chain view as an aiohttp sub-application (mount it where the connector serves
pages, e.g. ``/domains/steel/chain/``)::

    GET /                 search (?q= heat number or certificate number) and the tree
    GET /pieces/{id}      one piece's chain, checks and grade results (the page the
                          provenance package's QR code opens, with ``--url BASE``)
    GET /static/steel.css
    GET|POST /login, POST /logout   (mounted on a connector: ``mounted``)

Data comes only from a ``ProvenanceFinder`` (domains.steel.view.tree). Given ``sessions``
(``connector.web.sessions.ViewSessions`` of the ``steel:chain`` scope), every page needs a
reader: a bearer token, or a browser session made from a token pasted into the login form
(a browser without one is sent there, a script gets 401). Same standards as
the bosai and pmh views: a strict CSP (no script at all, styles from this origin), no CDN,
Japanese first with ``?lang=en``.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from pathlib import Path

from aiohttp import web

from connector.api.tokens import AuthError, ScopeError
from connector.errors import ConnectorCode
from connector.web.headers import add_headers
from connector.web.sessions import ViewSessions, same_origin, set_cookie
from domains.steel.labels import pick
from domains.steel.view import pages
from domains.steel.view.tree import ProvenanceFinder, build_tree
from trust.errors import TsunaguError

STATIC = Path(__file__).with_name("static")
FINDER = web.AppKey("steel.finder", ProvenanceFinder)
CSS = web.AppKey("steel.css", bytes)
SESSIONS = web.AppKey("steel.sessions", Callable[[], ViewSessions])
COOKIE = "tsunagu_steel_chain"
MAX_QUERY = 200
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def _base(request: web.Request) -> str:
    return str(request.app.router["home"].url_for())


def _guarded(request: web.Request) -> bool:
    return request.app.get(SESSIONS) is not None


def _signed_in(request: web.Request) -> bool:
    return request.app[SESSIONS]().from_request(request, COOKIE) is not None


def _page(request: web.Request) -> pages.Page:
    return pages.Page(lang=pick(request.query.get("lang")), base=_base(request),
                      path=request.path, query=request.query.get("q", "").strip()[:MAX_QUERY],
                      logged_in=_guarded(request))


def _needs_reader(handler: Handler) -> Handler:
    """Mounted with sessions: a page for a reader with the view's scope only."""
    async def page(request: web.Request) -> web.StreamResponse:
        if _guarded(request) and not _signed_in(request):
            if request.headers.get("Authorization"):
                # A script: 401 here, not a redirect (the same problem body the app API's
                # error middleware gives, without depending on it).
                return web.json_response(
                    {"type": "about:blank", "status": 401, "code": str(ConnectorCode.AUTH_MISSING),
                     "title": "this view needs a token with the steel:chain scope"},
                    status=401, content_type="application/problem+json",
                    headers={"WWW-Authenticate": "Bearer"})
            lang = "?lang=en" if pick(request.query.get("lang")) == "en" else ""
            return web.Response(status=303, headers={"Location": _base(request) + "login"
                                                     + lang})
        return await handler(request)
    return page


def _html(text: str, status: int = 200) -> web.Response:
    return web.Response(text=text, status=status, content_type="text/html", charset="utf-8",
                        headers={"Cache-Control": "no-store"})


@_needs_reader
async def home(request: web.Request) -> web.Response:
    page = _page(request)
    if not page.query:
        return _html(pages.tree_page(page, []))
    try:
        found = request.app[FINDER](page.query)
    except TsunaguError:
        # The chain side's verification is missing or failed: say so, show no chain.
        return _html(pages.tree_page(page, [], notice="unavailable"), 503)
    return _html(pages.tree_page(page, build_tree(found)))


@_needs_reader
async def piece(request: web.Request) -> web.Response:
    page = _page(request)
    wanted = request.match_info["id"]
    try:
        found = [p for p in request.app[FINDER](wanted) if p.piece_id == wanted]
    except TsunaguError:
        return _html(pages.tree_page(page, [], notice="unavailable"), 503)
    if not found:
        return _html(pages.tree_page(page, [], notice="not_found"), 404)
    return _html(pages.piece_page(page, found[0]))


async def login_form(request: web.Request) -> web.Response:
    if _signed_in(request):
        return web.Response(status=303, headers={"Location": _base(request)})
    page = _page(request)
    return _html(pages.login_page(pages.Page(page.lang, page.base, page.path),
                                  "logged_out" if request.query.get("bye") else None))


async def login(request: web.Request) -> web.Response:
    if not same_origin(request):
        raise web.HTTPForbidden(text="cross-site request refused")
    form = await request.post()
    page = _page(request)
    try:
        secret, expires = request.app[SESSIONS]().login(str(form.get("token", "")))
    except (AuthError, ScopeError):
        return _html(pages.login_page(pages.Page(page.lang, page.base, page.path),
                                      "login_failed"), 401)
    response = web.Response(status=303, headers={"Location": page.href("")})
    set_cookie(response, request, COOKIE, secret, page.base,
               int((expires - datetime.now(UTC)).total_seconds()))
    return response


async def logout(request: web.Request) -> web.Response:
    if not same_origin(request):
        raise web.HTTPForbidden(text="cross-site request refused")
    request.app[SESSIONS]().logout(request.cookies.get(COOKIE))
    page = _page(request)
    response = web.Response(status=303, headers={"Location": page.href("login", bye="1")})
    response.del_cookie(COOKIE, path=page.base)
    return response


async def stylesheet(request: web.Request) -> web.Response:
    return web.Response(body=request.app[CSS], content_type="text/css", charset="utf-8",
                        headers={"Cache-Control": "no-cache"})


def view_app(finder: ProvenanceFinder, sessions: Callable[[], ViewSessions] | None = None
             ) -> web.Application:
    app = web.Application()
    app[FINDER] = finder
    if sessions is not None:
        app[SESSIONS] = sessions
        app.router.add_get("/login", login_form)
        app.router.add_post("/login", login)
        app.router.add_post("/logout", logout)
    app[CSS] = (STATIC / "steel.css").read_bytes()
    app.on_response_prepare.append(add_headers())
    app.router.add_get("/", home, name="home")
    app.router.add_get("/pieces/{id}", piece)
    app.router.add_get("/static/steel.css", stylesheet)
    return app
