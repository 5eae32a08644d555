"""Deleting a record erases its earlier versions: from the provider's store and from the
dataset's JetStream stream (a real nats-server, operator mode), while the tombstone stays."""

from __future__ import annotations

import pytest
from nats.js.errors import NotFoundError

from connector.bus import subjects
from connector.control.audit import verify_chain
from connector.store.database import loads
from tests.e2e.conftest import DATASET, PURPOSE, negotiate, publish_sealed, record
from tests.e2e.test_transfer import delivered

GONE = record(1)["id"]
KEPT = record(2)["id"]


def _seqs(node, record_id: str) -> dict[int, int]:
    return dict(node.connector.store.query(
        "SELECT version, stream_seq FROM record_versions WHERE id = ?", (record_id,)))


async def _publish_and_delete(provider) -> dict[int, int]:
    await provider.records.publish(DATASET, record(1))
    await provider.records.publish(DATASET, record(1, name="避難所 1 (移転)"))
    await provider.records.publish(DATASET, record(2))
    await provider.records.delete(DATASET, GONE)
    return _seqs(provider, GONE)


async def test_delete_erases_earlier_versions_from_stream_and_store(provider, consumer):
    seqs = await _publish_and_delete(provider)
    assert set(seqs) == {1, 2, 3} and all(seqs.values())
    js, stream = provider.connector.js, subjects.dataset_stream(provider.did, DATASET)
    for version in (1, 2):
        with pytest.raises(NotFoundError):
            await js.get_msg(stream, seqs[version])
    tombstone = await js.get_msg(stream, seqs[3])
    keys = provider.connector.content_keys

    def body(msg):
        return loads(keys.open_own(DATASET, msg.subject, msg.headers, msg.data))

    assert body(tombstone)["deleted"] is True
    kept = await js.get_msg(stream, _seqs(provider, KEPT)[1])
    assert body(kept)["name"] == record(2)["name"]
    assert (await js.stream_info(stream)).state.messages == 2

    # The store keeps ids and versions (the audit chain names them), not the bodies.
    versions = provider.records.versions(GONE)
    assert [(v["version"], v.get("erased")) for v in versions[:2]] == [(1, True), (2, True)]
    assert all("name" not in v for v in versions)
    erasures = provider.connector.audit.entries("erasure")
    assert [(e["where"], e.get("versions"), e.get("version"), e.get("result"))
            for e in erasures] == [("store", 2, None, None),
                                   ("stream", None, 1, "deleted"),
                                   ("stream", None, 2, "deleted")]
    assert verify_chain(provider.connector.audit.lines()).ok

    # A consumer starting afterwards receives the tombstone and the other record, never the
    # deleted record's personal versions.
    done = await negotiate(consumer, provider)
    transfer = await consumer.connector.transfers.start(done["agreementId"])
    await consumer.connector.transfers.wait(transfer["pid"], "STARTED")
    assert await delivered(consumer, 2) == 2
    got = consumer.connector.store.query(
        "SELECT record_id, version, event FROM deliveries ORDER BY seq")
    assert sorted(map(tuple, got)) == [(GONE, 3, "deleted"), (KEPT, 1, "created")]
    bodies = [loads(b) for (b,) in consumer.connector.store.query(
        "SELECT body FROM held_records")]
    assert all(b.get("name") != record(1)["name"] for b in bodies)


async def test_erasure_waits_for_nats_and_survives_a_restart(provider):
    js = provider.connector.js
    real_delete = js.delete_msg

    async def nats_away(*_: object, **__: object) -> bool:
        raise TimeoutError

    js.delete_msg = nats_away  # type: ignore[method-assign]
    seqs = await _publish_and_delete(provider)
    stream = subjects.dataset_stream(provider.did, DATASET)
    assert (await js.get_msg(stream, seqs[1])).seq == seqs[1]  # still there, pending
    pending = provider.count("SELECT count(*) FROM record_versions WHERE erased IS NOT NULL "
                             "AND msg_erased = 0")
    assert pending == 2
    assert all("name" not in v for v in provider.records.versions(GONE))  # store side done
    js.delete_msg = real_delete  # type: ignore[method-assign]

    await provider.connector.stop()  # a crash or restart before the retry
    await provider.connector.start()
    js = provider.connector.js
    for version in (1, 2):
        with pytest.raises(NotFoundError):
            await js.get_msg(stream, seqs[version])
    assert provider.count("SELECT count(*) FROM record_versions WHERE erased IS NOT NULL "
                          "AND msg_erased = 0") == 0


PERSONAL = ("消去花子の避難所", "九段南9-8-7番地")


async def test_a_received_deletion_erases_every_held_version_at_the_consumer(provider,
                                                                             consumer):
    """Issue 10 item 3: the consumer kept versions 1 and 2 in full after the tombstone."""
    from connector.control.decisions import Reader, Use
    from tests.e2e.test_transfer import started_transfer
    from tests.privacy import found_in_files, store_files

    await started_transfer(consumer, provider)
    # Other records around the deleted one, so that its rows lie between live ones in the
    # same pages (where only secure_delete overwrites what a delete frees).
    await provider.records.publish(DATASET, record(2))
    await provider.records.publish(DATASET, record(1, name=PERSONAL[0]))
    await provider.records.publish(DATASET, record(1, name=f"{PERSONAL[0]} {PERSONAL[1]}"))
    await provider.records.publish(DATASET, record(3))
    assert await delivered(consumer, 4) == 4
    for node in (provider, consumer):  # as SQLite's auto-checkpoint would have done by now:
        node.connector.store.checkpoint()  # the bodies are in the database file itself
    await provider.records.delete(DATASET, GONE)
    assert await delivered(consumer, 5) == 5

    store = consumer.connector.store
    held = store.query("SELECT version, event FROM held_records WHERE id = ?", (GONE,))
    assert [tuple(r) for r in held] == [(3, "deleted")]
    erasures = [e for e in consumer.connector.audit.entries("erasure")]
    assert [(e["where"], e["versions"], e["before"]) for e in erasures] == [("held", 2, 3)]
    assert not any(PERSONAL[0] in str(line) for line in consumer.connector.audit.lines())
    # The event stream's rows of the erased versions stay (the app's cursor), bodiless.
    stream = consumer.connector.gate.stream(Reader.app("tok_test"), Use(PURPOSE))
    events = [e for e in stream.page(0, 100)[0] if e["id"] == GONE]
    assert [(e["version"], e["event"], e["record"] is None) for e in events] == [
        (1, "created", True), (2, "updated", True), (3, "deleted", False)]
    assert verify_chain(consumer.connector.audit.lines()).ok
    for node in (provider, consumer):
        files = store_files(node.connector.config.store_path)
        assert len(files) == 3, files  # database, WAL and shared memory: all scanned
        assert not found_in_files(files, PERSONAL), node.connector.config.store_path


async def test_an_earlier_version_arriving_after_the_deletion_is_not_kept(provider,
                                                                          consumer):
    """A version that reaches the consumer after its record's tombstone (a redelivery of a
    batch that failed to commit) is not stored again: here the provider's own signed
    version 1 is appended to the stream once more, after the deletion."""
    from connector.store.database import dumps
    from tests.e2e.test_transfer import started_transfer
    from tests.privacy import found_in_files, store_files

    await started_transfer(consumer, provider)
    first = await provider.records.publish(DATASET, record(1, name=PERSONAL[0]))
    await provider.records.delete(DATASET, GONE)
    assert await delivered(consumer, 2) == 2
    # Under a message id of its own: JetStream would drop a second "id@1" as a duplicate.
    await publish_sealed(provider, "created", dumps(first), f"{GONE}@1#late")
    await provider.records.publish(DATASET, record(2))  # a marker after the late version
    assert await delivered(consumer, 3) == 3
    store = consumer.connector.store
    assert [tuple(r) for r in store.query(
        "SELECT version, event FROM held_records WHERE id = ?", (GONE,))] == [(2, "deleted")]
    assert store.query("SELECT count(*) FROM dead_letters")[0][0] == 0
    assert not found_in_files(store_files(consumer.connector.config.store_path), PERSONAL)
