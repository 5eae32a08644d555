"""The supply-chain view's pages as escaped-by-default markup: the search and the tree of
derived pieces (``tree_page``), one piece's chain with its checks (``piece_page``). No
script: links and a GET form only, so everything works by keyboard and without JavaScript."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from urllib.parse import quote, urlencode

from connector.web.markup import Markup, el, join
from domains.steel import labels
from domains.steel.labels import Lang, t
from domains.steel.package.page import certificate_record, grade_table, mass, when
from domains.steel.provenance import ChainLink, Provenance
from domains.steel.view.tree import DocumentNode, PieceState


@dataclass(frozen=True)
class Page:
    lang: Lang
    base: str       # the view's root URL, ending in /
    path: str       # this page's path
    query: str = ""  # the search, kept across the language switch
    logged_in: bool = False  # mounted with a login: the header offers to log out

    def href(self, path: str, **params: str) -> str:
        values = {k: v for k, v in params.items() if v} | (
            {"lang": "en"} if self.lang == "en" else {})
        return self.base + path + (("?" + urlencode(values)) if values else "")

    def piece_href(self, piece_id: str) -> str:
        return self.href("pieces/" + quote(piece_id, safe=""))


def _colon(lang: Lang) -> str:
    return "：" if lang == "ja" else ": "


def _slash(lang: Lang) -> str:
    return " ／ " if lang == "ja" else " / "


def _flag(lang: Lang) -> Markup:
    return el("span", {"class": "mark"}, "⚠ ", t(lang, "flagged"))


def _state(lang: Lang, verified: bool) -> Markup:
    return el("span", {"class": "ok" if verified else "ng",
                       "data-verified": "true" if verified else "false"},
              "✔ " if verified else "✖ ", t(lang, "state_ok" if verified else "state_ng"))


def _piece_item(page: Page, piece: str, state: PieceState | None) -> Markup:
    lang = page.lang
    if state is None:
        return el("li", {"class": "piece", "data-piece": piece}, piece, " ",
                  el("span", {"class": "facts"}, t(lang, "no_chain")))
    failed = (el("ul", {"class": "reasons"},
                 [el("li", None, labels.check_name(lang, c.name), _colon(lang),
                     c.reason_ja if lang == "ja" else c.reason_en)
                  for c in state.failed])
              if state.failed else None)
    return el("li", {"class": "piece", "data-piece": piece},
              el("a", {"href": page.piece_href(piece)}, piece), " ",
              el("span", {"class": "holder"}, t(lang, "now_at"), _colon(lang),
                 state.holder_name), " ",
              _state(lang, state.verified), " ", _flag(lang) if state.flagged else None,
              failed)


def _grade_failures(lang: Lang, link: ChainLink) -> Markup | None:
    failures = [r for r in link.grade_results if r.get("status") == "fail"]
    if not failures:
        return None
    return el("p", {"class": "ng"}, t(lang, "failed_checks"), _colon(lang),
              ("、" if lang == "ja" else "; ").join(
                  f"{labels.prop(lang, str(r.get('property')))} {r.get('actual')} "
                  f"({r.get('limit')}, {r.get('clause')})" for r in failures))


def _document(page: Page, node: DocumentNode, level: int) -> Markup:
    lang, link = page.lang, node.link
    heading = el(f"h{min(level, 6)}", None, labels.kind(lang, link.kind), " ",
                 link.document_number or link.record_id, " ",
                 _flag(lang) if link.flagged else None)
    facts = el("p", {"class": "facts"},
               t(lang, "issuer"), _colon(lang), link.issuer_name, _slash(lang), t(lang, "date"),
               _colon(lang), when(link.at), _slash(lang), t(lang, "mass"), _colon(lang),
               mass(link.mass_kg), _slash(lang),
               _state(lang, link.verified))
    pieces = el("ul", {"class": "pieces", "aria-label": t(lang, "pieces_n",
                                                          n=len(node.pieces))},
                [_piece_item(page, piece, state) for piece, state in node.pieces])
    children = (el("ul", {"class": "derived"},
                   [el("li", None, _document(page, child, level + 1))
                    for child in node.children]) if node.children else None)
    return el("div", {"class": "document" + (" flagged" if link.flagged else ""),
                      "data-document": link.document_number or link.record_id},
              heading, facts, _grade_failures(lang, link), pieces, children)


def _search(page: Page) -> Markup:
    lang = page.lang
    return el("form", {"method": "get", "action": page.base, "role": "search"},
              el("label", {"for": "q"}, t(lang, "search_label")),
              el("input", {"id": "q", "name": "q", "type": "search", "value": page.query,
                           "autocomplete": "off"}),
              el("input", {"type": "hidden", "name": "lang", "value": lang})
              if lang == "en" else None,
              el("button", {"type": "submit"}, t(lang, "search")))


def tree_page(page: Page, roots: Sequence[DocumentNode], notice: str | None = None) -> str:
    """The search and its tree; ``notice`` (a message key) instead of any result."""
    lang = page.lang
    if notice:
        found: Markup = el("p", {"class": "ng", "role": "status"}, t(lang, notice))
    elif not page.query:
        found = el("p", None, t(lang, "enter_query"))
    elif not roots:
        found = el("p", {"role": "status"}, t(lang, "not_found"))
    else:
        found = el("section", {"aria-labelledby": "h-tree"},
                   el("h2", {"id": "h-tree"}, t(lang, "tree")),
                   [_document(page, root, 3) for root in roots])
    return layout(page, join(_search(page), found))


def _chain_table(page: Page, provenance: Provenance) -> Markup:
    lang = page.lang
    head = [t(lang, k) for k in ("position", "kind", "issuer", "date", "document", "pieces",
                                 "mass", "to", "checks")]
    rows = []
    for n, link in enumerate(provenance.links, start=1):
        failed = [c for c in link.checks if not c.ok]
        checks = (_state(lang, True) if not failed else
                  el("ul", {"class": "reasons"},
                     [el("li", {"class": "ng"}, "✖ ", labels.check_name(lang, c.name), _colon(lang),
                         c.reason_ja if lang == "ja" else c.reason_en) for c in failed]))
        rows.append(el("tr", {"data-link": link.kind},
                       el("td", {"class": "num"}, n),
                       el("th", {"scope": "row"}, labels.kind(lang, link.kind), " ",
                          _flag(lang) if link.flagged else None),
                       el("td", None, link.issuer_name), el("td", None, when(link.at)),
                       el("td", None, link.document_number or "—"),
                       el("td", None, ", ".join(link.piece_ids)),
                       el("td", {"class": "num"}, mass(link.mass_kg)),
                       el("td", None, link.receiver_name or "—"), el("td", None, checks)))
    return el("table", None,
              el("caption", {"class": "visually-hidden"}, t(lang, "chain")),
              el("thead", None, el("tr", None, [el("th", {"scope": "col"}, h) for h in head])),
              el("tbody", None, rows))


def piece_page(page: Page, provenance: Provenance) -> str:
    lang = page.lang
    cert = certificate_record(provenance) or {}
    heat = ", ".join(cert.get("heatNumbers") or [])
    banner = el("p", {"class": "banner " + ("ok" if provenance.verified else "bad"),
                      "role": "status", "data-verified": "true" if provenance.verified
                      else "false"},
                "✔ " if provenance.verified else "✖ ",
                t(lang, "verified" if provenance.verified else "not_verified"),
                el("span", {"class": "mark"}, "⚠ ", t(lang, "flagged_banner"))
                if provenance.flagged else None)
    facts = el("dl", {"class": "facts"},
               [join(el("dt", None, t(lang, k)), el("dd", None, v)) for k, v in (
                   ("piece_id", provenance.piece_id), ("holder", provenance.holder_name),
                   ("grade", " ".join(str(cert[k]) for k in ("gradeStandard",
                                                             "gradeDesignation")
                                      if cert.get(k)) or "—"),
                   ("heat", heat or "—"),
                   ("cert_number", cert.get("certificateNumber") or "—"))])
    grades = [el("section", {"aria-labelledby": f"h-grade-{n}"},
                 el("h3", {"id": f"h-grade-{n}"}, link.document_number or link.record_id,
                    " ", _flag(lang) if link.flagged else None),
                 grade_table(link.grade_results, lang))
              for n, link in enumerate(provenance.links, start=1)
              if link.kind == "certificate" and link.grade_results]
    back = (el("p", None, el("a", {"href": page.href("", q=heat.split(", ")[0])},
                             t(lang, "tree"))) if heat else None)
    body = join(banner, facts,
                el("section", {"aria-labelledby": "h-chain"},
                   el("h2", {"id": "h-chain"}, t(lang, "chain")), _chain_table(page, provenance)),
                el("section", {"aria-labelledby": "h-grades"},
                   el("h2", {"id": "h-grades"}, t(lang, "grade_checks")), grades), back)
    return layout(page, body, subtitle=provenance.piece_id)


def login_page(page: Page, notice: str | None = None) -> str:
    """The token form of a view mounted on a connector (``notice``: a message key)."""
    lang = page.lang
    said = (el("p", {"class": "ng" if notice == "login_failed" else None, "role": "status"},
               t(lang, notice)) if notice else None)
    form = el("form", {"method": "post", "action": page.href("login"), "class": "login"},
              el("label", {"for": "token"}, t(lang, "token_label")),
              el("input", {"id": "token", "name": "token", "type": "password",
                           "autocomplete": "off", "required": True,
                           "aria-describedby": "token-hint"}),
              el("p", {"id": "token-hint", "class": "facts"}, t(lang, "token_hint")),
              el("button", {"type": "submit"}, t(lang, "login")))
    return layout(page, join(said, form), subtitle=t(lang, "login_title"))


def layout(page: Page, body: Markup, subtitle: str | None = None) -> str:
    lang, other = page.lang, "en" if page.lang == "ja" else "ja"
    title = t(lang, "view_title")
    switch = page.path + ("?" + urlencode({"q": page.query, "lang": other} if page.query
                                          else {"lang": other}))
    logout = (el("form", {"method": "post", "action": page.href("logout"),
                          "class": "logout"},
                 el("button", {"type": "submit"}, t(lang, "logout")))
              if page.logged_in else None)
    header = el("header", None,
                el("p", {"class": "app"}, el("a", {"href": page.href("")}, title)),
                el("nav", {"aria-label": "menu" if lang == "en" else "メニュー"},
                   el("a", {"href": switch, "lang": other, "hreflang": other},
                      t(lang, "switch_lang")), logout))
    main = el("main", {"id": "main", "tabindex": "-1"},
              el("h1", None, subtitle or title), body)
    head = el("head", None, el("meta", {"charset": "utf-8"}),
              el("meta", {"name": "viewport", "content": "width=device-width, initial-scale=1"}),
              el("title", None, f"{subtitle} — {title}" if subtitle else title),
              el("link", {"rel": "stylesheet", "href": page.base + "static/steel.css"}))
    skip = el("a", {"class": "skip", "href": "#main"}, t(lang, "skip"))
    return "<!doctype html>" + el("html", {"lang": lang}, head,
                                  el("body", None, skip, header, main))
