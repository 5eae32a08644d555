"""The provider's outbox and stream erasure are looked at every few seconds (the retry loop):
each look reads only its own rows through a partial index (migration 8), not every version
ever published, which stopped the event loop for longer the more records a provider held
(issue 17, latency under load). A real SQLite store on disk."""

from __future__ import annotations

from connector.data.record_rows import TO_ERASE_SQL, UNPUBLISHED_SQL, RecordRows
from connector.store.database import Store


def plan(store: Store, sql: str, params: tuple) -> str:
    return " | ".join(row[3] for row in store.query(f"EXPLAIN QUERY PLAN {sql}", params))


def test_the_periodic_looks_search_their_partial_index_and_never_scan(tmp_path) -> None:
    store = Store(tmp_path / "provider.sqlite")
    unpublished = plan(store, UNPUBLISHED_SQL, (0,))
    to_erase = plan(store, TO_ERASE_SQL, (100,))
    assert "USING INDEX record_versions_unpublished" in unpublished, unpublished
    assert "USING INDEX record_versions_to_erase" in to_erase, to_erase
    assert "SCAN" not in unpublished and "SCAN" not in to_erase


def test_the_outbox_and_erasure_find_exactly_their_rows(tmp_path) -> None:
    store = Store(tmp_path / "provider.sqlite")
    rows = RecordRows(store)
    with store.transaction() as db:
        db.execute("INSERT INTO datasets (id, body, schema_id, stream, subject, created) "
                   "VALUES ('ds', '{}', NULL, 's', 'subj', '2026-12-06')")
        for n in range(300):
            for version in (1, 2):
                RecordRows.write(db, record_id=f"r{n}", dataset_id="ds", version=version,
                                 event="created" if version == 1 else "updated",
                                 body=b'{"v": 1}', modified="2026-12-06")
    everything = rows.unpublished()
    assert len(everything) == 600
    with store.transaction() as db:  # all acknowledged but the last version of r299
        RecordRows.mark_published(db, [(i + 1, u.rowid) for i, u in enumerate(everything[:-1])])
        RecordRows.erase_before(db, "r7", 2, "2026-12-06T00:00:00Z")
        RecordRows.erase_before(db, "r299", 2, "2026-12-06T00:00:00Z")
    assert [(u.record_id, u.version) for u in rows.unpublished()] == [("r299", 2)]
    # r7@1 is erased and in its stream, its tombstone-to-be r7@2 published: to erase. r299@1
    # is too but r299@2 is not published yet: not yet.
    assert [(e.record_id, e.version) for e in rows.to_erase_from_streams(10)] == [("r7", 1)]
