"""The pmh views' pages and their live sections, as escaped-by-default markup."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from connector.web.markup import Markup, Sections, el, join
from domains.pmh import growth_reference, vocab
from domains.pmh.growth_reference import Placement
from domains.pmh.model import development
from domains.pmh.schedule import State, Status
from domains.pmh.views import growth
from domains.pmh.views.i18n import (
    STATES,
    Lang,
    encounter_kind,
    label,
    t,
    vaccine,
    voucher_kind,
)
from domains.pmh.views.queries import Overview

NEXT_STATES = (State.DUE, State.OVERDUE, State.ALLOWED, State.NOT_YET_ALLOWED)


@dataclass(frozen=True)
class Page:
    lang: Lang
    base: str  # the view's root URL, ending in /
    path: str  # this page's path (for the language switch)
    title_key: str  # "dashboard" or "family"
    who: str | None = None  # who is logged in (a staff person), for the header
    logged_in: bool = False


def _table(head: Sequence[str], rows: Iterable[Sequence[Any]], caption: str | None = None,
           numeric_from: int = 1) -> Markup:
    body = [el("tr", None, [el("th" if i == 0 else "td",
                               {"scope": "row"} if i == 0 else
                               ({"class": "num"} if i >= numeric_from else None), cell)
                            for i, cell in enumerate(row)]) for row in rows]
    if not body:
        return el("p", {"class": "empty"}, "—")
    return el("table", None, el("caption", {"class": "visually-hidden"}, caption) if caption
              else None,
              el("thead", None, el("tr", None, [
                  el("th", {"scope": "col", "class": "num" if i >= numeric_from else None}, h)
                  for i, h in enumerate(head)])),
              el("tbody", None, body))


def _pct(part: int, whole: int) -> str:
    return f"{100 * part / whole:.0f}%" if whole else "—"


def _empty(lang: Lang) -> Markup:
    return el("p", {"class": "empty"}, t(lang, "none"))


# ---------------------------------------------------------------------------- dashboard

def dashboard_sections(o: Overview, lang: Lang) -> Sections:
    tri = _table([t(lang, "trimester"), t(lang, "people")],
                 [(t(lang, f"t{n}"), o.trimesters[n]) for n in (1, 2, 3)])
    checkups = _table([t(lang, "kind"), t(lang, "due"), t(lang, "done"), t(lang, "rate")],
                      [(voucher_kind(lang, k), due, done, _pct(done, due))
                       for k, due, done in o.checkups]) if o.checkups else _empty(lang)
    blood = _table([t(lang, "test"), t(lang, "taken"), t(lang, "outside_period")],
                   [(label(lang, _TESTS, k), n, el("span", {"class": "alert"}, out) if out
                     else out) for k, n, out in o.blood_tests]
                   ) if o.blood_tests else _empty(lang)
    followups = el("dl", {"class": "totals"},
                   el("div", None, el("dt", None, t(lang, "open")),
                      el("dd", None, o.followups_open)),
                   el("div", None, el("dt", None, t(lang, "overdue")),
                      el("dd", {"class": "alert" if o.followups_overdue else None},
                         o.followups_overdue)))
    coverage = _table([t(lang, "cohort"), t(lang, "children"),
                       *(vaccine(lang, v) for v in o.vaccines)],
                      [(y, n, *(_pct(o.coverage.get((y, v), 0), n) for v in o.vaccines))
                       for y, n in o.cohorts]) if o.cohorts else _empty(lang)
    clinics = _table([t(lang, "clinic"), t(lang, "used"), t(lang, "settling"),
                      t(lang, "settled"), t(lang, "paid_yen"), t(lang, "claims_n"),
                      t(lang, "claims_approved")],
                     [(code, used, pending, paid, f"{yen:,}", n, approved)
                      for code, used, pending, paid, yen, n, approved in o.clinics]
                     ) if o.clinics else _empty(lang)
    claims = _table([t(lang, "status"), t(lang, "count")],
                    [(label(lang, _CLAIM_STATES, s), n) for s, n in sorted(o.claims.items())]
                    ) if o.claims else _empty(lang)
    return {"pregnancies": tri, "checkups": checkups, "blood_tests": blood,
            "followups": followups,
            "coverage": coverage, "clinics": clinics, "claims": claims}


_CLAIM_STATES = {"submitted": ("審査待ち", "submitted"), "approved": ("承認", "approved"),
                 "rejected": ("却下", "rejected")}
_TESTS = {k: (m.ja, m.en) for k, m in vocab.MEASUREMENTS.items() if m.pregnancy_test}
DASHBOARD_ORDER = ("pregnancies", "followups", "checkups", "blood_tests", "coverage",
                   "clinics", "claims")


# ---------------------------------------------------------------------------- family

@dataclass(frozen=True)
class ChildView:
    id: str
    name: str
    birth: str
    visits: list[Mapping[str, Any]]
    doses: list[Mapping[str, Any]]
    statuses: list[Status]
    weight: list[growth.Point]
    height: list[growth.Point]
    development: list[Mapping[str, Any]]  # development_item observations, oldest first
    sex: str | None = None
    # each point's band against the growth reference (None: not placed), as the points
    weight_bands: list[Placement | None] = field(default_factory=list)
    height_bands: list[Placement | None] = field(default_factory=list)


def development_section(records: Sequence[Mapping[str, Any]], lang: Lang) -> Markup:
    """発達の確認 as answered at each checkup: the item's text, the answer, and a mark on an
    answer the nurse looks at again (no judgement is drawn)."""
    rows = []
    for r in records:
        it = development.item(r.get("checkupAge", ""), r.get("item", ""))
        if it is None:
            continue  # an item the municipality's current table no longer lists
        answer = label(lang, vocab.ANSWERS, r.get("answer"))
        rows.append((str(r.get("effective", ""))[:10],
                     label(lang, vocab.CHECKUP_AGES, it.age), it.ja if lang == "ja" else it.en,
                     el("span", {"class": "follow"}, answer, " ", t(lang, "to_follow"))
                     if it.to_follow(r.get("answer", "")) else answer))
    return _table([t(lang, "date"), t(lang, "checkup"), t(lang, "item"), t(lang, "answer")],
                  rows, numeric_from=9) if rows else _empty(lang)


def family_sections(child: ChildView, lang: Lang, n: int) -> Sections:
    visits = _table([t(lang, "date"), t(lang, "kind"), t(lang, "clinic_name")],
                    [(str(v.get("start", ""))[:10], encounter_kind(lang, v.get("encounterKind")),
                      (v.get("clinic") or {}).get("name") or (v.get("clinic") or {}).get("code"))
                     for v in child.visits], numeric_from=9) if child.visits else _empty(lang)
    doses = _table([t(lang, "date"), t(lang, "vaccine"), t(lang, "dose")],
                   [(d.get("occurred"), vaccine(lang, d.get("vaccine", "")),
                     d.get("doseNumber")) for d in child.doses], numeric_from=2
                   ) if child.doses else _empty(lang)
    upcoming = sorted((s for s in child.statuses if s.state in NEXT_STATES),
                      key=lambda s: (s.due or s.earliest or s.day, s.vaccine))[:6]
    nexts = el("ul", {"class": "due"}, [
        el("li", {"class": f"state-{s.state}"},
           el("strong", None, s.name_ja if lang == "ja" else s.name_en),
           f"（{s.dose}）" if lang == "ja" else f" (dose {s.dose})", " — ",
           label(lang, STATES, str(s.state)), " ", s.ja if lang == "ja" else s.en)
        for s in upcoming]) if upcoming else _empty(lang)
    charts = join(
        el("p", {"class": "note"}, t(lang, "growth_note")),
        el("div", {"class": "charts"},
           _growth_figure(child.weight, child.weight_bands, child.sex, "weight", f"w{n}", lang),
           _growth_figure(child.height, child.height_bands, child.sex, "height", f"h{n}",
                          lang)),
        el("p", {"class": "source"}, t(lang, "growth_source"),
           el("span", {"lang": "ja"} if lang == "en" else None,
              growth_reference.reference().attribution[0])))
    return {f"history-{n}": visits, f"vaccinations-{n}": doses, f"next-{n}": nexts,
            f"growth-{n}": charts, f"development-{n}": development_section(child.development,
                                                                         lang)}


def _growth_figure(points: list[growth.Point], bands: list[Placement | None],
                   sex: str | None, measure: str, chart_id: str, lang: Lang) -> Markup:
    what = t(lang, measure)
    x_top = max([12.0, *(p[0] for p in points)])
    return el("figure", None,
              growth.growth_svg(points, lang, what=what, chart_id=chart_id,
                                curves=growth.reference_curves(sex, measure, x_top)),
              growth.growth_table(points, lang, what, bands))


def claims_section(claims: Sequence[Mapping[str, Any]], lang: Lang) -> Markup:
    return _table([t(lang, "date"), t(lang, "kind"), t(lang, "status"), t(lang, "cap"),
                   t(lang, "deadline"), t(lang, "reason")],
                  [(c["checkup_date"], encounter_kind(lang, c["checkup_kind"]),
                    label(lang, _CLAIM_STATES, c["status"]), c["cap_yen"], c["deadline"],
                    c["reason"] or "") for c in claims], numeric_from=3
                  ) if claims else _empty(lang)


FAMILY_ORDER = (("next", "next"), ("history", "history"), ("vaccinations", "vaccinations"),
                ("growth", "growth"), ("development", "development"))


# ---------------------------------------------------------------------------- layout

def _section(name: str, title: str, content: Markup, level: str = "h2") -> Markup:
    return el("section", {"aria-labelledby": f"h-{name}"},
              el(level, {"id": f"h-{name}"}, title),
              el("div", {"data-live": name}, content))


def layout(page: Page, body: Markup, live_url: str | None = None) -> str:
    lang, other = page.lang, "en" if page.lang == "ja" else "ja"
    title = t(lang, page.title_key)
    header = el("header", None,
                el("p", {"class": "app"}, title),
                el("nav", {"aria-label": "menu" if lang == "en" else "メニュー"},
                   el("a", {"href": f"{page.path}?lang={other}", "lang": other,
                            "hreflang": other}, t(lang, "switch_lang")),
                   el("span", {"class": "who"}, t(lang, "signed_in_as", name=page.who))
                   if page.who else None,
                   el("form", {"method": "post", "action": page.base + "logout"},
                      el("button", {"type": "submit"}, t(lang, "logout")))
                   if page.logged_in else None))
    status = el("p", {"id": "live-status", "role": "status",
                      "data-connecting": t(lang, "live_connecting"),
                      "data-on": t(lang, "live_on"), "data-off": t(lang, "live_off")}
                ) if live_url else None
    main = el("main", {"id": "main", "tabindex": "-1", "data-live-url": live_url},
              el("h1", None, title), status, body)
    head = el("head", None, el("meta", {"charset": "utf-8"}),
              el("meta", {"name": "viewport", "content": "width=device-width, initial-scale=1"}),
              el("title", None, title),
              el("link", {"rel": "icon", "href": page.base + "static/icon.svg",
                          "type": "image/svg+xml"}),
              el("link", {"rel": "stylesheet", "href": page.base + "static/pmh.css"}),
              el("script", {"src": page.base + "static/pmh.js", "defer": True}))
    skip = el("a", {"class": "skip", "href": "#main"}, t(lang, "skip"))
    return "<!doctype html>" + el("html", {"lang": lang}, head,
                                  el("body", None, skip, header, main))


def dashboard_page(page: Page, sections: Sections, live_url: str) -> str:
    body = el("div", {"class": "grid"}, [_section(n, t(page.lang, n), sections[n])
                                         for n in DASHBOARD_ORDER])
    return layout(page, body, live_url)


def family_page(page: Page, children: Sequence[ChildView], sections: Sections,
                live_url: str | None) -> str:
    lang = page.lang
    parts = [] if children else [el("p", None, t(lang, "no_children"))]
    for n, child in enumerate(children):
        parts.append(el("article", {"aria-labelledby": f"h-child-{n}", "class": "child"},
                        el("h2", {"id": f"h-child-{n}"}, child.name, " ",
                           el("small", None, t(lang, "born", date=child.birth))),
                        [_section(f"{name}-{n}", t(lang, key), sections[f"{name}-{n}"], "h3")
                         for name, key in FAMILY_ORDER]))
    parts.append(_section("claims", t(lang, "family_claims"), sections["claims"]))
    return layout(page, join(*parts), live_url)


def login_page(page: Page, *, staff: bool, failed: bool = False, notice: str | None = None
               ) -> str:
    lang = page.lang
    fields = []
    if staff:
        fields.append(el("fieldset", None, el("legend", None, t(lang, "login_staff")),
                         _field("login", t(lang, "login_name"), "text", "username"),
                         _field("password", t(lang, "password"), "password",
                                "current-password"),
                         _field("totp", t(lang, "totp"), "text", "one-time-code")))
    fields.append(_field("token", t(lang, "or_token") if staff else t(lang, "token_label"),
                         "password", "off"))
    body = el("section", {"aria-labelledby": "h-login", "class": "login"},
              el("h2", {"id": "h-login"}, t(lang, "login_title")),
              el("p", {"class": "error", "role": "alert"}, t(lang, "login_failed"))
              if failed else None,
              el("p", {"role": "status"}, t(lang, notice)) if notice else None,
              el("form", {"method": "post", "action": page.base + "login"}, fields,
                 el("button", {"type": "submit"}, t(lang, "login_submit"))))
    return layout(page, body)


def _field(name: str, text: str, kind: str, complete: str) -> Markup:
    return el("p", None, el("label", {"for": f"f-{name}"}, text),
              el("input", {"id": f"f-{name}", "name": name, "type": kind,
                           "autocomplete": complete}))


def message_page(page: Page, key: str) -> str:
    return layout(page, el("p", None, t(page.lang, key)))
