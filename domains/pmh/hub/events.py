"""Events the hub raises for apps: ``pmh_events``, an ordered feed read by cursor.

Two audiences: ``family`` (reminders of vaccinations due, the status of a reimbursement
claim), read by a resident app whose token is limited to the family's subjects
(``TokenInfo.subjects``); ``staff`` (an EPDS follow-up for the public health nurse). Why a
table and not the connector's SSE stream (``/api/v1/events``): that stream carries records
received from others, through the usage gate; these events are the municipality's own
facts about its own people, so the hub keeps them and serves them on its routes with the
same subject scoping. Each event has a ``key`` so raising it twice (a reminder job run
twice on a day) stores it once.
"""

from __future__ import annotations

from collections.abc import Collection
from typing import Any

import orjson

SCHEMA = """
CREATE TABLE IF NOT EXISTS pmh_events (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    key TEXT NOT NULL UNIQUE,
    audience TEXT NOT NULL,          -- family | staff
    subject TEXT NOT NULL,           -- the person the event is about (a record id)
    type TEXT NOT NULL,
    body TEXT NOT NULL,
    at TEXT NOT NULL
);
"""

FAMILY, STAFF = "family", "staff"


def raise_event(db: Any, key: str, audience: str, subject: str, kind: str,
                body: dict[str, Any], at: str) -> bool:
    """Store the event once (``key``); whether it is new."""
    cur = db.execute("INSERT OR IGNORE INTO pmh_events (key, audience, subject, type, body, "
                     "at) VALUES (?, ?, ?, ?, ?, ?)",
                     (key, audience, subject, kind, orjson.dumps(body).decode(), at))
    return cur.rowcount == 1


def read(store: Any, audience: str, *, after: int = 0, subjects: Collection[str] | None = None,
         limit: int = 100) -> list[dict[str, Any]]:
    """Events after the cursor ``after``; only those about ``subjects`` when given."""
    where, params = "audience = ? AND seq > ?", [audience, after]
    if subjects is not None:
        if not subjects:
            return []
        where += f" AND subject IN ({', '.join('?' * len(subjects))})"
        params += sorted(subjects)
    rows = store.query(f"SELECT seq, subject, type, body, at FROM pmh_events WHERE {where} "
                       "ORDER BY seq LIMIT ?", (*params, limit))
    return [{**orjson.loads(body), "seq": seq, "subject": subject, "type": kind, "at": at}
            for seq, subject, kind, body, at in rows]
