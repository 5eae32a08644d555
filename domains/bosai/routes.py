"""bosai's HTTP routes, mounted by the connector at /domains/bosai/.

* ``GET /domains/bosai/`` a short page (Japanese first, ``?lang=en`` for English) of what
  this hub offers (public).
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

from connector.plugins.contract import DatasetType
from domains.bosai import vocab
from domains.bosai.api import add_api
from domains.bosai.dashboard.app import add_dashboard
from domains.bosai.datasets import DATASET_TYPES
from domains.bosai.hub import BosaiHub

# Static page, nothing to run: forbid scripts and everything else the page does not need.
_PAGE_HEADERS = {"Content-Security-Policy": "default-src 'none'; style-src 'unsafe-inline'",
                 "X-Content-Type-Options": "nosniff"}


def vocabularies() -> dict[str, Any]:
    every = {**vocab.VOCABULARIES, **vocab.SUPPLY_VOCABULARIES}
    return {prop: [{"token": token, "ja": ja, "en": en} for token, (ja, en) in labels.items()]
            for prop, labels in every.items()}


PAGE_TEXT = {  # (Japanese, English)
    "title": ("tsunagu 防災ハブ", "tsunagu disaster hub"),
    "heading": ("防災ハブ (bosai)", "Disaster hub (bosai)"),
    "context": ("JSON-LD コンテキスト", "JSON-LD context"),
    "types": ("データセットの種類", "Dataset types"),
    "shelters": ("避難所の種別", "Shelter types"),
    "vocabularies": ("語彙 (JSON)", "Vocabularies (JSON)"),
    "other": ("English", "日本語"),
}


def page(dataset_types: dict[str, DatasetType], lang: str = "ja") -> str:
    """The page in ``lang`` (``ja`` or ``en``), each description followed by its other
    language, marked as such for screen readers."""
    first = 0 if lang == "ja" else 1
    other = "en" if lang == "ja" else "ja"

    def both(ja: str, en: str) -> str:
        pair = (ja, en)
        return (f"{escape(pair[first])} / "
                f"<span lang=\"{other}\">{escape(pair[1 - first])}</span>")

    def text(key: str) -> str:
        return escape(PAGE_TEXT[key][first])

    rows = "".join(
        f"<li><a href=\"dataset-types/{escape(name)}/schema\"><code>{escape(name)}</code></a>"
        f" {both(dt.description_ja, dt.description_en)}</li>"
        for name, dt in sorted(dataset_types.items()))
    kinds = "".join(f"<li>{both(ja, en)}</li>" for ja, en in vocab.SHELTER_TYPES.values())
    return (f"<!doctype html><html lang=\"{lang}\"><head><meta charset=\"utf-8\">"
            f"<title>{text('title')}</title></head><body>"
            f"<nav><a href=\"?lang={other}\" lang=\"{other}\" hreflang=\"{other}\">"
            f"{text('other')}</a></nav><main>"
            f"<h1>{text('heading')}</h1>"
            f"<p>{text('context')}: <code>{escape(vocab.CONTEXT_URL)}</code></p>"
            f"<h2>{text('types')}</h2><ul>{rows}</ul>"
            f"<h2>{text('shelters')}</h2><ul>{kinds}</ul>"
            f"<p><a href=\"vocabularies\">{text('vocabularies')}</a></p></main></body></html>")


def add_routes(app: web.Application, connector: Any, hub: BosaiHub) -> None:
    """The plug-in's ``routes`` hook; ``app`` is its sub-application, ``hub`` its service."""
    pages = {lang: page(dict(DATASET_TYPES), lang) for lang in ("ja", "en")}
    vocabulary = vocabularies()

    async def index(request: web.Request) -> web.Response:
        lang = "en" if request.query.get("lang") == "en" else "ja"
        return web.Response(text=pages[lang], content_type="text/html", charset="utf-8",
                            headers=_PAGE_HEADERS)

    async def get_vocabularies(request: web.Request) -> web.Response:
        return web.json_response(vocabulary)

    app.router.add_get("/", index)
    app.router.add_get("/vocabularies", get_vocabularies)
    add_dashboard(app, connector, hub)
    add_api(app, connector, hub)
