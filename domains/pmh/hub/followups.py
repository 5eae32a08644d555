"""EPDS follow-up (産後うつ病のスクリーニング): ``pmh_followups``, what the municipality's
public health nurse must act on within the day.

The rule (``needs_follow_up``, pure): an EPDS total of 9 or more (the cut-off the 産婦健康
診査事業 uses for Japanese mothers), or any answer other than 0 on item 10 (self-harm), calls
for contact on the day of the checkup. The model holds the EPDS total as an Observation
(``epds_total``, 0-30, LOINC 71354-5); item 10 is ``epdsItem10`` on the same record when the
clinic gives it.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta, timezone
from typing import Any

SCHEMA = """
CREATE TABLE IF NOT EXISTS pmh_followups (
    observation TEXT PRIMARY KEY,   -- the EPDS Observation record id
    subject TEXT NOT NULL,          -- the mother
    reason TEXT NOT NULL,           -- epds_total | epds_item10
    due_by TEXT NOT NULL,           -- the end of the checkup day, Japan time (UTC, Z)
    clinic TEXT NOT NULL,
    status TEXT NOT NULL DEFAULT 'open',
    at TEXT NOT NULL
);
"""

CUT_OFF = 9
JAPAN = timezone(timedelta(hours=9))


def needs_follow_up(total: int, item10: int | None = None) -> str | None:
    """Why a follow-up is needed (``epds_item10`` first: it is the urgent one), or None."""
    if item10:
        return "epds_item10"
    if total >= CUT_OFF:
        return "epds_total"
    return None


def due_by(day: date) -> str:
    """The end of ``day`` in Japan, as UTC: the nurse acts within the day of the checkup."""
    end = datetime(day.year, day.month, day.day, tzinfo=JAPAN) + timedelta(days=1, seconds=-1)
    return end.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def open_follow_up(db: Any, observation: str, subject: str, reason: str, due: str,
                   clinic: str, at: str) -> None:
    db.execute("INSERT OR IGNORE INTO pmh_followups (observation, subject, reason, due_by, "
               "clinic, at) VALUES (?, ?, ?, ?, ?, ?)",
               (observation, subject, reason, due, clinic, at))


def open_ones(store: Any) -> list[dict[str, Any]]:
    rows = store.query("SELECT observation, subject, reason, due_by, clinic, at FROM "
                       "pmh_followups WHERE status = 'open' ORDER BY due_by, observation")
    return [dict(zip(("observation", "subject", "reason", "dueBy", "clinic", "at"), r,
                     strict=True)) for r in rows]


def counts(store: Any, now: str) -> tuple[int, int]:
    """(open follow-ups, of those past their due time ``now``, UTC ISO)."""
    (found,) = store.query("SELECT count(*), count(CASE WHEN due_by < ? THEN 1 END)"
                           " FROM pmh_followups WHERE status = 'open'", (now,))
    return found[0], found[1]
