"""Where the municipality's people lived when: ``pmh_residence``, the periods the
municipality registers (住民登録), for the eligibility of a 里帰り claim on the checkup date."""

from __future__ import annotations

from datetime import date
from typing import Any

SCHEMA = """
CREATE TABLE IF NOT EXISTS pmh_residence (
    person TEXT NOT NULL,            -- the Mother or Child record id
    from_date TEXT NOT NULL,         -- YYYY-MM-DD, first day of residence
    until_date TEXT,                 -- YYYY-MM-DD, last day; NULL while resident
    PRIMARY KEY (person, from_date)
);
"""


def add(db: Any, person: str, start: date, until: date | None = None) -> None:
    db.execute("INSERT OR REPLACE INTO pmh_residence (person, from_date, until_date) "
               "VALUES (?, ?, ?)", (person, start.isoformat(),
                                    until.isoformat() if until else None))


def resident_on(db: Any, person: str, day: date) -> bool:
    """Whether ``person`` lived in the municipality on ``day`` (ISO dates compare as text);
    ``db`` is the open transaction's connection."""
    text = day.isoformat()
    return bool(db.execute(
        "SELECT 1 FROM pmh_residence WHERE person = ? AND from_date <= ? AND "
        "(until_date IS NULL OR until_date >= ?)", (person, text, text)).fetchall())
