"""Response headers of the pages the connector and the domains serve without any script
(the catalog page, the steel supply-chain view): a strict CSP with styles from the page's
own origin only, no framing, no sniffing, no referrer to other sites."""

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


def add_headers(headers: Mapping[str, str] = NO_SCRIPT_HEADERS
                ) -> Callable[[web.Request, web.StreamResponse], Awaitable[None]]:
    """An ``on_response_prepare`` hook setting ``headers`` on every response (a handler's
    own value of one wins)."""
    async def prepare(request: web.Request, response: web.StreamResponse) -> None:
        for name, value in headers.items():
            response.headers.setdefault(name, value)
    return prepare
