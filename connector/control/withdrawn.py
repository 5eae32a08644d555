"""``WithdrawnRecords``: the received records whose person withdrew consent (consumer side).

A provider that records a consent withdrawal tells every consumer holding records about the
person (connector.data.consent); the consumer's gate keeps the record ids here, with the
person under that agreement, and refuses every use of them from then on, purged or not, and
of any other record the same provider sends about the same person later (a new record id).
Both are kept in memory too: the gate asks on every release, and a withdrawal is rare while
reads are not. The sets only grow (a new consent is a new agreement), so an entry added
before its transaction commits can only make the gate refuse more, never less.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from connector.store.database import Store


@dataclass(frozen=True)
class Withdrawn:
    agreement_id: str
    record_id: str
    subject: str
    withdrawal_id: str
    purged: bool
    at: str


class WithdrawnRecords:
    def __init__(self, store: Store) -> None:
        self.store = store
        rows = store.query("SELECT agreement_id, record_id, subject FROM withdrawn_records")
        self._ids: set[str] = {r for _, r, _ in rows}
        self._subjects: dict[str, set[str]] = {}
        for agreement_id, _, subject in rows:
            self._subjects.setdefault(agreement_id, set()).add(subject)

    def __contains__(self, record_id: object) -> bool:
        return record_id in self._ids

    def __bool__(self) -> bool:
        return bool(self._ids)

    def add(self, db: Any, *, agreement_id: str, record_ids: list[str], subject: str,
            withdrawal_id: str, purged: bool, at: str) -> None:
        self._ids.update(record_ids)  # before the commit: refuse at once (fail closed)
        self._subjects.setdefault(agreement_id, set()).add(subject)
        db.executemany(
            "INSERT OR REPLACE INTO withdrawn_records (agreement_id, record_id, subject, "
            "withdrawal_id, purged, at) VALUES (?, ?, ?, ?, ?, ?)",
            [(agreement_id, r, subject, withdrawal_id, int(purged), at) for r in record_ids])

    def subjects_under(self, agreement_id: str) -> set[str]:
        """The people who withdrew consent to what is held under ``agreement_id``."""
        return self._subjects.get(agreement_id, set())

    def of_subject(self, subject: str, agreements: list[str]) -> list[Withdrawn]:
        """What was withdrawn about ``subject`` under any of ``agreements``."""
        if not agreements:
            return []
        rows = self.store.query(
            "SELECT agreement_id, record_id, subject, withdrawal_id, purged, at FROM "
            f"withdrawn_records WHERE subject = ? AND agreement_id IN "
            f"({', '.join('?' * len(agreements))}) ORDER BY at, record_id",
            (subject, *agreements))
        return [Withdrawn(a, r, s, w, bool(p), t) for a, r, s, w, p, t in rows]
