"""The printable page of a provenance package, in Japanese with English labels beneath, as
submitted at a public-works material inspection (土木工事共通仕様書, 材料確認): the piece,
the chain from the mill to its holder, each link's checks with reasons, the grade checks per
property, a verified / NOT verified banner, flagged certificates marked wherever they appear,
and the verification QR code with its URL as text.

One self-contained HTML document (its style inline, no script, nothing fetched), printed as
is or through WeasyPrint (``pdf``). Every value goes through connector.web.markup. Pure.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime, timedelta, timezone
from typing import Any

from connector.web.markup import Markup, el, join
from domains.steel import labels
from domains.steel.labels import both
from domains.steel.package.qr import qr_svg
from domains.steel.provenance import ChainLink, Provenance

JST = timezone(timedelta(hours=9))

STYLE = """
@page { size: A4; margin: 14mm 12mm; }
html { font-family: "Noto Sans CJK JP", "Noto Sans JP", sans-serif; font-size: 10pt;
       color: #111; line-height: 1.45; }
body { margin: 0; }
h1 { font-size: 16pt; margin: 0 0 2pt; }
h2 { font-size: 12pt; margin: 14pt 0 4pt; border-bottom: 1.5pt solid #111; }
h3 { font-size: 10.5pt; margin: 10pt 0 3pt; }
.en { display: block; font-size: 7.5pt; color: #444; font-weight: normal; }
.lead { margin: 4pt 0 8pt; }
.banner { border: 2.5pt solid; padding: 6pt 10pt; margin: 6pt 0; font-size: 13pt;
          font-weight: bold; }
.banner.ok { border-color: #0a6b2d; color: #0a6b2d; }
.banner.bad { border-color: #b00020; color: #b00020; background: #fdecee; }
.banner.flag { border-color: #8a4b00; color: #5c3200; background: #fff4e0; }
.mark { display: inline-block; border: 1pt solid #8a4b00; color: #5c3200;
        background: #fff4e0; padding: 0 3pt; font-weight: bold; font-size: 8pt; }
table { border-collapse: collapse; width: 100%; margin: 2pt 0 6pt; }
th, td { border: 0.6pt solid #666; padding: 2pt 4pt; text-align: left; vertical-align: top; }
th { background: #eee; font-size: 8.5pt; }
td.num { text-align: right; font-variant-numeric: tabular-nums; }
tr { page-break-inside: avoid; }
dl.facts { display: grid; grid-template-columns: max-content 1fr; gap: 2pt 10pt; margin: 0; }
dl.facts dt { font-weight: bold; }
dl.facts dd { margin: 0; }
.fail, .ng { color: #b00020; font-weight: bold; }
.pass, .ok { color: #0a6b2d; }
.hash, .url { font-family: "Noto Sans Mono CJK JP", monospace; font-size: 7.5pt;
              word-break: break-all; }
.verify { display: flex; gap: 10pt; align-items: flex-start; page-break-inside: avoid; }
.verify svg { flex: none; }
ul.checks { margin: 0; padding-left: 12pt; }
"""


def _bi(key: str) -> Markup:
    ja, en = both(key)
    return join(ja, el("span", {"class": "en", "lang": "en"}, en))


def _pair(ja: str, en: str) -> Markup:
    return join(ja, el("span", {"class": "en", "lang": "en"}, en))


def when(at: str) -> str:
    """An ISO 8601 instant as Japan's date and time (records are signed in UTC)."""
    try:
        moment = datetime.fromisoformat(at)
    except ValueError:
        return at
    if moment.tzinfo is None:
        return moment.strftime("%Y-%m-%d %H:%M")
    return moment.astimezone(JST).strftime("%Y-%m-%d %H:%M")


def mass(value: float | None) -> str:
    return "—" if value is None else f"{value:,.0f}"


def flag_mark() -> Markup:
    ja, en = both("flagged")
    return el("span", {"class": "mark", "title": en}, f"⚠ {ja} / {en}")


def certificate_record(provenance: Provenance) -> Mapping[str, Any] | None:
    """The mill's certificate record (the first certificate link's)."""
    ids = [link.record_id for link in provenance.links if link.kind == "certificate"]
    return next((r for r in provenance.records if ids and r.get("id") == ids[0]), None)


def _product(record: Mapping[str, Any] | None) -> str:
    try:
        return str(record["en10168"]["Certificate"]["ProductDescription"]["B01"])  # type: ignore[index]
    except (KeyError, TypeError):
        return "—"


def banner(provenance: Provenance, problems: Sequence[str] = ()) -> Markup:
    ok = provenance.verified and not problems
    state = el("p", {"class": "banner ok" if ok else "banner bad", "role": "status",
                     "data-verified": "true" if ok else "false"},
               ("✔ " if ok else "✖ "), _bi("verified" if ok else "not_verified"))
    flag = (el("p", {"class": "banner flag", "data-flagged": "true"}, "⚠ ",
                 _bi("flagged_banner")) if provenance.flagged else None)
    return join(state, flag)


def _piece(provenance: Provenance) -> Markup:
    record = certificate_record(provenance) or {}
    grade = " ".join(str(record[k]) for k in ("gradeStandard", "gradeDesignation")
                     if record.get(k)) or "—"
    flagged = any(link.flagged for link in provenance.links if link.kind == "certificate")
    facts = (("piece_id", provenance.piece_id), ("holder", provenance.holder_name),
             ("grade", grade), ("heat", ", ".join(record.get("heatNumbers") or []) or "—"),
             ("cert_number", join(record.get("certificateNumber") or "—", " ",
                                  flag_mark() if flagged else None)),
             ("product", _product(record)))
    return el("section", None, el("h2", None, _bi("piece")),
              el("dl", {"class": "facts"},
                 [join(el("dt", None, _bi(k)), el("dd", None, v)) for k, v in facts]))


def _summary(link: ChainLink) -> Markup:
    if link.verified:
        return el("span", {"class": "ok"}, "✔ ", _bi("ok"))
    failed = [labels.check_name("ja", c.name) for c in link.checks if not c.ok]
    return el("span", {"class": "ng"}, "✖ ", _bi("ng"), "（", "、".join(failed), "）")


def _chain(provenance: Provenance) -> Markup:
    head = [_bi(k) for k in ("position", "kind", "issuer", "date", "document", "pieces",
                             "mass", "to", "checks")]
    rows = []
    for n, link in enumerate(provenance.links, start=1):
        rows.append(el("tr", {"data-link": link.kind, "data-flagged": "true" if link.flagged
                              else None},
                       el("td", {"class": "num"}, n),
                       el("td", None, _pair(labels.kind("ja", link.kind),
                                            labels.kind("en", link.kind)),
                          flag_mark() if link.flagged else None),
                       el("td", None, link.issuer_name),
                       el("td", None, when(link.at)),
                       el("td", None, link.document_number or "—"),
                       el("td", None, ", ".join(link.piece_ids)),
                       el("td", {"class": "num"}, mass(link.mass_kg)),
                       el("td", None, link.receiver_name or "—"),
                       el("td", None, _summary(link))))
    return el("section", None, el("h2", None, _bi("chain")),
              el("table", None, el("thead", None, el("tr", None,
                                                     [el("th", {"scope": "col"}, h)
                                                      for h in head])),
                 el("tbody", None, rows)))


def _link_checks(provenance: Provenance) -> Markup:
    parts = []
    for n, link in enumerate(provenance.links, start=1):
        items = []
        for check in link.checks:
            state = el("span", {"class": "ok" if check.ok else "ng"},
                       "✔ " if check.ok else "✖ ",
                       labels.t("ja", "ok" if check.ok else "ng"))
            reason = (join("：", check.reason_ja,
                           el("span", {"class": "en", "lang": "en"}, check.reason_en))
                      if not check.ok and (check.reason_ja or check.reason_en) else None)
            items.append(el("li", None, labels.check_name("ja", check.name), " ",
                            el("span", {"lang": "en"}, f"({labels.check_name('en', check.name)})"),
                            " ", state, reason))
        parts.append(el("div", {"data-link-checks": str(n)},
                        el("h3", None, f"{n}. ", labels.kind("ja", link.kind), " — ",
                           link.issuer_name, " ", flag_mark() if link.flagged else None),
                        el("ul", {"class": "checks"}, items or el("li", None, "—")),
                        el("p", {"class": "hash"}, labels.t("ja", "record_hash"), ": ",
                           link.record_hash, " (", link.record_id, ")")))
    return el("section", None, el("h2", None, _bi("link_checks")), parts)


def _label(key: str, lang: labels.Lang | None) -> Markup:
    return _bi(key) if lang is None else join(labels.t(lang, key))


def grade_table(results: Iterable[Mapping[str, Any]], lang: labels.Lang | None = None
                ) -> Markup:
    """One row per property: pass/fail, the actual value, the limit, the source clause.
    ``lang`` None: Japanese with English beneath (the printed page); else one language."""
    head = [_label(k, lang) for k in ("property", "result", "actual", "limit", "clause")]
    rows = []
    for r in results:
        status = str(r.get("status", ""))
        note = (el("span", {"class": "en"}, labels.t(lang or "ja", "limit_unverified"))
                if r.get("verified") is False else None)
        rows.append(el("tr", {"data-status": status},
                       el("th", {"scope": "row"},
                          labels.prop(lang or "ja", str(r.get("property", "")))),
                       el("td", {"class": status}, _label(status, lang)),
                       el("td", {"class": "num"}, r.get("actual", "—")),
                       el("td", None, r.get("limit") or "—", note),
                       el("td", None, r.get("clause") or "—")))
    return el("table", None, el("thead", None, el("tr", None, [el("th", {"scope": "col"}, h)
                                                               for h in head])),
              el("tbody", None, rows))


def _grades(provenance: Provenance) -> Markup:
    parts = []
    for n, link in enumerate(provenance.links, start=1):
        if not link.grade_results:
            continue
        parts.append(el("div", {"data-grade-checks": str(n)},
                        el("h3", None, f"{n}. ", link.document_number or link.record_id, " — ",
                           link.issuer_name, " ", flag_mark() if link.flagged else None),
                        grade_table(link.grade_results)))
    return el("section", None, el("h2", None, _bi("grade_checks")),
              parts or el("p", None, _bi("none")))


def _verify(provenance: Provenance, verify_url: str, digest: str, exported_at: str,
            findings: Sequence[str]) -> Markup:
    ja, en = both("qr_label")
    problems = (el("div", None, el("h3", None, _bi("problems")),
                   el("ul", None, [el("li", None, p)
                                   for p in (*provenance.problems, *findings)]))
                if provenance.problems or findings else None)
    return el("section", None, el("h2", None, _bi("verify")),
              el("div", {"class": "verify"},
                 el("div", {"role": "img", "aria-label": f"{ja} / {en}: {verify_url}"},
                    qr_svg(verify_url)),
                 el("div", None, el("p", None, _bi("verify_how")),
                    el("p", {"class": "url", "data-verify-url": True}, verify_url)
                    if verify_url != digest else None,
                    el("p", None, _bi("package_hash")), el("p", {"class": "hash"}, digest),
                    el("p", None, labels.t("ja", "exported"), " / ",
                       el("span", {"lang": "en"}, labels.t("en", "exported")), ": ",
                       when(exported_at)))),
              problems)


def render(provenance: Provenance, *, verify_url: str, package_digest: str,
           exported_at: str, findings: Sequence[str] = ()) -> str:
    """The page: ``verify_url`` is what the QR code encodes (the view's URL for the piece,
    or the package hash when the caller has no URL); ``findings``: what re-verifying the
    package itself found (any makes the page NOT verified)."""
    ja, _ = both("package_title")
    body = el("body", None,
              el("header", None, el("h1", None, _bi("package_title")),
                 el("p", {"class": "lead"}, _bi("package_lead"))),
              el("main", None, banner(provenance, findings), _piece(provenance), _chain(provenance),
                 _link_checks(provenance), _grades(provenance),
                 _verify(provenance, verify_url, package_digest, exported_at, findings)))
    head = el("head", None, el("meta", {"charset": "utf-8"}),
              el("title", None, f"{ja} — {provenance.piece_id}"),
              el("style", None, Markup(STYLE)))
    return "<!DOCTYPE html>\n" + el("html", {"lang": "ja"}, head, body)
