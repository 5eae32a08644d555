"""The catalog page: each dataset this connector offers, and its offers in plain words.

``GET /domains/bosai/catalog`` (``?lang=en`` for English). For every dataset: title,
description, id, and for every offer the explanation of the bosai template that made it
(what a person reads before agreeing) followed by the offer's rules as they are, spelled out
by ``usage_policies.explain`` (role, legal ids, purpose, phase, fields, duties). Public like
the DSP catalog itself: it describes datasets and terms, never records.
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable
from typing import Any

from aiohttp import web

from connector.protocol.agreements import parse
from connector.web.markup import Markup, el, join
from domains.bosai import setup as bosai_setup
from domains.bosai.offering import explanation
from trust.errors import TsunaguError
from usage_policies.explain import explain

HEADERS = {"Content-Security-Policy": "default-src 'none'; style-src 'unsafe-inline'; "
                                      "base-uri 'none'; frame-ancestors 'none'",
           "X-Content-Type-Options": "nosniff", "Cache-Control": "no-cache"}
TEXT = {
    "title": ("データセットと提供条件", "Datasets and their terms"),
    "intro": ("この参加者が提供するデータセットと、その利用条件です。条件に合う参加者だけが"
              "合意でき、合意した条件は接続するコネクタが利用のたびに確かめます。",
              "The datasets this participant offers and their terms. Only participants that "
              "meet the terms can agree, and connectors check the agreed terms at every use."),
    "offer": ("提供条件", "Offer"),
    "rules": ("条件の詳細", "The rules in detail"),
    "empty": ("提供しているデータセットはありません。", "No datasets are offered."),
    "id": ("識別子", "Identifier"),
}
_JAPANESE = re.compile("[\u3040-\u30ff\u3400-\u9fff\uf900-\ufaff]")  # kana and kanji


def _t(lang: str, key: str) -> str:
    return TEXT[key][0 if lang == "ja" else 1]


def _text(value: Any, lang: str) -> tuple[str, str | None]:
    """A DCAT literal (a plain string, a language map, or a list of them) in ``lang`` if
    there is one: its text, and its language when that is known."""
    values = value if isinstance(value, list) else [value]
    for v in values:
        if isinstance(v, dict) and v.get("@language", lang) == lang:
            return str(v.get("@value", "")), v.get("@language")
        if isinstance(v, str):
            return v, "ja" if _JAPANESE.search(v) else None
    return "", None


def _literal(tag: str, value: Any, lang: str) -> Markup:
    """``<tag>`` with the literal, marked with its language where it is not the page's (the
    providers' titles are often in Japanese only: on the English page a screen reader must
    still read them as Japanese)."""
    text, written_in = _text(value, lang)
    return el(tag, {"lang": written_in if written_in not in (None, lang) else None}, text)


def offer_section(offer: dict[str, Any], template: str | None, lang: str) -> Markup:
    explained = explanation(template) if template else None
    try:
        lines = explain(parse(offer), lang)
    except TsunaguError:
        lines = []
    return el("section", {"class": "offer"},
              el("h3", None, f"{_t(lang, 'offer')}: {offer.get('@id', '')}"),
              el("p", {"class": "plain"}, explained.explain(lang)) if explained else None,
              el("details", None, el("summary", None, _t(lang, "rules")),
                 el("ul", None, *(el("li", None, line) for line in lines))) if lines else None)


def dataset_section(dataset: dict[str, Any], templates: dict[str, str], lang: str) -> Markup:
    offers = dataset.get("hasPolicy") or []
    return el("section", {"class": "dataset", "id": dataset.get("@id")},
              _literal("h2", dataset.get("dct:title"), lang),
              _literal("p", dataset.get("dct:description"), lang),
              el("p", None, f"{_t(lang, 'id')}: ", el("code", None, dataset.get("@id", ""))),
              *(offer_section(o, templates.get(o.get("@id", "")), lang) for o in offers))


def render(datasets: list[dict[str, Any]], templates: dict[str, str], lang: str) -> str:
    body = join(*(dataset_section(d, templates, lang) for d in datasets)) if datasets else \
        el("p", None, _t(lang, "empty"))
    return "<!doctype html>" + el(
        "html", {"lang": lang},
        el("head", None, el("meta", {"charset": "utf-8"}), el("title", None, _t(lang, "title"))),
        el("body", None, el("main", None, el("h1", None, _t(lang, "title")),
                            el("p", None, _t(lang, "intro")), body)))


def make_handler(connector: Any, hub: Any) -> Callable[[web.Request], Awaitable[web.Response]]:
    async def catalog(request: web.Request) -> web.Response:
        lang = "en" if request.query.get("lang") == "en" else "ja"
        page = render(connector.datasets.list(), bosai_setup.offer_templates(hub.settings),
                      lang)
        return web.Response(text=page, content_type="text/html", charset="utf-8",
                            headers=HEADERS)
    return catalog
