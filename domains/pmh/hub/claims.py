"""里帰り出産 reimbursement claims (償還払い): ``pmh_claim_rules`` (the municipality's caps and
deadlines, data it sets) and ``pmh_claims`` (one claim per checkup done outside the
prefecture, with its status).

A checkup a clinic in another prefecture records cannot use the home voucher; the home
municipality receives the record under its policy and the hub opens a claim in the same
transaction: the cap for the checkup kind, the deadline (the checkup date plus the rule's
months), and eligibility from residence on the checkup date. Staff approve or reject it
(a reason is required to reject); the family sees its status. ``deadline`` and ``Claim`` are
pure; the rest reads or writes the two tables.
"""

from __future__ import annotations

import calendar
import uuid
from dataclasses import dataclass
from datetime import date
from typing import Any

from domains.pmh.errors import HubRefusal, PmhCode
from trust.errors import ValidationError

SCHEMA = """
CREATE TABLE IF NOT EXISTS pmh_claim_rules (
    checkup_kind TEXT PRIMARY KEY,  -- an Encounter kind (pregnancy_checkup, ...)
    cap_yen INTEGER NOT NULL,       -- the most reimbursed for one checkup of that kind
    deadline_months INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS pmh_claims (
    id TEXT PRIMARY KEY,
    encounter TEXT NOT NULL UNIQUE,
    subject TEXT NOT NULL,
    checkup_kind TEXT NOT NULL,
    checkup_date TEXT NOT NULL,
    clinic TEXT NOT NULL,           -- the contributor's DID
    clinic_code TEXT,               -- 医療機関コード
    cap_yen INTEGER,                -- NULL: no rule for this kind (staff decide)
    deadline TEXT,
    eligible INTEGER NOT NULL,      -- resident on the checkup date
    status TEXT NOT NULL,           -- submitted | approved | rejected
    reason TEXT,
    decided_by TEXT,
    created TEXT NOT NULL,
    decided TEXT
);
"""

SUBMITTED, APPROVED, REJECTED = "submitted", "approved", "rejected"
_COLUMNS = ("id", "encounter", "subject", "checkup_kind", "checkup_date", "clinic",
            "clinic_code", "cap_yen", "deadline", "eligible", "status", "reason", "decided_by",
            "created", "decided")


@dataclass(frozen=True)
class Rule:
    cap_yen: int
    deadline_months: int


def deadline(checkup: date, months: int) -> date:
    """The last day to claim: the same day ``months`` later (the month's last day when it
    has none, as 民法第143条 counts)."""
    month = checkup.month - 1 + months
    year, month = checkup.year + month // 12, month % 12 + 1
    return date(year, month, min(checkup.day, calendar.monthrange(year, month)[1]))


def set_rule(db: Any, kind: str, rule: Rule) -> None:
    db.execute("INSERT OR REPLACE INTO pmh_claim_rules (checkup_kind, cap_yen, "
               "deadline_months) VALUES (?, ?, ?)", (kind, rule.cap_yen, rule.deadline_months))


def rule_for(db: Any, kind: str) -> Rule | None:
    rows = db.execute("SELECT cap_yen, deadline_months FROM pmh_claim_rules WHERE "
                      "checkup_kind = ?", (kind,)).fetchall()
    return Rule(rows[0][0], rows[0][1]) if rows else None


def open_claim(db: Any, *, encounter: str, subject: str, kind: str, on: date, clinic: str,
               clinic_code: str | None, eligible: bool, at: str) -> str:
    """Open the claim of a checkup (inside the transaction that stores it); its id."""
    rule = rule_for(db, kind)
    claim = f"urn:uuid:{uuid.uuid4()}"
    db.execute(
        "INSERT INTO pmh_claims (id, encounter, subject, checkup_kind, checkup_date, clinic, "
        "clinic_code, cap_yen, deadline, eligible, status, created) VALUES "
        "(?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        (claim, encounter, subject, kind, on.isoformat(), clinic, clinic_code,
         rule.cap_yen if rule else None,
         deadline(on, rule.deadline_months).isoformat() if rule else None, int(eligible),
         SUBMITTED, at))
    return claim


def _json(row: Any) -> dict[str, Any]:
    claim = dict(zip(_COLUMNS, row, strict=True))
    claim["eligible"] = bool(claim["eligible"])
    return claim


def get(store: Any, claim: str) -> dict[str, Any]:
    rows = store.query(f"SELECT {', '.join(_COLUMNS)} FROM pmh_claims WHERE id = ?", (claim,))
    if not rows:
        raise HubRefusal("no such claim", code=PmhCode.CLAIM_NOT_FOUND, claim=claim)
    return _json(rows[0])


def listed(store: Any, *, subjects: set[str] | None = None, status: str | None = None
           ) -> list[dict[str, Any]]:
    """Claims, oldest first; only those about ``subjects`` / in ``status`` when given."""
    rows = store.query(f"SELECT {', '.join(_COLUMNS)} FROM pmh_claims ORDER BY created, id")
    return [c for c in map(_json, rows)
            if (subjects is None or c["subject"] in subjects)
            and (status is None or c["status"] == status)]


def decide(db: Any, claim: dict[str, Any], *, approve: bool, reason: str | None, by: str,
           at: str) -> None:
    """Approve or reject a submitted claim (a rejection needs a reason)."""
    if claim["status"] != SUBMITTED:
        raise HubRefusal(f"the claim is already {claim['status']}", code=PmhCode.CLAIM_DECIDED,
                         claim=claim["id"])
    if not approve and not (reason or "").strip():
        raise ValidationError("a rejection gives its reason", field="reason")
    db.execute("UPDATE pmh_claims SET status = ?, reason = ?, decided_by = ?, decided = ? "
               "WHERE id = ? AND status = ?",
               (APPROVED if approve else REJECTED, reason, by, at, claim["id"], SUBMITTED))


def by_status(store: Any) -> dict[str, int]:
    return dict(store.query("SELECT status, count(*) FROM pmh_claims GROUP BY status"))


def by_clinic(store: Any) -> dict[str, tuple[int, int]]:
    """医療機関コード -> (claims, of those approved: settled)."""
    return {code: (n, approved) for code, n, approved in store.query(
        "SELECT coalesce(clinic_code, '?'), count(*),"
        " count(CASE WHEN status = 'approved' THEN 1 END) FROM pmh_claims GROUP BY 1")}
