"""The dashboard's pages and their live sections, as escaped markup (``markup.el``).

A page is a layout around sections; each live section is a ``<div data-live="name">``
whose content the page script swaps when the server sends a newer rendering of it
(``live.py``). Sections are rendered by the same functions for the first load and for
updates, so the two can never differ.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

from connector.web.markup import Markup, Sections, el, join
from domains.bosai import vocab
from domains.bosai.dashboard.chart import trend_svg, trend_table
from domains.bosai.dashboard.i18n import (
    MESSAGES,
    SUPPLY_STATUSES,
    Lang,
    age,
    known,
    label,
    need_item,
    t,
    when,
)
from domains.bosai.dashboard.map import map_section
from domains.bosai.dashboard.queries import (
    OPEN_SUPPLY,
    Overview,
    PersonHit,
    Shelter,
    ShelterDetail,
    Supply,
)


@dataclass(frozen=True)
class Page:
    """What every page needs to know about the request it answers."""

    lang: Lang
    base: str  # the dashboard's path, ending in "/"
    path: str  # this page's path (for the language switch)
    can_search: bool = False
    logged_in: bool = True
    can_inquire: bool = False
    person: str | None = None  # the staff member logged in (name, department), if a person

    def url(self, rest: str = "") -> str:
        return self.base + rest

    def shelter_url(self, shelter_id: str) -> str:
        return self.base + "shelters/" + quote(shelter_id, safe="")


def _n(value: int | None) -> str:
    return "" if value is None else f"{value:,}"


def _th(text: str, *, numeric: bool = False) -> Markup:
    """A column header."""
    return el("th", {"scope": "col", "class": "num" if numeric else None}, text)


def _table(caption: str, head: Iterable[Markup], rows: Iterable[Markup],
           foot: Markup | None = None) -> Markup:
    """A table with a caption for screen readers, in a box that scrolls on small screens
    (not a landmark of its own: its section already is one, under the same name)."""
    return el("div", {"class": "scroll"},
              el("table", None, el("caption", {"class": "sr-only"}, caption),
                 el("thead", None, el("tr", None, head)), el("tbody", None, rows),
                 el("tfoot", None, foot) if foot else None))


def bar(value: int, maximum: int | None, *, full: bool = False) -> Markup:
    """A bar for a share (SVG: no style attribute needed); hidden from screen readers, the
    numbers beside it say the same."""
    share = min(value / maximum, 1.0) if maximum else 0.0
    return el("svg", {"class": "bar", "viewBox": "0 0 100 8", "preserveAspectRatio": "none",
                      "aria-hidden": "true", "focusable": "false"},
              el("rect", {"class": "track", "width": 100, "height": 8}),
              el("rect", {"class": "fill full" if full else "fill",
                          "width": round(share * 100, 1), "height": 8}))


def _state(shelter: Shelter, lang: Lang) -> Markup:
    if shelter.open is False:
        return el("span", {"class": "badge closed"}, t(lang, "closed"))
    if shelter.capacity is None:
        return el("span", {"class": "badge unknown"}, t(lang, "no_capacity"))
    if shelter.full:
        return el("span", {"class": "badge full"}, t(lang, "full"))
    return el("span", {"class": "badge room"},
              t(lang, "room", n=_n(shelter.capacity - shelter.people)))


def _occupancy(shelter: Shelter, lang: Lang) -> Markup:
    text = (t(lang, "of_capacity", people=_n(shelter.people), capacity=_n(shelter.capacity))
            if shelter.capacity is not None
            else t(lang, "of_no_capacity", people=_n(shelter.people)))
    return join(el("span", {"class": "occ"}, text),
                bar(shelter.people, shelter.capacity, full=shelter.full))


def _list(items: Iterable[str], lang: Lang) -> str:
    return ("、" if lang == "ja" else ", ").join(items)


_JAPANESE = re.compile(r"[\u3040-\u30ff\u3400-\u9fff\uf900-\ufaff\uff66-\uff9f]")


def original(text: str, lang: Lang) -> Markup | str:
    """Free text as written, on the English page marked as the Japanese original (lang="ja"
    for screen readers and fonts, and a visible "(original)"): never passed off as English."""
    if lang == "ja" or not _JAPANESE.search(text):
        return text
    return el("span", {"class": "original"}, el("span", {"lang": "ja"}, text), " ",
              el("small", None, f"({t(lang, 'original')})"))


def need(text: str, lang: Lang) -> Markup | str:
    """A need (不足物資, free text from a status file) in the reader's language when it names
    a supply item of the vocabulary; otherwise as written (the Japanese page shows what the
    shelter wrote either way: 常備薬 says more than 医薬品)."""
    token = need_item(text)
    if lang == "ja" or token is None:
        return original(text, lang)
    return label(lang, vocab.SUPPLY_ITEMS, token)


def supply_item(item: str, lang: Lang) -> Markup | str:
    """A SupplyRequest's item: a vocabulary token, or text another participant wrote."""
    return label(lang, vocab.SUPPLY_ITEMS, item) if item in vocab.SUPPLY_ITEMS \
        else need(item, lang)


def needs_list(needs: Iterable[str], lang: Lang) -> Markup:
    separator = "、" if lang == "ja" else ", "
    shown = [need(n, lang) for n in needs]
    return join([(separator if i else None, n) for i, n in enumerate(shown)])


def _types(shelter: Shelter, lang: Lang) -> str:
    return _list((label(lang, vocab.SHELTER_TYPES, k) for k in shelter.types), lang)


# ---------------------------------------------------------------------------- overview

def totals(ov: Overview, lang: Lang) -> Markup:
    open_ = ov.open_shelters
    capacity = sum(s.capacity or 0 for s in open_)
    cards = [("in_shelters", t(lang, "people_n", n=_n(ov.in_shelters))),
             ("open_shelters", t(lang, "shelters_n", n=_n(len(open_)))),
             ("capacity_open", t(lang, "people_n", n=_n(capacity))),
             ("registered", t(lang, "people_n", n=_n(ov.registered)))]
    return el("dl", {"class": "cards"},
              [el("div", {"class": "card"}, el("dt", None, t(lang, key)),
                  el("dd", {"data-total": key}, value)) for key, value in cards])


def reported_counts(shelter: Shelter, lang: Lang) -> str:
    """The shelter's own count, day／night when it gave them: what it reported, and 未報告
    where it reported nothing (a blank or 0 would read as an empty shelter); 約N where the
    file said so."""
    def shown(value: int | None, field: str) -> str:
        if value is None:
            return t(lang, "not_reported")
        if field in shelter.approximate:
            return t(lang, "approximately", n=_n(value))
        return _n(value)
    if shelter.day is not None or shelter.night is not None:
        return "／".join(shown(v, f) for v, f in ((shelter.day, "day"),
                                                  (shelter.night, "night")))
    return shown(shelter.reported, "count")


def report_age(shelter: Shelter, lang: Lang) -> Markup:
    """How old the shelter's last report is, flagged when older than the municipality's
    threshold: staff must not be sent to a shelter on a report from yesterday."""
    if shelter.report_age is None:
        return el("span", {"class": "age unknown"}, t(lang, "not_reported"))
    text = t(lang, "reported_ago", age=age(lang, shelter.report_age))
    if not shelter.stale:
        return el("span", {"class": "age"}, text)
    return el("span", {"class": "age stale"},
              join(el("span", {"class": "badge stale"}, t(lang, "stale_report")), " ", text))


SHELTER_COLUMNS = ("shelter", "type", "occupancy", "state", "reported", "care_total", "needs")


def shelters_table(shelters: Iterable[Shelter], page: Page) -> Markup:
    """One row per shelter. On a phone each row becomes a card (dashboard.css): every cell
    then shows its column's name from ``data-label``, and the explicit roles keep the table
    a table for screen readers once CSS no longer lays it out as one."""
    lang = page.lang

    def cell(key: str, content: Markup | str, cls: str | None = None) -> Markup:
        return el("td", {"class": cls, "role": "cell", "data-label": t(lang, key)}, content)

    rows = [el("tr", {"role": "row"},
               el("th", {"scope": "row", "role": "rowheader"},
                  el("a", {"href": page.shelter_url(s.id)}, s.name)),
               cell("type", _types(s, lang)),
               cell("occupancy", _occupancy(s, lang), "occupancy"),
               cell("state", join(_state(s, lang), report_age(s, lang)), "state"),
               cell("reported", reported_counts(s, lang), "num"),
               cell("care_total", _n(sum(s.care.values())), "num"),
               cell("needs", needs_list(s.needs, lang), "needs"))
            for s in shelters]
    if not rows:
        return el("p", {"class": "empty"}, t(lang, "shelters_empty"))
    head = [el("th", {"scope": "col", "role": "columnheader",
                      "class": "num" if k in ("reported", "care_total") else None}, t(lang, k))
            for k in SHELTER_COLUMNS]
    return el("div", {"class": "scroll cards-on-phone"},
              el("table", {"role": "table"},
                 el("caption", {"class": "sr-only"}, t(lang, "shelters")),
                 el("thead", {"role": "rowgroup"}, el("tr", {"role": "row"}, head)),
                 el("tbody", {"role": "rowgroup"}, rows)))


def stays_table(ov: Overview, lang: Lang) -> Markup:
    total = ov.registered
    order: list[str | None] = [*vocab.STAY_TYPES, None]
    order += [k for k in ov.stays if k not in order]
    rows = []
    for key in order:
        n = ov.stays.get(key, 0)
        if key is None and not n:
            continue
        name = t(lang, "stay_unknown") if key is None else label(lang, vocab.STAY_TYPES, key)
        share = f"{n / total:.0%}" if total else "–"
        rows.append(el("tr", None, el("th", {"scope": "row"}, name),
                       el("td", {"class": "num"}, _n(n)),
                       el("td", {"class": "share"}, el("span", None, share), bar(n, total))))
    head = [_th(t(lang, "stay")), _th(t(lang, "people"), numeric=True), _th(t(lang, "share"))]
    return _table(t(lang, "stays"), head, rows)


def care_table(ov: Overview, page: Page) -> Markup:
    lang = page.lang
    categories = list(vocab.CARE_CATEGORIES)
    head = [_th(t(lang, "shelter"))] + [
        _th(label(lang, vocab.CARE_CATEGORIES, c), numeric=True) for c in categories] + [
        _th(t(lang, "total"), numeric=True)]

    def row(name: Markup | str, counts: Mapping[str, int], cls: str | None = None) -> Markup:
        return el("tr", {"class": cls}, el("th", {"scope": "row"}, name),
                  [el("td", {"class": "num"}, _n(counts.get(c, 0)) if counts.get(c) else "–")
                   for c in categories],
                  el("td", {"class": "num"}, _n(sum(counts.get(c, 0) for c in categories))))

    rows = [row(el("a", {"href": page.shelter_url(s.id)}, s.name), s.care)
            for s in ov.shelters]
    rows.append(row(t(lang, "care_outside"), ov.care_outside))
    everyone: dict[str, int] = dict(ov.care_outside)
    for s in ov.shelters:
        for c, n in s.care.items():
            everyone[c] = everyone.get(c, 0) + n
    return join(_table(t(lang, "care"), head, rows, row(t(lang, "total"), everyone, "sum")),
                el("p", {"class": "note"}, t(lang, "care_note")))


def supplies_section(supplies: tuple[Supply, ...], page: Page, *,
                     names: Mapping[str, str] | None = None) -> Markup:
    lang = page.lang
    if not supplies:
        return el("p", {"class": "empty"}, t(lang, "supplies_empty"))
    counts: dict[str, int] = {}
    for s in supplies:
        counts[s.status] = counts.get(s.status, 0) + 1
    statuses = list(SUPPLY_STATUSES) + sorted(k for k in counts if k not in SUPPLY_STATUSES)
    by_status = _table(t(lang, "supplies_by_status"),
                       [_th(t(lang, "status")), _th(t(lang, "count"), numeric=True)],
                       [el("tr", None, el("th", {"scope": "row"}, known(lang, "status", k)),
                           el("td", {"class": "num"}, _n(counts.get(k, 0))))
                        for k in statuses])
    open_rows = []
    for s in supplies:
        if s.status not in OPEN_SUPPLY:
            continue
        where: Markup | str = ""
        if s.shelter_id:
            where = el("a", {"href": page.shelter_url(s.shelter_id)},
                       (names or {}).get(s.shelter_id, s.shelter_id))
        item = supply_item(s.item, lang)
        amount = f"{s.quantity} {label(lang, vocab.SUPPLY_UNITS, s.unit, inline=True)}" if s.unit \
            else s.quantity
        whom = _list((label(lang, vocab.FOR_WHOM, w) for w in s.for_whom), lang)
        open_rows.append(el("tr", None,
                            el("th", {"scope": "row"}, item,
                               join("（", original(s.note, lang), "）") if s.note else None),
                            el("td", {"class": "num"}, amount),
                            el("td", None, known(lang, "urgency", s.urgency)),
                            el("td", None, whom), el("td", None, where),
                            el("td", None, known(lang, "status", s.status))))
    head = [_th(t(lang, k), numeric=k == "quantity")
            for k in ("item", "quantity", "urgency", "for_whom", "shelter", "status")]
    return join(el("h3", None, t(lang, "supplies_by_status")), by_status,
                el("h3", None, t(lang, "supplies_open")),
                _table(t(lang, "supplies_open"), head, open_rows) if open_rows
                else el("p", {"class": "empty"}, t(lang, "supplies_empty")))


def trend_section(points: Any, lang: Lang, title: str, chart_id: str) -> Markup:
    return join(trend_svg(points, lang, title=title, chart_id=chart_id),
                trend_table(points, lang))


def overview_sections(ov: Overview, page: Page) -> Sections:
    lang = page.lang
    names = {s.id: s.name for s in ov.shelters}
    return {
        "totals": totals(ov, lang),
        "trend": trend_section(ov.trend, lang, t(lang, "trend"), "trend-all"),
        "shelters": shelters_table(ov.open_shelters + tuple(
            s for s in ov.shelters if not s.open), page),
        "map": map_section(ov.open_shelters, lang, page.shelter_url),
        "stays": stays_table(ov, lang),
        "care": care_table(ov, page),
        "supplies": supplies_section(ov.supplies, page, names=names),
    }


OVERVIEW_ORDER = (("totals", "totals"), ("trend", "trend"), ("shelters", "shelters"),
                  ("map", "map"), ("stays", "stays"), ("care", "care"), ("supplies", "supplies"))


# ---------------------------------------------------------------------------- shelter

def shelter_sections(detail: ShelterDetail, page: Page) -> Sections:
    lang, s = page.lang, detail.shelter
    site = detail.site or {}
    # the bar belongs to the number it draws: under 現在の人数, not after the last fact
    people_now = join(t(lang, "people_n", n=_n(s.people)),
                      bar(s.people, s.capacity, full=s.full))
    facts = [("type", _types(s, lang) or "–"),
             ("address", site.get("address") or "–"),
             ("capacity", _n(s.capacity) if s.capacity is not None else t(lang, "no_capacity")),
             ("people_now", people_now),
             ("state", _state(s, lang)),
             ("last_report", join(when(s.observed_at) or "–", " ", report_age(s, lang)))]
    summary = el("dl", {"class": "facts"},
                 [el("div", {"data-fact": k}, el("dt", None, t(lang, k)), el("dd", None, v))
                  for k, v in facts])
    categories = [c for c in vocab.CARE_CATEGORIES if s.care.get(c)]
    care = _table(t(lang, "care_categories"),
                  [_th(t(lang, "care_categories")), _th(t(lang, "people"), numeric=True)],
                  [el("tr", None, el("th", {"scope": "row"},
                                     label(lang, vocab.CARE_CATEGORIES, c)),
                      el("td", {"class": "num"}, _n(s.care[c]))) for c in categories]
                  ) if categories else el("p", {"class": "empty"}, t(lang, "none"))
    needs = (el("ul", {"class": "needs"}, [el("li", None, need(n, lang)) for n in s.needs])
             if s.needs
             else el("p", {"class": "empty"}, t(lang, "no_needs")))
    timeline_rows = [el("tr", None,
                        el("th", {"scope": "row"}, when(e.get("observedAt"))),
                        el("td", None, _timeline_state(e, lang)),
                        el("td", {"class": "num"}, _counted(e, "count", e.get("count"), lang)),
                        el("td", {"class": "num"}, _counted(
                            e, "day", e.get("population", {}).get("day"), lang)),
                        el("td", {"class": "num"}, _counted(
                            e, "night", e.get("population", {}).get("night"), lang)),
                        el("td", None, needs_list(e.get("needs", ()), lang)))
                     for e in reversed(detail.timeline)]
    timeline = _table(t(lang, "timeline"),
                      [_th(t(lang, k), numeric=k in ("count_reported", "day", "night"))
                       for k in ("observed_at", "state", "count_reported", "day", "night",
                                 "needs")], timeline_rows
                      ) if timeline_rows else el("p", {"class": "empty"},
                                                 t(lang, "timeline_empty"))
    return {
        "summary": summary,
        "periods": periods_list(detail.periods, lang),
        "care": join(care, el("p", {"class": "note"}, t(lang, "care_note"))),
        "flags": care_flags_section(detail.care_flags, lang),
        "needs": needs,
        "supplies": supplies_section(detail.supplies, page, names={s.id: s.name}),
        "trend": trend_section(detail.trend, lang, t(lang, "shelter_trend"), "trend-shelter"),
        "timeline": timeline,
    }


def care_flag(kind: str, value: int, lang: Lang) -> str:
    return t(lang, "pregnancy_weeks" if kind == "pregnancy" else "infant_months", n=value)


def care_flags_section(counts: Mapping[str, int], lang: Lang) -> Markup:
    """How many here are pregnant or have an infant, as the health department's flags say
    (while the gate releases them: during the disaster response). Counts only: who they are
    is in the person search, for staff allowed to search."""
    rows = [el("tr", {"data-care-flag": kind}, el("th", {"scope": "row"}, t(lang, key)),
               el("td", {"class": "num"}, _n(counts[kind])))
            for kind, key in (("pregnancy", "pregnant"), ("infant", "infant"))
            if counts.get(kind)]
    if not rows:
        return el("p", {"class": "empty"}, t(lang, "none"))
    return join(_table(t(lang, "care_flags"), [_th(t(lang, "care_flags")),
                                               _th(t(lang, "people"), numeric=True)], rows),
                el("p", {"class": "note"}, t(lang, "care_flags_note")))


def _counted(entry: dict[str, Any], field: str, value: int | None, lang: Lang) -> str:
    """A count of a status entry as the file wrote it: 約N when it said so."""
    if value is not None and field in entry.get("approximate", ()):
        return t(lang, "approximately", n=_n(value))
    return _n(value)


def _timeline_state(entry: dict[str, Any], lang: Lang) -> Markup | str:
    """Open, closed or unknown; the entries that opened or closed the shelter marked."""
    state = entry.get("open")
    text = t(lang, "open" if state else "closed") if state is not None else "–"
    change = entry.get("change")
    if change is None:
        return text
    return el("strong", {"class": f"change {change}"}, t(lang, f"change_{change}"))


def periods_list(periods: Iterable[dict[str, str | None]], lang: Lang) -> Markup:
    """When the shelter opened and closed, newest first."""
    items = [el("li", None,
                el("span", {"class": "opened"}, t(lang, "period_opened"), " ",
                   when(p.get("opened"))),
                " – ",
                el("span", {"class": "closed"}, t(lang, "period_closed"), " ",
                   when(p.get("closed"))) if p.get("closed")
                else el("span", {"class": "badge room"}, t(lang, "still_open")))
             for p in reversed(list(periods))]
    if not items:
        return el("p", {"class": "empty"}, t(lang, "periods_empty"))
    return el("ul", {"class": "periods"}, items)


SHELTER_ORDER = (("summary", "summary"), ("periods", "periods"),
                 ("care", "care_categories"), ("flags", "care_flags"), ("needs", "needs"),
                 ("supplies", "supplies"), ("trend", "shelter_trend"),
                 ("timeline", "timeline"))


# ---------------------------------------------------------------------------- pages

def _lang_link(page: Page) -> Markup:
    """The other language, named in that language (and marked as such for screen readers)."""
    other: Lang = "en" if page.lang == "ja" else "ja"
    return el("a", {"href": f"{page.path}?lang={other}", "lang": other, "hreflang": other},
              t(page.lang, "switch_lang"))


def _nav(page: Page, current: str) -> Markup:
    items = [("", "nav_overview")]
    if page.can_search:
        items.append(("search", "nav_search"))
    if page.can_inquire:
        items.append(("inquiry", "nav_inquiry"))
    links = [el("li", None, el("a", {"href": page.url(rest),
                                     "aria-current": "page" if rest == current else None},
                               t(page.lang, key))) for rest, key in items]
    links.append(el("li", None, _lang_link(page)))
    logout = el("form", {"method": "post", "action": page.url("logout"), "class": "logout"},
                el("button", {"type": "submit"}, t(page.lang, "logout")))
    who = el("p", {"class": "who"}, t(page.lang, "signed_in_as", name=page.person)) \
        if page.person else None
    return join(el("nav", {"aria-label": t(page.lang, "nav")}, el("ul", None, links)), who,
                logout)


def layout(page: Page, title: str, body: Markup, *, current: str | None = None,
           live_url: str | None = None) -> str:
    lang = page.lang
    head = el("head", None,
              el("meta", {"charset": "utf-8"}),
              el("meta", {"name": "viewport", "content": "width=device-width, initial-scale=1"}),
              el("title", None, title if title == t(lang, "app") else
                 f"{title} | {t(lang, 'app')}"),
              el("link", {"rel": "icon", "type": "image/svg+xml",
                          "href": page.url("static/icon.svg")}),
              el("link", {"rel": "stylesheet", "href": page.url("static/dashboard.css")}),
              el("script", {"src": page.url("static/dashboard.js"), "defer": True}))
    header = el("header", {"class": "top"},
                el("p", {"class": "brand"}, t(lang, "app")),
                _nav(page, current) if page.logged_in and current is not None else
                el("nav", {"aria-label": t(lang, "nav")},
                   el("ul", None, el("li", None, _lang_link(page)))))
    status = el("p", {"id": "live-status", "class": "live", "role": "status",
                      "data-connecting": t(lang, "live_connecting"),
                      "data-on": t(lang, "live_on"), "data-off": t(lang, "live_off")},
                "") if live_url else None
    main = el("main", {"id": "main", "tabindex": "-1", "data-live-url": live_url},
              el("h1", None, title), status, body)
    body_el = el("body", None, el("a", {"class": "skip", "href": "#main"}, t(lang, "skip")),
                 header, main)
    return "<!doctype html>" + el("html", {"lang": lang}, head, body_el)


def sectioned(sections: Sections, order: Iterable[tuple[str, str]], lang: Lang) -> Markup:
    return join(el("section", {"aria-labelledby": f"h-{name}", "class": f"panel {name}"},
                   el("h2", {"id": f"h-{name}"}, t(lang, key)),
                   el("div", {"data-live": name}, sections[name]))
                for name, key in order)


def overview_page(sections: Sections, page: Page, live_url: str) -> str:
    body = sectioned(sections, OVERVIEW_ORDER, page.lang)
    return layout(page, t(page.lang, "app"), body, current="", live_url=live_url)


def shelter_page(name: str, sections: Sections, page: Page, live_url: str) -> str:
    body = join(el("p", None, el("a", {"href": page.url()}, t(page.lang, "back"))),
                sectioned(sections, SHELTER_ORDER, page.lang))
    return layout(page, name, body, current="shelter", live_url=live_url)


def message_page(page: Page, title_key: str, message_key: str) -> str:
    body = join(el("p", {"role": "alert"}, t(page.lang, message_key)),
                el("p", None, el("a", {"href": page.url()}, t(page.lang, "back"))))
    return layout(page, t(page.lang, title_key), body, current="message")


def login_page(page: Page, *, error: bool = False, notice: str | None = None,
               staff_error: str | None = None, login: str = "", oidc: bool = False) -> str:
    """Three ways in: a person's login name, password and TOTP code; the municipality's
    OpenID Connect provider (when configured); a pasted token (scripts, the old way).
    ``staff_error`` is the stable code of a refused staff login, shown with its reason."""
    lang = page.lang
    alert = None
    if staff_error:
        key = f"err_{staff_error}" if f"err_{staff_error}" in MESSAGES else "err_oidc"
        alert = el("p", {"role": "alert", "class": "error"}, t(lang, key), " ",
                   el("small", None, t(lang, "err_code", code=staff_error)))
    elif error:
        alert = el("p", {"role": "alert", "class": "error"}, t(lang, "login_failed"))
    staff_bad = "true" if staff_error and staff_error.startswith("staff.") else None
    person = el(
        "section", {"aria-labelledby": "staff-login"},
        el("h2", {"id": "staff-login"}, t(lang, "staff_login")),
        el("p", {"id": "staff-login-intro"}, t(lang, "staff_login_intro")),
        el("form", {"method": "post", "action": page.url("login"), "class": "login"},
           el("label", {"for": "login"}, t(lang, "staff_login_label")),
           el("input", {"id": "login", "name": "login", "type": "text", "value": login,
                        "autocomplete": "username", "required": True, "spellcheck": "false",
                        "autocapitalize": "none", "aria-describedby": "staff-login-intro",
                        "aria-invalid": staff_bad}),
           el("label", {"for": "password"}, t(lang, "staff_password_label")),
           el("input", {"id": "password", "name": "password", "type": "password",
                        "autocomplete": "current-password", "required": True,
                        "aria-invalid": staff_bad}),
           el("label", {"for": "totp"}, t(lang, "staff_totp_label")),
           el("input", {"id": "totp", "name": "totp", "type": "text", "inputmode": "numeric",
                        "pattern": "[0-9]{6}", "maxlength": "6",
                        "autocomplete": "one-time-code", "required": True,
                        "aria-invalid": staff_bad}),
           el("button", {"type": "submit"}, t(lang, "staff_submit"))))
    municipality = el(
        "section", {"aria-labelledby": "oidc-login"},
        el("h2", {"id": "oidc-login"}, t(lang, "oidc_login")),
        el("p", None, t(lang, "oidc_intro")),
        # A link, not a form: Chrome applies the CSP's form-action 'self' to a form's
        # redirect too, which would stop the way to the provider.
        el("p", None, el("a", {"href": page.url("oidc/start"), "class": "signin"},
                         t(lang, "oidc_submit")))) if oidc else None
    form = el("form", {"method": "post", "action": page.url("login"), "class": "login"},
              el("label", {"for": "token"}, t(lang, "token_label")),
              el("input", {"id": "token", "name": "token", "type": "password",
                           "autocomplete": "off", "required": True, "spellcheck": "false",
                           "aria-describedby": "login-intro",
                           "aria-invalid": "true" if error else None}),
              el("button", {"type": "submit"}, t(lang, "login_submit")))
    token = el("section", {"aria-labelledby": "token-login"},
               el("h2", {"id": "token-login"}, t(lang, "token_login")),
               el("p", {"id": "login-intro"}, t(lang, "login_intro")), form)
    body = join(alert, el("p", {"role": "status"}, t(lang, notice)) if notice else None,
                person, municipality, token)
    return layout(page, t(lang, "login_title"), body)


def continue_page(page: Page) -> str:
    """After the provider's redirect: the session cookie is SameSite=Strict, which a browser
    withholds on a navigation that a cross-site redirect started, so the way on to the
    dashboard is a fresh same-site navigation (a refresh, or the link)."""
    body = join(el("meta", {"http-equiv": "refresh", "content": f"0;url={page.url()}"}),
                el("p", {"role": "status"}, t(page.lang, "oidc_continue")),
                el("p", None, el("a", {"href": page.url()}, t(page.lang, "continue"))))
    return layout(page, t(page.lang, "login_title"), body)


def search_page(page: Page, *, name: str = "", birth: str = "",
                hits: list[PersonHit] | None = None, limit: int = 0,
                error: str | None = None) -> str:
    lang = page.lang
    form = el("form", {"method": "post", "action": page.url("search"), "class": "search",
                       "role": "search"},
              el("div", {"class": "field"},
                 el("label", {"for": "q"}, t(lang, "search_name")),
                 el("input", {"id": "q", "name": "q", "type": "search", "value": name,
                              "required": True, "maxlength": 100, "autocomplete": "off",
                              "aria-invalid": "true" if error == "search_bad" else None})),
              el("div", {"class": "field"},
                 el("label", {"for": "birth"}, t(lang, "search_birth")),
                 el("input", {"id": "birth", "name": "birth", "type": "text", "value": birth,
                              "maxlength": 40, "autocomplete": "off",
                              "aria-describedby": "birth-hint",
                              "aria-invalid": "true" if error == "search_bad_birth" else None}),
                 el("p", {"id": "birth-hint", "class": "hint"}, t(lang, "search_birth_hint"))),
              el("button", {"type": "submit"}, t(lang, "search_submit")))
    parts: list[Markup | None] = [el("p", None, t(lang, "search_intro")), form]
    if error:
        parts.append(el("p", {"role": "alert", "class": "error"}, t(lang, error)))
    elif hits is not None:
        parts.append(_hits(page, hits, limit))
    return layout(page, t(lang, "search"), join(parts), current="search")


def _hits(page: Page, hits: list[PersonHit], limit: int) -> Markup:
    lang = page.lang
    shown = hits[:limit]
    summary = el("p", {"role": "status", "id": "search-summary"},
                 t(lang, "search_results", n=len(shown)) if shown else t(lang, "search_none"))
    if not shown:
        return summary

    def where(hit: PersonHit) -> Markup | str:
        stay = label(lang, vocab.STAY_TYPES, hit.stay_type) if hit.stay_type \
            else t(lang, "stay_unknown")
        if hit.shelter_id:
            return join(stay, "：" if lang == "ja" else ": ",
                        el("a", {"href": page.shelter_url(hit.shelter_id)},
                           hit.shelter_name or hit.shelter_id))
        return stay

    rows = [el("tr", None, el("th", {"scope": "row"}, h.name), el("td", None, h.kana or ""),
               el("td", None, h.birth_date), el("td", None, where(h)),
               el("td", None, when(h.stay_updated_at)),
               el("td", None, _list([*(label(lang, vocab.CARE_CATEGORIES, c) for c in h.care),
                                     *(care_flag(k, n, lang) for k, n in h.flags)], lang)))
            for h in shown]
    head = [_th(t(lang, k)) for k in ("name", "kana", "birth_date", "stay", "stay_since",
                                      "care_categories")]
    more = el("p", {"class": "note"}, t(lang, "search_more", n=limit)) \
        if len(hits) > limit else None
    return join(summary, more, _table(t(lang, "search_results", n=len(shown)), head, rows))

