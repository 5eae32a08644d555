"""Deleting a record erases its earlier versions: from the provider's store and from the
dataset's JetStream stream (a real nats-server, operator mode), while the tombstone stays."""

from __future__ import annotations

import pytest
from nats.js.errors import NotFoundError

from connector import subjects
from connector.audit import verify_chain
from connector.store import loads
from tests.e2e.conftest import DATASET, negotiate, record
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
    assert loads(tombstone.data)["deleted"] is True
    kept = await js.get_msg(stream, _seqs(provider, KEPT)[1])
    assert loads(kept.data)["name"] == record(2)["name"]
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
