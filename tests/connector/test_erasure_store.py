"""Erasure bookkeeping: the store migration that adds it, and streams that refuse deletes."""

from __future__ import annotations

import dataclasses
import sqlite3

from connector.bus import subjects
from connector.data.datasets import stream_config
from connector.store.database import SCHEMA_VERSION, Store
from connector.store.migrations import MIGRATIONS
from tests.connector.conftest import DATASET, OFFER, SHELTER_SCHEMA, shelter, start_provider


def test_a_version_1_store_is_migrated(tmp_path):
    path = tmp_path / "store.sqlite"
    db = sqlite3.connect(path)  # the shape a store had before erasure existed
    for statement in MIGRATIONS[0].statements:
        db.execute(statement)
    db.execute("INSERT INTO meta VALUES ('schema_version', '1')")
    db.commit()
    db.close()
    store = Store(path)
    columns = {r[1] for r in store.query("PRAGMA table_info(record_versions)")}
    assert {"stream_seq", "erased", "msg_erased"} <= columns
    assert store.query("SELECT value FROM meta WHERE key = 'schema_version'")[0][0] == \
        str(SCHEMA_VERSION)


async def test_a_stream_made_with_deny_delete_keeps_working_and_says_so(start_connector,
                                                                       provider_config):
    p = await start_provider(start_connector, provider_config)
    config = stream_config(p.connector.did, DATASET)
    legacy = dataclasses.replace(config, deny_delete=True)
    await p.connector.js.add_stream(legacy)
    await p.datasets.offer_dataset(DATASET, "指定避難所", [OFFER], SHELTER_SCHEMA)
    record = await p.records.publish(DATASET, shelter())
    await p.records.delete(DATASET, record["id"])
    stream = subjects.dataset_stream(p.connector.did, DATASET)
    assert (await p.connector.js.stream_info(stream)).config.deny_delete is True
    assert [tuple(r) for r in p.connector.store.query(
        "SELECT version, msg_erased FROM record_versions ORDER BY version")] == [(1, 2), (2, 0)]
    results = [e.get("result") for e in p.connector.audit.entries("erasure")]
    assert results == [None, "stream_refuses_deletes"]
    assert all("name" not in v for v in p.records.versions(record["id"]))


def test_every_store_overwrites_what_it_deletes_and_leaves_no_wal_after_an_erasure(tmp_path):
    """secure_delete is set explicitly (SQLite builds differ in their default), on the
    connector's store and the bosai hub's; an erasure's commit truncates the WAL."""
    from domains.bosai.store import BosaiStore

    for store in (Store(tmp_path / "c.sqlite"), BosaiStore(tmp_path / "b.sqlite")):
        assert store.query("PRAGMA secure_delete")[0][0] == 1
        store.close()
    store = Store(tmp_path / "c.sqlite")
    wal = tmp_path / "c.sqlite-wal"
    with store.transaction() as db:
        db.execute("INSERT INTO meta VALUES ('k', 'v')")
    assert wal.stat().st_size > 0
    with store.transaction() as db:
        db.execute("DELETE FROM meta WHERE key = 'k'")
        store.erased()
    assert wal.stat().st_size == 0
    try:
        with store.transaction():
            store.erased()
            raise RuntimeError("rolled back")
    except RuntimeError:
        pass
    with store.transaction() as db:  # a rolled-back erasure leaves no checkpoint pending
        db.execute("INSERT INTO meta VALUES ('k2', 'v')")
    assert wal.stat().st_size > 0
