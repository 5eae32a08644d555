"""The catalog page's markup (escaped by default, ``connector.web.markup``): the listing with
its search, facets (with counts), hits with each offer explained, pages by cursor; the staff
login; a negotiation's state. Japanese first, English with ``?lang=en``. No script at all:
links and forms only, so everything works by keyboard and without JavaScript."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal
from urllib.parse import quote, urlencode

from connector.web.markup import Markup, el, join

Lang = Literal["ja", "en"]

TEXT: dict[str, tuple[str, str]] = {
    "app": ("データカタログ", "Data catalogue"),
    "results": ("検索結果", "Results"),
    "intro": ("データスペースの参加者が提供するデータセットと、その利用条件です。データは"
              "提供者の手元にあり、合意してから提供者のコネクタから受け取ります。",
              "The datasets the data space's participants offer, and their terms. The data "
              "stays with each provider; once agreed, it comes from the provider's connector."),
    "skip": ("本文へ移動", "Skip to main content"),
    "menu": ("メニュー", "Menu"),
    "switch_lang": ("English", "日本語"),
    "login": ("ログイン", "Log in"),
    "logout": ("ログアウト", "Log out"),
    "signed_in_as": ("ログイン中：", "Signed in as "),
    "q": ("キーワード", "Keywords"),
    "search": ("検索", "Search"),
    "purpose": ("利用目的（例：disaster_response）", "Purpose (e.g. disaster_response)"),
    "mine": ("この参加者が利用できる提供条件だけ", "Only offers this participant could get"),
    "filters": ("絞り込み", "Filters"),
    "apply": ("絞り込む", "Apply"),
    "any_area": ("指定なし", "Any"),
    "found": ("{n} 件", "{n} found"),
    "none": ("該当するデータセットはありません。", "No datasets match."),
    "publisher": ("提供者", "Publisher"),
    "area": ("地域", "Area"),
    "modified": ("更新", "Modified"),
    "keywords": ("キーワード", "Keywords"),
    "offer": ("提供条件", "Offer"),
    "permit": ("利用できます", "Permitted"),
    "conditional": ("条件付きで利用できます", "Permitted on conditions"),
    "deny": ("利用できません", "Not permitted"),
    "conditions": ("利用時に満たすべき条件", "Conditions at the time of use"),
    "negotiate": ("この条件で合意を申し込む", "Request an agreement on these terms"),
    "login_to_negotiate": ("合意の申し込みには、contracts:write の権限を持つ職員のログインが"
                           "必要です。", "Requesting an agreement needs a staff login with "
                           "the contracts:write scope."),
    "pages": ("ページ", "Pages"),
    "next": ("次のページ", "Next page"),
    "first": ("最初のページ", "First page"),
    "bad_input": ("検索条件が正しくありません（{field}）。", "The search is not valid ({field})."),
    "no_node": ("このコネクタはカタログノードを動かしていません。",
                "This connector runs no catalogue node."),
    "facet_publisher": ("提供者", "Publisher"),
    "facet_role": ("提供者の役割", "Publisher's role"),
    "facet_domain": ("分野", "Domain"),
    "facet_theme": ("テーマ", "Theme"),
    "facet_keyword": ("キーワード", "Keyword"),
    "facet_type": ("種類", "Type"),
    "facet_spatial": ("地域", "Area"),
    "login_title": ("職員ログイン", "Staff login"),
    "login_name": ("ログイン名", "Login name"),
    "password": ("パスワード", "Password"),
    "totp": ("確認コード（6桁）", "Verification code (6 digits)"),
    "login_failed": ("ログインできませんでした。入力を確かめてください。",
                     "Could not log in. Check what you entered."),
    "login_scope": ("このアカウントには contracts:write の権限がありません。",
                    "This account lacks the contracts:write scope."),
    "logged_out": ("ログアウトしました。", "You are logged out."),
    "negotiation": ("合意の申し込み", "Agreement request"),
    "state": ("状態", "State"),
    "dataset": ("データセット", "Dataset"),
    "agreement": ("合意", "Agreement"),
    "reload": ("最新の状態を表示", "Show the latest state"),
    "back": ("カタログに戻る", "Back to the catalogue"),
    "refused": ("申し込めませんでした：{detail}", "The request was refused: {detail}"),
    "no_scope": ("この操作には contracts:write の権限が必要です。",
                 "This needs the contracts:write scope."),
    "not_found": ("見つかりません。", "Not found."),
}
STATES = {"REQUESTED": ("申し込み済み（提供者の確認待ち）", "Requested (waiting for the provider)"),
          "OFFERED": ("提供者から提示あり", "Offered by the provider"),
          "ACCEPTED": ("受諾済み", "Accepted"),
          "AGREED": ("合意（確認中）", "Agreed (being verified)"),
          "VERIFIED": ("確認済み", "Verified"),
          "FINALIZED": ("合意成立", "Agreement in force"),
          "TERMINATED": ("不成立・終了", "Refused or ended")}
FACET_PARAM = {"publisher": "publisher", "role": "publisher_role", "domain": "domain",
               "theme": "theme", "keyword": "keyword", "type": "type"}
FACET_TOP = 10
_JAPANESE = re.compile("[\u3040-\u30ff\u3400-\u9fff\uf900-\ufaff]")


def t(lang: Lang, key: str, **values: Any) -> str:
    text = TEXT[key][0 if lang == "ja" else 1]
    return text.format(**values) if values else text


@dataclass(frozen=True)
class Page:
    lang: Lang
    base: str  # the page's root URL, ending in /
    path: str
    params: tuple[tuple[str, str], ...] = ()  # the search, kept across links
    person: str | None = None  # who is signed in (a name), None for nobody
    can_negotiate: bool = False

    def href(self, path: str = "", params: Sequence[tuple[str, str]] = ()) -> str:
        values = [(k, v) for k, v in params if v] + ([("lang", "en")] if self.lang == "en"
                                                      else [])
        return self.base + path + (("?" + urlencode(values)) if values else "")

    def value(self, name: str) -> str:
        return next((v for k, v in self.params if k == name), "")

    def values(self, name: str) -> set[str]:
        return {v for k, v in self.params if k == name}


@dataclass
class Listing:
    """What the listing shows: the search's page as JSON (``catalog.service.page_json``)."""

    hits: list[dict[str, Any]] = field(default_factory=list)
    total: int = 0
    next_cursor: str | None = None
    facets: Mapping[str, Mapping[str, int]] = field(default_factory=dict)
    names: Mapping[str, str] = field(default_factory=dict)  # participant DID -> name
    notice: Markup | None = None


def _literal(tag: str, attrs: dict[str, Any], value: Any, lang: Lang) -> Markup:
    """A DCAT literal (string, language map or list) in ``lang`` if there is one, marked with
    its language where that is not the page's (a Japanese title on the English page)."""
    values = value if isinstance(value, list) else [value]
    text, written = "", None
    for v in values:
        if isinstance(v, dict) and v.get("@language", lang) == lang:
            text, written = str(v.get("@value", "")), v.get("@language")
            break
        if isinstance(v, str) and not text:
            text, written = v, "ja" if _JAPANESE.search(v) else "en"
    return el(tag, {**attrs, "lang": written if written not in (None, lang) else None}, text)


def _strings(value: Any) -> list[str]:
    values = value if isinstance(value, list) else [value]
    return [v if isinstance(v, str) else str(v.get("@value", "")) for v in values
            if isinstance(v, str | dict)]


def _decision(page: Page, decision: Mapping[str, Any]) -> Markup:
    lang, outcome = page.lang, str(decision.get("outcome"))
    conditions = decision.get("conditions") or []
    return join(
        el("p", {"class": f"decision {outcome}", "data-outcome": outcome},
           t(lang, outcome) if outcome in ("permit", "conditional", "deny") else outcome),
        el("div", {"class": "conditions"}, el("p", None, t(lang, "conditions")),
           el("ul", None, [el("li", None, c.get(lang) or c.get("en", "")) for c in conditions
                           if isinstance(c, Mapping)])) if conditions else None)


def _offer(page: Page, hit: Mapping[str, Any], offer: Mapping[str, Any], n: int) -> Markup:
    lang = page.lang
    explanation = offer.get("tsunagu:explanation") or {}
    lines = (explanation.get(lang) or []) if isinstance(explanation, Mapping) else []
    decision = offer.get("tsunagu:decision")
    negotiate = None
    if page.can_negotiate and (not isinstance(decision, Mapping)
                               or decision.get("outcome") != "deny"):
        negotiate = el(
            "form", {"method": "post", "action": page.href("negotiate"), "class": "negotiate"},
            [el("input", {"type": "hidden", "name": name, "value": value}) for name, value in (
                ("provider", (hit.get("dct:publisher") or {}).get("@id", "")),
                ("dataset", hit.get("@id", "")), ("offer", offer.get("@id", "")),
                ("purpose", page.value("purpose")))],
            el("button", {"type": "submit", "aria-describedby": f"offer-{n}"},
               t(lang, "negotiate")))
    return el("section", {"class": "offer", "aria-labelledby": f"offer-{n}"},
              el("h4", {"id": f"offer-{n}"}, t(lang, "offer"), " ", el("code", None,
                                                                       offer.get("@id", ""))),
              el("ul", {"class": "explained"}, [el("li", None, line) for line in lines])
              if lines else None,
              _decision(page, decision) if isinstance(decision, Mapping) else None,
              negotiate)


def _hit(page: Page, hit: Mapping[str, Any], n: int) -> Markup:
    lang = page.lang
    publisher = hit.get("dct:publisher") or {}
    spatial = ", ".join(_strings(hit.get("dct:spatial"))) or "—"
    modified = str(hit.get("dct:modified") or hit.get("dct:issued") or "—")[:10]
    keywords = ", ".join(_strings(hit.get("dcat:keyword")))
    facts = [(t(lang, "publisher"), publisher.get("foaf:name") or publisher.get("@id", "")),
             (t(lang, "area"), spatial), (t(lang, "modified"), modified)]
    if keywords:
        facts.append((t(lang, "keywords"), keywords))
    offers = [o for o in hit.get("hasPolicy") or [] if isinstance(o, Mapping)]
    return el("article", {"class": "hit", "data-dataset": hit.get("@id", ""),
                          "aria-labelledby": f"hit-{n}"},
              _literal("h3", {"id": f"hit-{n}"}, hit.get("dct:title", ""), lang),
              el("dl", {"class": "facts"}, [join(el("dt", None, k), el("dd", None, v))
                                             for k, v in facts]),
              _literal("p", {"class": "description"}, hit["dct:description"], lang)
              if hit.get("dct:description") else None,
              [_offer(page, hit, o, n * 100 + i) for i, o in enumerate(offers, start=1)])


def _facet_box(page: Page, name: str, counts: Mapping[str, int],
               names: Mapping[str, str]) -> Markup | None:
    lang = page.lang
    top = sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))[:FACET_TOP]
    if not top:
        return None
    if name == "spatial":  # one area at a time: radio buttons
        chosen = page.value("area")
        options = [("", t(lang, "any_area"), None)] + [(v, v, n) for v, n in top]
        items = [el("li", None, el("label", None, el(
            "input", {"type": "radio", "name": "area", "value": v,
                      "checked": v == chosen}), " ", label,
            f" ({n})" if n is not None else None)) for v, label, n in options]
    else:
        param, chosen_many = FACET_PARAM[name], page.values(FACET_PARAM[name])
        items = [el("li", None, el("label", None, el(
            "input", {"type": "checkbox", "name": param, "value": v,
                      "checked": v in chosen_many}), " ", names.get(v, v) if name ==
            "publisher" else v, f" ({n})")) for v, n in top]
    return el("fieldset", {"class": "facet"}, el("legend", None, t(lang, f"facet_{name}")),
              el("ul", None, items))


def _search_form(page: Page, listing: Listing) -> Markup:
    lang = page.lang
    facets = [_facet_box(page, name, listing.facets.get(name, {}), listing.names)
              for name in ("publisher", "role", "domain", "theme", "keyword", "type",
                           "spatial")]
    return el("form", {"method": "get", "action": page.base, "class": "search",
                       "role": "search"},
              el("div", {"class": "fields"},
                 el("label", {"for": "q"}, t(lang, "q")),
                 el("input", {"id": "q", "name": "q", "type": "search",
                              "value": page.value("q"), "autocomplete": "off"}),
                 el("label", {"for": "purpose"}, t(lang, "purpose")),
                 el("input", {"id": "purpose", "name": "purpose", "type": "text",
                              "value": page.value("purpose"), "autocomplete": "off"}),
                 el("label", {"class": "check"}, el("input", {
                     "type": "checkbox", "name": "mine", "value": "1",
                     "checked": bool(page.value("mine"))}), " ", t(lang, "mine")),
                 el("input", {"type": "hidden", "name": "lang", "value": "en"})
                 if lang == "en" else None,
                 el("button", {"type": "submit"}, t(lang, "search"))),
              el("section", {"class": "facets", "aria-labelledby": "h-filters"},
                 el("h2", {"id": "h-filters"}, t(lang, "filters")), facets,
                 el("button", {"type": "submit"}, t(lang, "apply")))
              if any(f is not None for f in facets) else None)


def _pages(page: Page, listing: Listing) -> Markup | None:
    lang = page.lang
    kept = [(k, v) for k, v in page.params if k not in ("cursor", "lang")]
    links = []
    if page.value("cursor"):
        links.append(el("li", None, el("a", {"href": page.href("", kept)}, t(lang, "first"))))
    if listing.next_cursor:
        links.append(el("li", None, el("a", {"href": page.href(
            "", [*kept, ("cursor", listing.next_cursor)]), "rel": "next"}, t(lang, "next"))))
    return el("nav", {"class": "pages", "aria-label": t(lang, "pages")},
              el("ul", None, links)) if links else None


def listing_page(page: Page, listing: Listing) -> str:
    lang = page.lang
    if listing.notice is not None:
        results: Markup = listing.notice
    elif not listing.hits:
        results = el("p", {"role": "status"}, t(lang, "none"))
    else:
        results = join(el("p", {"role": "status", "class": "total"},
                          t(lang, "found", n=listing.total)),
                       [_hit(page, h, n) for n, h in enumerate(listing.hits, start=1)],
                       _pages(page, listing))
    hint = (el("p", {"class": "hint"}, t(lang, "login_to_negotiate"), " ",
               el("a", {"href": page.href("login")}, t(lang, "login")))
            if not page.can_negotiate and listing.hits else None)
    body = join(el("p", {"class": "intro"}, t(lang, "intro")), _search_form(page, listing),
                el("section", {"class": "results", "aria-labelledby": "h-results"},
                   el("h2", {"id": "h-results"}, t(lang, "results")), hint, results))
    return layout(page, body)


def notice(lang: Lang, key: str, **values: Any) -> Markup:
    return el("p", {"class": "ng", "role": "alert"}, t(lang, key, **values))


def login_page(page: Page, said: str | None = None, login: str = "") -> str:
    lang = page.lang
    message = (el("p", {"class": "ng" if said != "logged_out" else None, "role": "status"},
                  t(lang, said)) if said else None)
    fields = [("login", "text", "username", login), ("password", "password",
                                                     "current-password", ""),
              ("totp", "text", "one-time-code", "")]
    form = el("form", {"method": "post", "action": page.href("login"), "class": "login"},
              [join(el("label", {"for": name}, t(lang, "login_name" if name == "login"
                                                 else name)),
                    el("input", {"id": name, "name": name, "type": kind, "value": value or None,
                                 "autocomplete": auto, "required": True,
                                 "inputmode": "numeric" if name == "totp" else None}))
               for name, kind, auto, value in fields],
              el("button", {"type": "submit"}, t(lang, "login")))
    return layout(page, join(message, form), subtitle=t(lang, "login_title"))


def negotiation_page(page: Page, view: Mapping[str, Any] | None, message: Markup | None = None
                     ) -> str:
    lang = page.lang
    if view is None:
        body = join(message or notice(lang, "not_found"),
                    el("p", None, el("a", {"href": page.href()}, t(lang, "back"))))
        return layout(page, body, subtitle=t(lang, "negotiation"))
    state = str(view.get("state"))
    label = STATES.get(state, (state, state))[0 if lang == "ja" else 1]
    facts = [(t(lang, "state"), el("span", {"data-state": state}, label)),
             (t(lang, "dataset"), view.get("datasetId") or ""),
             (t(lang, "publisher"), view.get("counterparty") or ""),
             (t(lang, "offer"), view.get("offerId") or "")]
    if view.get("agreementId"):
        facts.append((t(lang, "agreement"), view["agreementId"]))
    pid = quote(str(view.get("pid", "")), safe="")
    body = join(el("p", {"role": "status", "class": "state"}, label),
                el("dl", {"class": "facts"}, [join(el("dt", None, k), el("dd", None, v))
                                               for k, v in facts]),
                el("p", None, el("a", {"href": page.href("negotiations/" + pid)},
                                 t(lang, "reload"))),
                el("p", None, el("a", {"href": page.href()}, t(lang, "back"))))
    return layout(page, body, subtitle=t(lang, "negotiation"))


def layout(page: Page, body: Markup, subtitle: str | None = None) -> str:
    lang, other = page.lang, "en" if page.lang == "ja" else "ja"
    title = t(lang, "app")
    kept = [(k, v) for k, v in page.params if k != "lang"]
    switch = page.path + "?" + urlencode([*kept, ("lang", other)])
    who = (join(el("span", {"class": "who"}, t(lang, "signed_in_as"), page.person),
                el("form", {"method": "post", "action": page.href("logout"),
                            "class": "logout"},
                   el("button", {"type": "submit"}, t(lang, "logout"))))
           if page.person else el("a", {"href": page.href("login")}, t(lang, "login")))
    header = el("header", None,
                el("p", {"class": "app"}, el("a", {"href": page.href()}, title)),
                el("nav", {"aria-label": t(lang, "menu")},
                   el("a", {"href": switch, "lang": other, "hreflang": other},
                      t(lang, "switch_lang")), who))
    main = el("main", {"id": "main", "tabindex": "-1"}, el("h1", None, subtitle or title),
              body)
    head = el("head", None, el("meta", {"charset": "utf-8"}),
              el("meta", {"name": "viewport", "content": "width=device-width, initial-scale=1"}),
              el("title", None, f"{subtitle} — {title}" if subtitle else title),
              el("link", {"rel": "stylesheet", "href": page.base + "static/catalog.css"}))
    skip = el("a", {"class": "skip", "href": "#main"}, t(lang, "skip"))
    return "<!doctype html>" + el("html", {"lang": lang}, head,
                                  el("body", None, skip, header, main))
