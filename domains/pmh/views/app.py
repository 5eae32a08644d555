"""The pmh views as sub-applications of the plug-in's app (``/domains/pmh/``):

* ``dashboard/``  the health department's view: aggregates only (pregnancies by trimester,
  checkups done against due, EPDS follow-ups, vaccination coverage, vouchers and claims by
  clinic, claims by status); staff accounts or tokens with ``pmh:dashboard``.
* ``family-app/``  a family's own records: a ``pmh:family`` token limited to the family's
  people; another family's child is 404, audited, with nothing of theirs in the answer.

Both: a strict CSP (scripts and styles from this origin, no inline script or style), no
CDN, Japanese first with an English switch, live sections over SSE.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from aiohttp import web

from connector.api.staff.accounts import StaffError
from connector.api.staff.service import StaffAuth
from connector.api.tokens import AuthError, ScopeError, TokenInfo
from connector.errors import ConnectorCode
from connector.web.assets import LIVE_SECTIONS_JS, asset_handler
from connector.web.headers import LIVE_PAGE_HEADERS, add_headers
from connector.web.markup import Sections
from domains.pmh import growth_reference
from domains.pmh.growth_reference import Placement
from domains.pmh.hub.api import FAMILY
from domains.pmh.hub.followups import JAPAN
from domains.pmh.hub.service import PmhHub
from domains.pmh.views import pages, queries
from domains.pmh.views.auth import DASHBOARD, Sessions, same_origin, set_cookie
from domains.pmh.views.family import Family
from domains.pmh.views.i18n import pick
from domains.pmh.views.live import LiveStreams

STATIC = Path(__file__).with_name("static")
ASSETS = {"pmh.css": (STATIC / "pmh.css", "text/css"),
          "pmh.js": (LIVE_SECTIONS_JS, "text/javascript"),
          "icon.svg": (STATIC / "icon.svg", "image/svg+xml")}
LANG_COOKIE = "tsunagu_pmh_lang"


class View:
    """One view's state: which scope it needs, its sessions and its cookie."""

    def __init__(self, connector: Any, hub: PmhHub, scope: str, cookie: str,
                 title_key: str) -> None:
        self.connector, self.hub = connector, hub
        self.scope, self.cookie, self.title_key = scope, cookie, title_key
        self.streams = LiveStreams()
        self._sessions: Sessions | None = None

    @property
    def sessions(self) -> Sessions:
        if self._sessions is None or self._sessions.store is not self.connector.store:
            staff = StaffAuth.of(self.connector) if self.scope == DASHBOARD else None
            self._sessions = Sessions(self.connector.store, self.scope, staff)
        return self._sessions

    def reader(self, request: web.Request) -> TokenInfo | None:
        return self.sessions.from_request(request, self.cookie)


VIEW = web.AppKey("pmh.view", View)
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def base_url(request: web.Request) -> str:
    return str(request.app.router["home"].url_for())


def page_for(request: web.Request, reader: TokenInfo | None) -> pages.Page:
    view = request.app[VIEW]
    person = reader.person if reader is not None else None
    who = None
    if person is not None:
        who = f"{person.name}（{person.department}）" if person.department else person.name
    return pages.Page(lang=pick(request.query.get("lang") or request.cookies.get(LANG_COOKIE)),
                      base=base_url(request), path=request.path, title_key=view.title_key,
                      who=who, logged_in=reader is not None)


def html(request: web.Request, text: str, status: int = 200) -> web.Response:
    response = web.Response(text=text, status=status, content_type="text/html",
                            charset="utf-8", headers={"Cache-Control": "no-store"})
    if request.query.get("lang"):
        set_cookie(response, request, LANG_COOKIE, pick(request.query["lang"]),
                   base_url(request), 365 * 86400)
    return response


def redirect(location: str) -> web.Response:
    return web.Response(status=303, headers={"Location": location})


def needs_reader(handler: Callable[[web.Request, TokenInfo], Awaitable[web.StreamResponse]]
                 ) -> Handler:
    """A page for a logged-in reader; a browser without one goes to the login form, a
    script (bearer header) gets 401."""
    async def page(request: web.Request) -> web.StreamResponse:
        reader = request.app[VIEW].reader(request)
        if reader is None:
            if request.headers.get("Authorization"):
                raise AuthError("this view needs a token with the view's scope",
                                code=ConnectorCode.AUTH_MISSING)
            return redirect(base_url(request) + "login")
        return await handler(request, reader)
    return page


def live_url(request: web.Request, page: pages.Page, since: int) -> str:
    return str(request.app.router["events"].url_for().with_query(
        {"since": str(since), "lang": page.lang}))


def _band(placed: Placement | None) -> dict[str, Any] | None:
    return None if placed is None else placed.as_json()


def _reference() -> dict[str, str]:
    """The growth reference the bands are against, with the attribution its licence asks."""
    found = growth_reference.reference()
    return {"edition": found.edition, "attribution": found.attribution[0]}


def _today() -> Any:
    return datetime.now(JAPAN).date()


# ---------------------------------------------------------------------------- renderers

def _dashboard_render(view: View, page: pages.Page) -> Callable[[], Sections]:
    def render() -> Sections:
        found = queries.overview(view.connector.store, _today(), datetime.now(UTC))
        return pages.dashboard_sections(found, page.lang)
    return render


def _family_render(view: View, page: pages.Page, people: set[str]
                   ) -> Callable[[], tuple[list[pages.ChildView], Sections]]:
    def render() -> tuple[list[pages.ChildView], Sections]:
        family = Family(view.hub, people)
        children = family.children(_today())
        sections: Sections = {}
        for n, child in enumerate(children):
            sections.update(pages.family_sections(child, page.lang, n))
        sections["claims"] = pages.claims_section(family.claims(), page.lang)
        return children, sections
    return render


def family_people(reader: TokenInfo) -> set[str]:
    if not reader.subjects:
        raise ScopeError("a pmh:family token is issued for the family's people: name them "
                         "(subjects)", scope=FAMILY)
    return set(reader.subjects)


def audited(view: View, reader: TokenInfo, event: str, **fields: Any) -> None:
    """Who read (or was refused) which of the municipality's people: ids, never names."""
    with view.connector.store.transaction():
        view.connector.audit.append(event, **reader.audit_fields(), **fields)


@needs_reader
async def home(request: web.Request, reader: TokenInfo) -> web.Response:
    view, page = request.app[VIEW], page_for(request, reader)
    since = view.hub.changes
    if view.scope == DASHBOARD:
        sections = _dashboard_render(view, page)()
        return html(request, pages.dashboard_page(page, sections,
                                                  live_url(request, page, since)))
    children, sections = _family_render(view, page, family_people(reader))()
    audited(view, reader, "pmh.family_view", shown=[c.id for c in children])
    return html(request, pages.family_page(page, children, sections,
                                           live_url(request, page, since)))


@needs_reader
async def child_json(request: web.Request, reader: TokenInfo) -> web.Response:
    """One child's records for the family's app (JSON): 404 for anyone the token does not
    name, audited, whatever exists."""
    view, people = request.app[VIEW], family_people(request_reader := reader)
    asked = request.match_info["id"]
    family = Family(view.hub, people)
    record = view.hub.own(asked) if asked in people else None
    if record is None or record.get("type") != "Child" or not family.about_us(record):
        audited(view, request_reader, "pmh.family_view_refused", asked=asked)
        raise web.HTTPNotFound(text='{"code": "pmh.not_found", "status": 404}',
                               content_type="application/problem+json")
    child = family.child(record, _today())
    audited(view, reader, "pmh.family_view", shown=[child.id])
    return web.json_response({
        "child": child.id, "birthDate": child.birth,
        "visits": [v["id"] for v in child.visits],
        "immunizations": [{"vaccine": d["vaccine"], "doseNumber": d.get("doseNumber"),
                           "occurred": d["occurred"]} for d in child.doses],
        "growth": {"weight": child.weight, "height": child.height,
                   # each measurement's band, in the order of its points (null: none)
                   "bands": {"weight": [_band(b) for b in child.weight_bands],
                             "height": [_band(b) for b in child.height_bands]},
                   "reference": _reference()},
        "development": [{"checkupAge": r["checkupAge"], "item": r["item"],
                         "answer": r["answer"], "effective": r["effective"]}
                        for r in child.development],
        "next": [{"vaccine": s.vaccine, "dose": s.dose, "state": str(s.state),
                  "due": s.due.isoformat() if s.due else None} for s in child.statuses
                 if s.state in pages.NEXT_STATES]})


async def events(request: web.Request) -> web.StreamResponse:
    view = request.app[VIEW]
    reader = view.reader(request)
    if reader is None:
        raise AuthError("live updates need a session", code=ConnectorCode.AUTH_MISSING)
    page = page_for(request, reader)
    try:
        since = max(0, int(request.query.get("since", "0")))
    except ValueError:
        since = 0
    if view.scope == DASHBOARD:
        render = _dashboard_render(view, page)
    else:
        family = _family_render(view, page, family_people(reader))

        def render() -> Sections:
            return family()[1]
    return await view.streams.stream(request, lambda: view.hub.changes, render, since,
                                     alive=lambda: view.reader(request) is not None)


# ---------------------------------------------------------------------------- login

async def login_form(request: web.Request) -> web.Response:
    view = request.app[VIEW]
    if view.reader(request) is not None:
        return redirect(base_url(request))
    return html(request, pages.login_page(page_for(request, None), staff=view.scope == DASHBOARD,
                                          notice="logged_out" if request.query.get("bye")
                                          else None))


async def login(request: web.Request) -> web.Response:
    if not same_origin(request):
        raise web.HTTPForbidden(text="cross-site request refused")
    view, form = request.app[VIEW], await request.post()
    sessions, token = view.sessions, str(form.get("token", ""))
    try:
        if token:
            secret, expires = sessions.login(token)
        elif view.scope == DASHBOARD and sessions.staff is not None:
            person = sessions.staff.login_password(str(form.get("login", "")).strip(),
                                                   str(form.get("password", "")),
                                                   str(form.get("totp", "")))
            if not person.account.scopes & {DASHBOARD, "admin"}:
                sessions.staff.sessions.logout(person.secret)
                raise ScopeError("this staff account lacks pmh:dashboard", scope=DASHBOARD)
            secret, expires = person.secret, person.expires
        else:
            raise AuthError("give a token", code=ConnectorCode.AUTH_MISSING)
    except (AuthError, ScopeError, StaffError):
        page = page_for(request, None)
        return html(request, pages.login_page(page, staff=view.scope == DASHBOARD,
                                              failed=True), 401)
    response = redirect(base_url(request))
    set_cookie(response, request, view.cookie, secret, base_url(request),
               int((expires - datetime.now(UTC)).total_seconds()))
    return response


async def logout(request: web.Request) -> web.Response:
    if not same_origin(request):
        raise web.HTTPForbidden(text="cross-site request refused")
    view = request.app[VIEW]
    view.sessions.logout(request.cookies.get(view.cookie))
    response = redirect(base_url(request) + "login?bye=1")
    response.del_cookie(view.cookie, path=base_url(request))
    return response


# ---------------------------------------------------------------------------- assets

def view_app(connector: Any, hub: PmhHub, scope: str, cookie: str, title_key: str
             ) -> web.Application:
    app = web.Application()
    app[VIEW] = view = View(connector, hub, scope, cookie, title_key)
    app.on_response_prepare.append(add_headers(LIVE_PAGE_HEADERS))
    app.on_shutdown.append(view.streams.close)
    app.router.add_get("/", home, name="home")
    app.router.add_get("/login", login_form)
    app.router.add_post("/login", login)
    app.router.add_post("/logout", logout)
    app.router.add_get("/events", events, name="events")
    app.router.add_get("/static/{name}", asset_handler(ASSETS))
    if scope == FAMILY:
        app.router.add_get("/children/{id}", child_json)
    return app


def add_views(app: web.Application, connector: Any, hub: PmhHub) -> None:
    app.add_subapp("/dashboard/", view_app(connector, hub, DASHBOARD, "tsunagu_pmh_staff",
                                           "dashboard"))
    app.add_subapp("/family-app/", view_app(connector, hub, FAMILY, "tsunagu_pmh_family",
                                            "family"))
