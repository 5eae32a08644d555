"""bosai's HTTP routes, mounted by the connector at /domains/bosai/.

* ``GET /domains/bosai/`` a short page (Japanese first) of what this hub offers (public).
* ``GET /domains/bosai/vocabularies`` the labelled tokens apps need to build forms (public).
* ``/domains/bosai/dashboard/`` the municipality dashboard for staff (``dashboard/``; needs
  the ``bosai:dashboard`` scope).
* the flows' app routes (registrations, check-ins, supplies, safety inquiries) and the
  catalog page: ``domains.bosai.api``.

The connector adds ``dataset-types`` and ``dataset-types/{type}/schema`` itself.
"""

from __future__ import annotations

from html import escape
from typing import Any

from aiohttp import web

from domains.bosai import vocab
from domains.bosai.api import add_api
from domains.bosai.dashboard.app import add_dashboard
from domains.bosai.datasets import DATASET_TYPES
from domains.plugin import DatasetType

# Static page, nothing to run: forbid scripts and everything else the page does not need.
_PAGE_HEADERS = {"Content-Security-Policy": "default-src 'none'; style-src 'unsafe-inline'",
                 "X-Content-Type-Options": "nosniff"}


def vocabularies() -> dict[str, Any]:
    every = {**vocab.VOCABULARIES, **vocab.SUPPLY_VOCABULARIES}
    return {prop: [{"token": token, "ja": ja, "en": en} for token, (ja, en) in labels.items()]
            for prop, labels in every.items()}


def page(dataset_types: dict[str, DatasetType]) -> str:
    rows = "".join(
        f"<li><a href=\"dataset-types/{escape(name)}/schema\"><code>{escape(name)}</code></a>"
        f" {escape(dt.description_ja)} / {escape(dt.description_en)}</li>"
        for name, dt in sorted(dataset_types.items()))
    kinds = "".join(f"<li>{escape(ja)} ({escape(en)})</li>"
                    for ja, en in vocab.SHELTER_TYPES.values())
    return ("<!doctype html><html lang=\"ja\"><head><meta charset=\"utf-8\">"
            "<title>tsunagu 防災ハブ</title></head><body>"
            "<h1>防災ハブ (bosai)</h1>"
            f"<p>JSON-LD コンテキスト: <code>{escape(vocab.CONTEXT_URL)}</code></p>"
            f"<h2>データセットの種類</h2><ul>{rows}</ul>"
            f"<h2>避難所の種別</h2><ul>{kinds}</ul>"
            "<p><a href=\"vocabularies\">語彙 (JSON)</a></p></body></html>")


def add_routes(app: web.Application, connector: Any) -> None:
    """The plug-in's ``routes`` hook; ``app`` is its sub-application."""
    html = page(dict(DATASET_TYPES))
    vocabulary = vocabularies()

    async def index(request: web.Request) -> web.Response:
        return web.Response(text=html, content_type="text/html", charset="utf-8",
                            headers=_PAGE_HEADERS)

    async def get_vocabularies(request: web.Request) -> web.Response:
        return web.json_response(vocabulary)

    app.router.add_get("/", index)
    app.router.add_get("/vocabularies", get_vocabularies)
    add_dashboard(app, connector)
    add_api(app, connector)
