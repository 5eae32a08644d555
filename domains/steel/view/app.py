"""The supply-chain view as an aiohttp sub-application (mount it where the connector serves
pages, e.g. ``/domains/steel/chain/``)::

    GET /                 search (?q= heat number or certificate number) and the tree
    GET /pieces/{id}      one piece's chain, checks and grade results (the page the
                          provenance package's QR code opens, with ``--url BASE``)
    GET /static/steel.css

Data comes only from a ``ProvenanceFinder`` (domains.steel.view.tree). Same standards as
the bosai and pmh views: a strict CSP (no script at all, styles from this origin), no CDN,
Japanese first with ``?lang=en``.
"""

from __future__ import annotations

from pathlib import Path

from aiohttp import web

from domains.steel.labels import pick
from domains.steel.view import pages
from domains.steel.view.tree import ProvenanceFinder, build_tree
from trust.errors import TsunaguError

STATIC = Path(__file__).with_name("static")
HEADERS = {
    "Content-Security-Policy": (
        "default-src 'none'; script-src 'none'; style-src 'self'; img-src 'self'; "
        "form-action 'self'; base-uri 'none'; frame-ancestors 'none'"),
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    "X-Frame-Options": "DENY",
}
FINDER = web.AppKey("steel.finder", ProvenanceFinder)
CSS = web.AppKey("steel.css", bytes)
MAX_QUERY = 200


def _page(request: web.Request) -> pages.Page:
    base = str(request.app.router["home"].url_for())
    return pages.Page(lang=pick(request.query.get("lang")), base=base, path=request.path,
                      query=request.query.get("q", "").strip()[:MAX_QUERY])


def _html(text: str, status: int = 200) -> web.Response:
    return web.Response(text=text, status=status, content_type="text/html", charset="utf-8",
                        headers={"Cache-Control": "no-store"})


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


async def stylesheet(request: web.Request) -> web.Response:
    return web.Response(body=request.app[CSS], content_type="text/css", charset="utf-8",
                        headers={"Cache-Control": "no-cache"})


async def _security_headers(request: web.Request, response: web.StreamResponse) -> None:
    for name, value in HEADERS.items():
        response.headers.setdefault(name, value)


def view_app(finder: ProvenanceFinder) -> web.Application:
    app = web.Application()
    app[FINDER] = finder
    app[CSS] = (STATIC / "steel.css").read_bytes()
    app.on_response_prepare.append(_security_headers)
    app.router.add_get("/", home, name="home")
    app.router.add_get("/pieces/{id}", piece)
    app.router.add_get("/static/steel.css", stylesheet)
    return app
