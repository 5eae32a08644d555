"""Response headers of the pages the connector and the domains serve: a strict CSP with
styles from the page's own origin only, no framing, no sniffing, no referrer to other sites.
Pages without any script (the catalog page, the steel supply-chain view) forbid scripts; the
staff pages with live sections allow their own script and its event stream."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping

from aiohttp import web

NO_SCRIPT_HEADERS: Mapping[str, str] = {
    "Content-Security-Policy": (
        "default-src 'none'; script-src 'none'; style-src 'self'; img-src 'self'; "
        "form-action 'self'; base-uri 'none'; frame-ancestors 'none'"),
    "X-Content-Type-Options": "nosniff",
    # Not "no-referrer": with it browsers send "Origin: null" on our own form posts.
    "Referrer-Policy": "same-origin",
    "X-Frame-Options": "DENY",
}


# The staff pages with live sections: their one script (connector/web/assets.py) from the
# page's own origin, and its event stream.
LIVE_PAGE_HEADERS: Mapping[str, str] = {
    **NO_SCRIPT_HEADERS,
    "Content-Security-Policy": (
        "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; "
        "connect-src 'self'; form-action 'self'; base-uri 'none'; frame-ancestors 'none'"),
}


def add_headers(headers: Mapping[str, str] = NO_SCRIPT_HEADERS
                ) -> Callable[[web.Request, web.StreamResponse], Awaitable[None]]:
    """An ``on_response_prepare`` hook setting ``headers`` on every response (a handler's
    own value of one wins)."""
    async def prepare(request: web.Request, response: web.StreamResponse) -> None:
        for name, value in headers.items():
            response.headers.setdefault(name, value)
    return prepare
