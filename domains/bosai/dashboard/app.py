"""The dashboard's HTTP side: a sub-application at ``/domains/bosai/dashboard/``.

Pages need a staff session (or a bearer token) with ``bosai:dashboard``; person search needs
``bosai:person-search`` too. Every response carries a strict CSP (scripts and styles from
this origin only, no inline script, no style attribute), nosniff, no referrer to other
sites and no caching of pages. Nothing personal goes into a URL: the search is a POST, and
the connector writes no access log.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from aiohttp import web

from connector.api.problems import error_problem
from connector.api.staff.accounts import StaffError
from connector.api.staff.service import StaffAuth
from connector.api.tokens import AuthError, ScopeError, TokenInfo
from connector.errors import ConnectorCode
from connector.store.database import StoreError
from connector.web.assets import LIVE_SECTIONS_JS, asset_handler
from connector.web.headers import LIVE_PAGE_HEADERS, add_headers
from connector.web.markup import Sections
from domains.bosai.dashboard import views
from domains.bosai.dashboard.auth import (
    DASHBOARD,
    INQUIRY,
    LANG_COOKIE,
    OIDC_STATE_COOKIE,
    PERSON_SEARCH,
    SESSION_COOKIE,
    Sessions,
    same_origin,
    set_cookie,
)
from domains.bosai.dashboard.i18n import Lang, pick
from domains.bosai.dashboard.inquiry import add_inquiry
from domains.bosai.dashboard.live import LiveStreams, Snapshots
from domains.bosai.dashboard.queries import SEARCH_LIMIT, Queries
from domains.bosai.registry.errors import RegistryInputError
from domains.bosai.registry.normalize import parse_birth_date
from domains.japanese.dates import JST

STATIC = Path(__file__).with_name("static")
ASSETS = {"dashboard.css": (STATIC / "dashboard.css", "text/css"),
          "dashboard.js": (LIVE_SECTIONS_JS, "text/javascript"),
          "icon.svg": (STATIC / "icon.svg", "image/svg+xml")}  # the page icon: no /favicon.ico
MAX_QUERY = 100
WATCH_S = 1.0  # how often open pages look for writes made outside the connector


class Dashboard:
    """Per-application state: the connector, its sessions, and reads over the hub (made
    again when the hub restarts with a new store)."""

    def __init__(self, connector: Any, hub: Any) -> None:
        self.connector = connector
        self._the_hub = hub
        self.streams = LiveStreams()
        self._sessions: Sessions | None = None
        self._hub: Any = None
        self._queries: Queries | None = None
        self._snapshots: Snapshots | None = None
        self._versions: tuple[int, int] | None = None

    @property
    def sessions(self) -> Sessions:
        if self._sessions is None or self._sessions.store is not self.connector.store:
            self._sessions = Sessions(self.connector.store, StaffAuth.of(self.connector))
        return self._sessions

    @property
    def hub(self) -> Any:
        return self._the_hub

    def _hub_parts(self) -> tuple[Queries, Snapshots]:
        hub = self.hub
        if self._queries is None or self._snapshots is None \
                or self._queries.sites is not hub.sites:
            self._queries = Queries(hub, hub.sites)
            self._snapshots = Snapshots(hub.feed)
        return self._queries, self._snapshots

    @property
    def queries(self) -> Queries:
        return self._hub_parts()[0]

    @property
    def snapshots(self) -> Snapshots:
        return self._hub_parts()[1]

    def catch_up(self) -> None:
        """Tell the hub's feed about commits made to its stores by another connection (the
        ``tsunagu bosai import-status`` CLI): renderings are cached by the feed's counter,
        and only in-process changes move it, so a status file imported that way stayed
        invisible (every shelter kept showing the count from before)."""
        try:
            queries = self.queries
            versions = queries.versions()
        except (RuntimeError, StoreError):  # the hub is stopped or restarting
            self._versions = None
            return
        if self._versions is not None and versions != self._versions:
            self.hub.feed.notify("store")
        self._versions = versions

    async def watch(self, period: float = WATCH_S) -> None:
        """``catch_up`` every ``period`` seconds, so open pages update live too."""
        while True:
            self.catch_up()
            await asyncio.sleep(period)


DASH = web.AppKey("bosai.dashboard", Dashboard)
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


# ---------------------------------------------------------------------------- helpers

def base_url(request: web.Request) -> str:
    return str(request.app.router["overview"].url_for())


def lang_of(request: web.Request) -> Lang:
    return pick(request.query.get("lang") or request.cookies.get(LANG_COOKIE))


def page_for(request: web.Request, staff: TokenInfo | None) -> views.Page:
    return views.Page(lang=lang_of(request), base=base_url(request), path=request.path,
                      can_search=staff is not None and staff.allows(PERSON_SEARCH),
                      logged_in=staff is not None,
                      can_inquire=staff is not None and staff.allows(INQUIRY),
                      person=_person_label(staff))


def _person_label(staff: TokenInfo | None) -> str | None:
    """Who is logged in, for the header: a person's name and department; None for a token."""
    person = staff.person if staff is not None else None
    if person is None:
        return None
    return f"{person.name}（{person.department}）" if person.department else person.name


def html(request: web.Request, text: str, status: int = 200) -> web.Response:
    response = web.Response(text=text, status=status, content_type="text/html",
                            charset="utf-8", headers={"Cache-Control": "no-store"})
    asked = request.query.get("lang")
    if asked:  # the language switch: remembered for this dashboard's pages only
        set_cookie(response, request, LANG_COOKIE, pick(asked), base_url(request),
                   max_age=365 * 86400)
    return response


def staff_of(request: web.Request) -> TokenInfo | None:
    staff = request.app[DASH].sessions.from_request(request)
    return staff if staff is not None and staff.allows(DASHBOARD) else None


def staff_page(handler: Callable[[web.Request, TokenInfo], Awaitable[web.StreamResponse]]
               ) -> Handler:
    """A page for logged-in staff; anyone else is sent to the login form."""
    async def page(request: web.Request) -> web.StreamResponse:
        staff = staff_of(request)
        if staff is None:
            return redirect(base_url(request) + "login")
        return await handler(request, staff)
    return page


def live_url(request: web.Request, page: views.Page, seq: int, **params: str) -> str:
    """The page's stream: what it shows, in its language, from the counter it was made at."""
    return str(request.app.router["events"].url_for().with_query(
        {**params, "since": str(seq), "lang": page.lang}))


def redirect(location: str) -> web.Response:
    return web.Response(status=303, headers={"Location": location})


# ---------------------------------------------------------------------------- views

def _overview_render(dash: Dashboard, page: views.Page) -> Callable[[], Sections]:
    return lambda: views.overview_sections(dash.queries.overview(), page)


@staff_page
async def overview(request: web.Request, staff: TokenInfo) -> web.Response:
    dash, page = request.app[DASH], page_for(request, staff)
    dash.catch_up()
    seq, sections = dash.snapshots.get(("overview", page.lang), _overview_render(dash, page))
    url = live_url(request, page, seq, view="overview")
    return html(request, views.overview_page(sections, page, url))


def _shelter_render(dash: Dashboard, page: views.Page, shelter_id: str
                    ) -> Callable[[], Sections]:
    def render() -> Sections:
        detail = dash.queries.shelter(shelter_id)
        return views.shelter_sections(detail, page) if detail is not None else {}
    return render


@staff_page
async def shelter(request: web.Request, staff: TokenInfo) -> web.Response:
    dash, page = request.app[DASH], page_for(request, staff)
    shelter_id = request.match_info["id"]
    dash.catch_up()
    detail = dash.queries.shelter(shelter_id)
    if detail is None:
        return html(request, views.message_page(page, "shelter_detail", "not_found"), 404)
    seq, sections = dash.snapshots.get(("shelter", shelter_id, page.lang),
                                       _shelter_render(dash, page, shelter_id))
    url = live_url(request, page, seq, view="shelter", shelter=shelter_id)
    return html(request, views.shelter_page(detail.shelter.name, sections, page, url))


async def events(request: web.Request) -> web.StreamResponse:
    staff = staff_of(request)
    if staff is None:
        raise AuthError("the dashboard's live updates need a staff session",
                        code=ConnectorCode.AUTH_MISSING)
    dash, page = request.app[DASH], page_for(request, staff)
    try:
        since = max(0, int(request.query.get("since", "0")))
    except ValueError:
        since = 0
    if request.query.get("view") == "shelter":
        shelter_id = request.query.get("shelter", "")
        key: tuple[str, ...] = ("shelter", shelter_id, page.lang)
        render = _shelter_render(dash, page, shelter_id)
    else:
        key, render = ("overview", page.lang), _overview_render(dash, page)
    # Re-asked every second: a revoked, logged-out or expired session ends its stream too.
    return await dash.streams.stream(request, dash.snapshots, key, render, since, page.lang,
                                     alive=lambda: staff_of(request) is not None)


# ---------------------------------------------------------------------------- person search

def _search_allowed(request: web.Request, staff: TokenInfo) -> web.Response | None:
    if staff.allows(PERSON_SEARCH):
        return None
    page = page_for(request, staff)
    return html(request, views.message_page(page, "search", "search_denied"), 403)


@staff_page
async def search_form(request: web.Request, staff: TokenInfo) -> web.Response:
    denied = _search_allowed(request, staff)
    return denied or html(request, views.search_page(page_for(request, staff)))


@staff_page
async def search(request: web.Request, staff: TokenInfo) -> web.Response:
    denied = _search_allowed(request, staff)
    if denied is not None:
        return denied
    if not same_origin(request):
        raise web.HTTPForbidden(text="cross-site request refused")
    page, dash = page_for(request, staff), request.app[DASH]
    form = await request.post()
    name = str(form.get("q", "")).strip()
    birth_text = str(form.get("birth", "")).strip()[:40]
    if not name or len(name) > MAX_QUERY:
        return html(request, views.search_page(page, name=name[:MAX_QUERY], birth=birth_text,
                                               error="search_bad"), 400)
    birth = None
    if birth_text:
        try:
            birth = parse_birth_date(birth_text, today=datetime.now(JST).date()).isoformat()
        except RegistryInputError:
            return html(request, views.search_page(page, name=name, birth=birth_text,
                                                   error="search_bad_birth"), 400)
    hits = dash.queries.search(name, birth, limit=SEARCH_LIMIT)
    with dash.sessions.store.transaction():  # who looked, and whom they saw; never the query
        dash.sessions.audit.append("bosai.staff_search", datetime.now(UTC),
                                   **staff.audit_fields(),  # the person, or the token
                                   shown=[h.id for h in hits[:SEARCH_LIMIT]],
                                   more=len(hits) > SEARCH_LIMIT)
    return html(request, views.search_page(page, name=name, birth=birth_text, hits=hits,
                                           limit=SEARCH_LIMIT))


# ---------------------------------------------------------------------------- login

def _login_page(request: web.Request, status: int = 200, **kwargs: Any) -> web.Response:
    oidc = request.app[DASH].sessions.staff.oidc is not None
    return html(request, views.login_page(page_for(request, None), oidc=oidc, **kwargs), status)


def _wants_problem(request: web.Request) -> bool:
    """A script posting to the form may ask for RFC 9457 problems instead of a page."""
    return "application/problem+json" in request.headers.get("Accept", "")


def _refused(request: web.Request, exc: StaffError, login: str = "") -> web.Response:
    if _wants_problem(request):
        return error_problem(exc)
    return _login_page(request, 401, staff_error=str(exc.code), login=login[:64])


def _logged_in(request: web.Request, secret: str, expires: datetime,
               response: web.Response) -> web.Response:
    max_age = int((expires - datetime.now(UTC)).total_seconds())
    set_cookie(response, request, SESSION_COOKIE, secret, base_url(request), max_age)
    return response


async def login_form(request: web.Request) -> web.Response:
    if staff_of(request) is not None:
        return redirect(base_url(request))
    notice = "logged_out" if request.query.get("bye") else None
    return _login_page(request, notice=notice)


async def login(request: web.Request) -> web.Response:
    if not same_origin(request):
        raise web.HTTPForbidden(text="cross-site request refused")
    form = await request.post()
    token = str(form.get("token", ""))
    sessions = request.app[DASH].sessions
    if not token:  # a person: login name, password and TOTP code
        login_name = str(form.get("login", "")).strip()
        try:
            person = sessions.staff.login_password(login_name, str(form.get("password", "")),
                                                   str(form.get("totp", "")))
        except StaffError as exc:
            return _refused(request, exc, login_name)
        if not person.account.scopes & {DASHBOARD, "admin"}:
            sessions.staff.sessions.logout(person.secret)
            return _refused(request, StaffError(
                "this staff account lacks the bosai:dashboard scope",
                code=ConnectorCode.AUTH_SCOPE))
        return _logged_in(request, person.secret, person.expires,
                          redirect(base_url(request)))
    try:
        session = sessions.login(token)
    except (AuthError, ScopeError):
        return _login_page(request, 401, error=True)
    return _logged_in(request, session.id, session.expires, redirect(base_url(request)))


async def oidc_start(request: web.Request) -> web.Response:
    """Send the browser to the municipality's provider, the state bound to it by a cookie
    (SameSite=Lax: it must come back on the provider's cross-site redirect). A GET: another
    site sending a browser here only starts a login that person must finish themselves,
    and its answer is accepted only in the browser holding the state."""
    try:
        begun = await request.app[DASH].sessions.staff.require_oidc().begin()
    except StaffError as exc:
        return _refused(request, exc)
    response = redirect(begun.url)
    set_cookie(response, request, OIDC_STATE_COOKIE, begun.state, base_url(request),
               max_age=600, samesite="Lax")
    return response


async def oidc_callback(request: web.Request) -> web.Response:
    try:
        person = await request.app[DASH].sessions.staff.require_oidc().finish(
            state=request.query.get("state"), browser_state=request.cookies.get(
                OIDC_STATE_COOKIE), code=request.query.get("code"),
            error=request.query.get("error"))
    except StaffError as exc:
        response = _refused(request, exc)
    else:
        response = _logged_in(request, person.secret, person.expires, html(
            request, views.continue_page(page_for(request, None))))
    response.del_cookie(OIDC_STATE_COOKIE, path=base_url(request))
    return response


async def logout(request: web.Request) -> web.Response:
    if not same_origin(request):
        raise web.HTTPForbidden(text="cross-site request refused")
    request.app[DASH].sessions.logout(request.cookies.get(SESSION_COOKIE))
    response = redirect(base_url(request) + "login?bye=1")
    response.del_cookie(SESSION_COOKIE, path=base_url(request))
    return response


# ---------------------------------------------------------------------------- assets

async def _watching(app: web.Application) -> AsyncIterator[None]:
    task = asyncio.create_task(app[DASH].watch())
    yield
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task


def dashboard_app(connector: Any, hub: Any) -> web.Application:
    app = web.Application()
    app[DASH] = dash = Dashboard(connector, hub)
    app.cleanup_ctx.append(_watching)
    app.on_response_prepare.append(add_headers(LIVE_PAGE_HEADERS))
    app.on_shutdown.append(dash.streams.close)
    app.router.add_get("/", overview, name="overview")
    app.router.add_get("/login", login_form)
    app.router.add_post("/login", login)
    app.router.add_post("/logout", logout)
    if connector.config.staff.oidc is not None:  # [staff.oidc]: the municipality's provider
        app.router.add_get("/oidc/start", oidc_start)
        app.router.add_get("/oidc/callback", oidc_callback)
    app.router.add_get("/shelters/{id}", shelter)
    app.router.add_get("/search", search_form)
    app.router.add_post("/search", search)
    app.router.add_get("/events", events, name="events")
    app.router.add_get("/static/{name}", asset_handler(ASSETS))
    add_inquiry(app, page_for=page_for, html=html, staff_page=staff_page,
                hub_of=lambda request: request.app[DASH].hub)
    return app


def add_dashboard(app: web.Application, connector: Any, hub: Any) -> None:
    """Mount the dashboard under the plug-in's sub-application (``/domains/bosai/``)."""
    app.add_subapp("/dashboard/", dashboard_app(connector, hub))
