"""``HeldRecords``: the tables of what this connector received, owned here and read by the gate.

Tables (created by the store's migrations, connector/store/database/migrations.py):

* ``held_records``: every version received under an agreement, body as received (the
  provider's signed bytes), with the agreement, dataset, provider, event and the record's
  first type IRI (``record_type``, indexed: domains ask for records of a type);
* ``deliveries``: what apps see, in order; ``UNIQUE (record_id, version)`` makes delivery
  exactly once, and its ``seq`` is the event stream's cursor;
* ``dead_letters``: received messages refused, with the code and reason (paths, never values).

Only the usage gate (``connector.control.gate``) holds this repository: bodies leave it only
through a decision. The pull loop writes through the gate too.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from connector.store.database import Store


@dataclass(frozen=True)
class HeldRow:
    rowid: int
    id: str
    version: int
    agreement_id: str
    dataset_id: str
    provider: str
    event: str
    received: str
    body: bytes


@dataclass(frozen=True)
class DeliveryRow:
    seq: int
    event: str
    id: str
    version: int
    dataset_id: str
    agreement_id: str | None
    at: str
    body: bytes | None  # None once the version was erased or purged


@dataclass(frozen=True, slots=True)
class HeldInsert:
    """One received version to store (``HeldRecords.insert_batch``)."""

    record_id: str
    version: int
    event: str
    body: bytes
    record_type: str | None


_ROWS_PER_STATEMENT = 500  # 6 parameters each: far below SQLite's 32,766 per statement
_HELD = ("rowid, id, version, agreement_id, dataset_id, provider, event, received, body")
_LATEST = "version = (SELECT max(version) FROM held_records m WHERE m.id = held_records.id)"


class HeldRecords:
    def __init__(self, store: Store) -> None:
        self.store = store

    # --- writing (inside the pull loop's transaction) ------------------------------------

    def insert_batch(self, db: Any, rows: Sequence[HeldInsert], *, agreement_id: str,
                     dataset_id: str, provider: str, at: str) -> set[tuple[str, int]]:
        """Store received versions, a few statements for the whole batch; returns the
        (id, version) pairs new to the apps' deliveries (a redelivery adds none)."""
        if not rows:
            return set()
        db.executemany("INSERT OR IGNORE INTO held_records (id, version, agreement_id, "
                       "dataset_id, provider, event, body, received, record_type) VALUES "
                       "(?, ?, ?, ?, ?, ?, ?, ?, ?)",
                       [(r.record_id, r.version, agreement_id, dataset_id, provider, r.event,
                         r.body, at, r.record_type) for r in rows])
        new: set[tuple[str, int]] = set()
        for start in range(0, len(rows), _ROWS_PER_STATEMENT):
            chunk = rows[start:start + _ROWS_PER_STATEMENT]
            # One multi-row INSERT: RETURNING names the rows it added, which executemany
            # cannot report; the order of RETURNING rows is unspecified, hence a set.
            params: list[Any] = []
            for r in chunk:
                params += (dataset_id, agreement_id, r.record_id, r.version, r.event, at)
            new.update(db.execute(
                "INSERT OR IGNORE INTO deliveries (dataset_id, agreement_id, record_id, "
                "version, event, at) VALUES " + ", ".join(["(?, ?, ?, ?, ?, ?)"] * len(chunk))
                + " RETURNING record_id, version", params).fetchall())
        return new

    @staticmethod
    def deleted_versions(db: Any, record_ids: Iterable[str]) -> dict[str, int]:
        """The newest deletion held of each of ``record_ids`` that has one: a version below
        it arrives too late (one query for a batch, not one per record)."""
        ids = list(dict.fromkeys(record_ids))
        newest: dict[str, int] = {}
        for start in range(0, len(ids), _ROWS_PER_STATEMENT):
            chunk = ids[start:start + _ROWS_PER_STATEMENT]
            newest.update(db.execute(
                "SELECT id, max(version) FROM held_records WHERE event = 'deleted' AND id IN "
                f"({', '.join('?' * len(chunk))}) GROUP BY id", chunk).fetchall())
        return newest

    @staticmethod
    def erase_before(db: Any, record_id: str, version: int) -> int:
        """Delete every held version of ``record_id`` older than ``version``."""
        return int(db.execute("DELETE FROM held_records WHERE id = ? AND version < ?",
                              (record_id, version)).rowcount)

    @staticmethod
    def purge_agreement(db: Any, agreement_id: str) -> int:
        """Delete everything held under an agreement (rows, not flags)."""
        return int(db.execute("DELETE FROM held_records WHERE agreement_id = ?",
                              (agreement_id,)).rowcount)

    @staticmethod
    def purge_records(db: Any, agreement_id: str, record_ids: list[str]) -> int:
        """Delete every held version of ``record_ids`` under an agreement."""
        return sum(int(db.execute("DELETE FROM held_records WHERE agreement_id = ? AND "
                                  "id = ?", (agreement_id, r)).rowcount) for r in record_ids)

    @staticmethod
    def dead_letter(db: Any, *, transfer_pid: str, stream_seq: int, code: str, reason: str,
                    at: str) -> bool:
        """Record a refused message once (a redelivery of it adds nothing)."""
        if db.execute("SELECT 1 FROM dead_letters WHERE transfer_pid = ? AND stream_seq = ?",
                      (transfer_pid, stream_seq)).fetchone():
            return False
        db.execute("INSERT INTO dead_letters (transfer_pid, stream_seq, code, reason, at) "
                   "VALUES (?, ?, ?, ?, ?)", (transfer_pid, stream_seq, code, reason[:1000], at))
        return True

    # --- reading (the gate only) ---------------------------------------------------------

    def latest(self, record_id: str) -> HeldRow | None:
        rows = self.store.query(f"SELECT {_HELD} FROM held_records WHERE id = ? "
                                "ORDER BY version DESC LIMIT 1", (record_id,))
        return HeldRow(*rows[0]) if rows else None

    def page(self, *, after: int = 0, limit: int = 100, dataset: str | None = None,
             record_type: str | None = None, latest_only: bool = False,
             live_only: bool = False, contains: str | None = None,
             agreements: Iterable[str] | None = None) -> list[HeldRow]:
        """Held versions in arrival order (``rowid`` > ``after``). ``latest_only``: each
        record's newest version; ``live_only``: not deleted; ``contains``: a text the
        serialised body holds (a prefilter: callers check exactly)."""
        where, params = ["rowid > ?"], [after]
        if dataset is not None:
            where.append("dataset_id = ?")
            params.append(dataset)
        if record_type is not None:
            where.append("record_type = ?")
            params.append(record_type)
        if latest_only:
            where.append(_LATEST)
        if live_only:
            where.append("event != 'deleted'")
        if contains is not None:
            where.append("instr(CAST(body AS TEXT), ?) > 0")
            params.append(contains)
        if agreements is not None:
            ids = list(agreements)
            where.append(f"agreement_id IN ({', '.join('?' * len(ids))})" if ids else "0")
            params.extend(ids)
        rows = self.store.query(f"SELECT {_HELD} FROM held_records WHERE "
                                f"{' AND '.join(where)} ORDER BY rowid LIMIT ?",
                                (*params, limit))
        return [HeldRow(*r) for r in rows]

    def deliveries(self, after: int, *, limit: int, dataset: str | None = None
                   ) -> list[DeliveryRow]:
        """Delivery events after ``after``, oldest first, with the body still held."""
        rows = self.store.query(
            "SELECT d.seq, d.event, d.record_id, d.version, d.dataset_id, d.agreement_id, d.at, "
            "h.body FROM deliveries d LEFT JOIN held_records h ON h.id = d.record_id AND "
            "h.version = d.version WHERE d.seq > ? "
            + ("AND d.dataset_id = ? " if dataset else "") + "ORDER BY d.seq LIMIT ?",
            (after, dataset, limit) if dataset else (after, limit))
        return [DeliveryRow(*r) for r in rows]

    # --- counts (no bodies: for metrics, demos and operators) ----------------------------

    def count(self, *, dataset: str | None = None, distinct: bool = False) -> int:
        what = "count(DISTINCT id)" if distinct else "count(*)"
        sql = f"SELECT {what} FROM held_records" + (" WHERE dataset_id = ?" if dataset else "")
        return int(self.store.query(sql, (dataset,) if dataset else ())[0][0])

    def newest_version(self, record_id: str) -> int | None:
        rows = self.store.query("SELECT max(version) FROM held_records WHERE id = ?",
                                (record_id,))
        return rows[0][0] if rows else None

    def dead_letters(self) -> list[dict[str, Any]]:
        rows = self.store.query("SELECT transfer_pid, stream_seq, code, reason, at "
                                "FROM dead_letters ORDER BY id")
        return [{"transfer": t, "streamSeq": s, "code": c, "reason": r, "at": a}
                for t, s, c, r, a in rows]
