"""The files a page serves under ``/static/{name}``: read once when the app is made, served
with their type and ``no-cache`` (a new release is picked up at once), anything else 404.
``LIVE_SECTIONS_JS`` is the script the staff pages with live sections share."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from pathlib import Path

from aiohttp import web

LIVE_SECTIONS_JS = Path(__file__).with_name("static") / "live-sections.js"

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def asset_handler(files: Mapping[str, tuple[Path, str]]) -> Handler:
    """A ``GET /static/{name}`` handler for ``files``: name -> (file, content type)."""
    held = {name: (path.read_bytes(), ctype) for name, (path, ctype) in files.items()}

    async def asset(request: web.Request) -> web.Response:
        found = held.get(request.match_info["name"])
        if found is None:
            raise web.HTTPNotFound()
        body, ctype = found
        return web.Response(body=body, content_type=ctype, charset="utf-8",
                            headers={"Cache-Control": "no-cache"})
    return asset
