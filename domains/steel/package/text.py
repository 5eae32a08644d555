"""A piece's chain as plain text lines, for ``tsunagu steel verify`` (whose command the
chain side wires): one line per link with its failing checks beneath, and the verdict last.
Pure; the same labels as the page and the view."""

from __future__ import annotations

from domains.steel import labels
from domains.steel.labels import Lang, t
from domains.steel.package.page import mass, when
from domains.steel.provenance import Provenance


def chain_lines(provenance: Provenance, lang: Lang = "ja") -> list[str]:
    flag = f" [{t(lang, 'flagged')}]"
    lines = [f"{provenance.piece_id} — {t(lang, 'holder')}: {provenance.holder_name}"]
    for n, link in enumerate(provenance.links, start=1):
        to = f" -> {link.receiver_name}" if link.receiver_name else ""
        lines.append(f"{n:>2}. {'✔' if link.verified else '✖'} {labels.kind(lang, link.kind)}"
                     f" {link.document_number or link.record_id} {link.issuer_name}{to}"
                     f" {when(link.at)} {mass(link.mass_kg)} kg"
                     f"{flag if link.flagged else ''}")
        for check in link.checks:
            if not check.ok:
                reason = check.reason_ja if lang == "ja" else check.reason_en
                lines.append(f"      ✖ {labels.check_name(lang, check.name)}: {reason}")
        for result in link.grade_results:
            if result.get("status") == "fail":
                lines.append(f"      ⚠ {labels.prop(lang, str(result.get('property')))} "
                             f"{result.get('actual')} ({result.get('limit')}, "
                             f"{result.get('clause')})")
    lines += [f"  ! {p}" for p in provenance.problems]
    verdict = t(lang, "verified" if provenance.verified else "not_verified")
    lines.append(verdict + (f" / {t(lang, 'flagged_banner')}" if provenance.flagged else ""))
    return lines
