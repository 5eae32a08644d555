"""An infant's growth measurement placed against the growth reference, kept by the hub:
``pmh_growth``, one row per (Observation, reference edition).

Stored, not only computed at read: the reference is versioned data (``growth_reference``,
edition ``r5-2023``), and what the nurse and the family were shown at the checkup must stay
what that edition said when a later edition replaces it; the row names its edition, and a new
edition adds rows beside the old ones. Not written into the Observation itself: that is the
clinic's signed contribution (the hub cannot add to it), and the placement needs the child's
sex and birth date, which the municipality holds. A row is written in the transaction that
stores the Observation (the record listener), or at reindex for one stored before.

A value below P3 or above P97 raises a staff event ``pmh.growth.follow_up``: a notice that
the nurse looks again, never a diagnosis.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import date
from typing import Any

from domains.pmh import growth_reference as ref
from domains.pmh.hub import events, index

SCHEMA = """
CREATE TABLE IF NOT EXISTS pmh_growth (
    observation TEXT NOT NULL,      -- the Observation record id
    edition TEXT NOT NULL,          -- the growth reference's edition
    subject TEXT NOT NULL,          -- the child
    age_months REAL NOT NULL,
    band TEXT NOT NULL,             -- <P3 | P3–P10 | ... | >P97 | outside
    estimate REAL,                  -- estimated percentile; NULL outside P3-P97 or the ages
    follow_up INTEGER NOT NULL,
    at TEXT NOT NULL,
    PRIMARY KEY (observation, edition)
);
"""
FOLLOW_UP = "pmh.growth.follow_up"


def assess(db: Any, record: Mapping[str, Any], at: str) -> ref.Placement | None:
    """Place a growth Observation of a child the index holds (with a sex the reference
    has); None for anything else. Stored once per edition."""
    measure = ref.MEASURES.get(record.get("measurement", ""))
    value = record.get("value")
    if measure is None or not isinstance(value, int | float) or record.get("deleted"):
        return None
    found = index.birth_and_sex(db, record.get("subject"))
    if found is None or found[1] not in ("male", "female"):
        return None
    months = ref.age_months(date.fromisoformat(found[0]),
                            date.fromisoformat(str(record["effective"])[:10]))
    placed = ref.place(found[1], measure, months, float(value))
    cur = db.execute("INSERT OR IGNORE INTO pmh_growth VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                     (record["id"], placed.edition, record["subject"], round(months, 3),
                      placed.band, placed.estimate, int(placed.follow_up), at))
    if cur.rowcount == 1 and placed.follow_up:
        events.raise_event(db, f"growth:{record['id']}:{placed.edition}", events.STAFF,
                           record["subject"], FOLLOW_UP,
                           {"observation": record["id"], "measurement": record["measurement"],
                            "band": placed.band, "edition": placed.edition}, at)
    return placed


def assess_all(db: Any, records: Iterable[Mapping[str, Any]], at: str) -> int:
    """Place the growth Observations among ``records`` not placed yet (reindex)."""
    return sum(assess(db, r, at) is not None for r in records)


def placements(store: Any, observations: Iterable[str], edition: str | None = None
               ) -> dict[str, ref.Placement]:
    """The stored placements of ``observations`` under ``edition`` (the current one)."""
    ids = sorted(set(observations))
    if not ids:
        return {}
    edition = edition or ref.reference().edition
    rows = store.query(
        "SELECT observation, band, estimate, follow_up FROM pmh_growth WHERE edition = ? "
        f"AND observation IN ({', '.join('?' * len(ids))})", (edition, *ids))
    return {o: ref.Placement(band, estimate, bool(follow), edition)
            for o, band, estimate, follow in rows}
