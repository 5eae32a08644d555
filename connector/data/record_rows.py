"""``RecordRows``: the tables of this participant's own records, and every statement on them.

* ``records``: the latest version of each record (a tombstone once deleted), by dataset;
* ``record_versions``: every version, in commit order (``rowid``), which is also the outbox
  (``published``) and the erasure bookkeeping (``erased``, ``stream_seq``, ``msg_erased``;
  connector.data.erasure says what the columns mean).

The record service (connector.data.records), erasure and contributions use this interface;
nothing else runs SQL on these tables.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from connector.store.database import Store, loads

_CHUNK = 500  # ids per IN (...) query: well under SQLite's bound on parameters


# The outbox and the stream erasure, looked at every few seconds: each reads only its own
# rows through a partial index (migration 8; tests/connector/test_outbox_indexes.py).
UNPUBLISHED_SQL = (
    "SELECT v.rowid, v.id, v.version, v.event, v.body, r.dataset_id "
    "FROM record_versions v JOIN records r ON r.id = v.id "
    "WHERE v.rowid > ? AND v.published = 0 AND v.erased IS NULL ORDER BY v.rowid")
TO_ERASE_SQL = (
    "SELECT v.id, v.version, v.stream_seq, r.dataset_id FROM record_versions v "
    "JOIN records r ON r.id = v.id WHERE v.erased IS NOT NULL AND v.published = 1 "
    "AND v.msg_erased = 0 AND EXISTS (SELECT 1 FROM record_versions t "
    "WHERE t.id = v.id AND t.version > v.version AND t.published = 1 "
    "AND t.erased IS NULL) ORDER BY v.rowid LIMIT ?")

@dataclass(frozen=True)
class Current:
    version: int
    deleted: bool
    body: dict[str, Any]
    dataset_id: str


@dataclass(frozen=True)
class View:
    """A record as the app API shows it."""

    id: str
    dataset: str
    version: int
    deleted: bool
    body: bytes
    modified: str


@dataclass(frozen=True)
class Unpublished:
    rowid: int
    record_id: str
    version: int
    event: str
    body: bytes
    dataset_id: str


@dataclass(frozen=True)
class ToErase:
    record_id: str
    version: int
    stream_seq: int | None
    dataset_id: str


class RecordRows:
    def __init__(self, store: Store) -> None:
        self.store = store

    def _in_chunks(self, sql: str, ids: Sequence[str]) -> list[Any]:
        """``sql`` with ``{ids}`` standing for an IN list, run over ``ids`` in chunks."""
        rows: list[Any] = []
        for start in range(0, len(ids), _CHUNK):
            chunk = ids[start:start + _CHUNK]
            rows += self.store.query(sql.format(ids=", ".join("?" * len(chunk))), tuple(chunk))
        return rows

    # --- reading ---------------------------------------------------------------------------

    def current(self, record_ids: Iterable[str]) -> dict[str, Current]:
        """The latest version of each id that exists."""
        rows = self._in_chunks("SELECT id, version, deleted, body, dataset_id FROM records "
                               "WHERE id IN ({ids})", sorted(set(record_ids)))
        return {r[0]: Current(r[1], bool(r[2]), loads(r[3]), r[4]) for r in rows}

    def known(self, record_ids: Iterable[str]) -> set[str]:
        rows = self._in_chunks("SELECT id FROM records WHERE id IN ({ids})",
                               list(record_ids))
        return {r[0] for r in rows}

    def view(self, record_id: str) -> View | None:
        rows = self.store.query("SELECT id, dataset_id, version, deleted, body, modified "
                                "FROM records WHERE id = ?", (record_id,))
        return View(*rows[0][:3], bool(rows[0][3]), *rows[0][4:]) if rows else None

    def latest(self, record_id: str) -> dict[str, Any] | None:
        rows = self.store.query("SELECT body FROM records WHERE id = ?", (record_id,))
        return loads(rows[0][0]) if rows else None

    def in_dataset(self, dataset_id: str, *, include_deleted: bool = False
                   ) -> list[dict[str, Any]]:
        sql = "SELECT body FROM records WHERE dataset_id = ?"
        if not include_deleted:
            sql += " AND deleted = 0"
        return [loads(r[0]) for r in self.store.query(sql + " ORDER BY id", (dataset_id,))]

    def versions(self, record_id: str, only: Iterable[int] | None = None
                 ) -> dict[int, dict[str, Any]]:
        """Bodies of a record's versions (erased ones as their stub), by version."""
        rows = self.store.query("SELECT version, body FROM record_versions WHERE id = ? "
                                "ORDER BY version", (record_id,))
        wanted = None if only is None else set(only)
        return {v: loads(b) for v, b in rows if wanted is None or v in wanted}

    def published_after(self, dataset_id: str, after: int, limit: int
                        ) -> list[tuple[int, str, bytes]]:
        """(stream sequence, event, body) of the dataset's versions in its stream after
        ``after``, in stream order, erased ones left out: what the HTTP pull data plane
        serves (connector.dsp_http.data_plane), the same bytes the stream carries sealed."""
        return [(int(seq), str(event), bytes(body)) for seq, event, body in self.store.query(
            "SELECT v.stream_seq, v.event, v.body FROM record_versions v "
            "JOIN records r ON r.id = v.id WHERE r.dataset_id = ? AND v.published = 1 "
            "AND v.erased IS NULL AND v.stream_seq > ? ORDER BY v.stream_seq LIMIT ?",
            (dataset_id, after, limit))]

    # --- writing (inside the caller's transaction) ---------------------------------------------

    @staticmethod
    def write(db: Any, *, record_id: str, dataset_id: str, version: int, event: str,
              body: bytes, modified: str) -> None:
        """A new version: the latest row and the version row (unpublished: the outbox)."""
        db.execute(
            "INSERT INTO records (id, dataset_id, version, deleted, body, modified) "
            "VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (id) DO UPDATE SET "
            "version = excluded.version, deleted = excluded.deleted, "
            "body = excluded.body, modified = excluded.modified",
            (record_id, dataset_id, version, int(event == "deleted"), body, modified))
        db.execute("INSERT INTO record_versions (id, version, event, body, published) "
                   "VALUES (?, ?, ?, ?, 0)", (record_id, version, event, body))

    # --- the outbox --------------------------------------------------------------------------

    def unpublished(self, after: int = 0) -> list[Unpublished]:
        """Committed versions not yet in JetStream, in commit order (``rowid`` > ``after``:
        a range seek past rows known to be published)."""
        rows = self.store.query(UNPUBLISHED_SQL, (after,))
        return [Unpublished(*row) for row in rows]

    @staticmethod
    def mark_published(db: Any, acked: Iterable[tuple[int, int]]) -> None:
        """(stream sequence, rowid) of versions JetStream acknowledged. An ack for a version
        erased while it was in flight makes it pending erasure (msg_erased = 0)."""
        db.executemany("UPDATE record_versions SET published = 1, stream_seq = ?, "
                       "msg_erased = CASE WHEN erased IS NULL THEN msg_erased ELSE 0 END "
                       "WHERE rowid = ?", list(acked))

    # --- erasure -----------------------------------------------------------------------------

    @staticmethod
    def erase_before(db: Any, record_id: str, version: int, at: str) -> int:
        """Replace the bodies of every version before ``version`` by a stub (id, version,
        erased); unsent ones are not sent any more. Returns how many were erased."""
        return int(db.execute(
            "UPDATE record_versions SET erased = ?, "
            "body = CAST(json_object('id', id, 'version', version, 'erased', json('true')) "
            "AS BLOB), msg_erased = CASE WHEN published = 0 THEN 1 ELSE 0 END "
            "WHERE id = ? AND version < ? AND erased IS NULL",
            (at, record_id, version)).rowcount)

    def to_erase_from_streams(self, limit: int) -> list[ToErase]:
        """Erased versions still in their stream whose tombstone (a later published,
        unerased version) is in the stream too."""
        rows = self.store.query(TO_ERASE_SQL, (limit,))
        return [ToErase(*row) for row in rows]

    @staticmethod
    def mark_stream_erasure(db: Any, record_id: str, version: int, outcome: int) -> None:
        db.execute("UPDATE record_versions SET msg_erased = ? WHERE id = ? AND version = ?",
                   (outcome, record_id, version))
