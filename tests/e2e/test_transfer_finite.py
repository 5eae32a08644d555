"""Finite (snapshot) transfers: what the dataset held at the start, then COMPLETED on both
sides; and the per-transfer stream lag gauge."""

from __future__ import annotations

import asyncio
import sqlite3
from typing import Any

import nats.js.errors
import pytest

from connector.bus import subjects
from connector.data.pull import DELIVERED, LAG, endpoint_properties, within_snapshot
from connector.data.transfers import FINITE_FORMAT
from connector.protocol.dsp.validation import SCHEMA_FOR_TYPE, validate_message
from tests.e2e.conftest import DATASET, Node, delivered_in_audit, negotiate, publish, record

N = 1000
TIMEOUT = 30.0


async def finite_transfer(consumer: Node, provider: Node) -> dict[str, Any]:
    done = await negotiate(consumer, provider)
    started = await consumer.connector.transfers.start(done["agreementId"], finite=True)
    return await consumer.connector.transfers.wait(started["pid"], "STARTED", "COMPLETED")


async def completed(consumer: Node, provider: Node, pid: str) -> tuple[dict[str, Any], ...]:
    """Both sides' views once both are COMPLETED."""
    mine = await consumer.connector.transfers.wait(pid, "COMPLETED", "TERMINATED",
                                                   timeout=TIMEOUT)
    theirs = provider.connector.transfers.list()[0]
    theirs = await provider.connector.transfers.wait(theirs["pid"], "COMPLETED", "TERMINATED",
                                                     timeout=TIMEOUT)
    assert (mine["state"], theirs["state"]) == ("COMPLETED", "COMPLETED")
    return mine, theirs


def snapshot_of(view: dict[str, Any]) -> int:
    return int(endpoint_properties(view["dataAddress"])["snapshotSequence"])


def completions(*nodes: Node) -> int:
    return sum(1 for node in nodes for kind, _ in node.sent if kind == "TransferCompletionMessage")


def all_valid(*nodes: Node) -> None:
    for node in nodes:
        for message_type, payload in node.sent:
            if message_type in SCHEMA_FOR_TYPE:
                assert validate_message(payload) == message_type


async def durable_gone(provider: Node, view: dict[str, Any]) -> bool:
    props = endpoint_properties(view["dataAddress"])
    try:
        await provider.connector.js.consumer_info(props["stream"], props["consumer"])
    except nats.js.errors.NotFoundError:
        return True
    return False


async def test_snapshot_is_delivered_exactly_and_completes_on_both_sides(provider, consumer):
    await publish(provider, range(N))
    lags: list[float] = []
    transfer = await finite_transfer(consumer, provider)
    pid = transfer["pid"]

    async def sample() -> None:
        while True:
            lags.append(consumer.connector.metrics.value(LAG, transfer=pid))
            await asyncio.sleep(0.002)

    sampler = asyncio.create_task(sample())
    try:
        mine, theirs = await completed(consumer, provider, pid)
    finally:
        sampler.cancel()
    assert mine["format"] == theirs["format"] == FINITE_FORMAT
    assert snapshot_of(mine) == snapshot_of(theirs) == N  # stream sequences 1..N
    assert consumer.count("SELECT count(*) FROM deliveries") == N
    ids = {r[0] for r in consumer.connector.store.query("SELECT record_id FROM deliveries")}
    assert ids == {record(n)["id"] for n in range(N)}
    assert completions(consumer) == 1
    assert completions(provider) == 0  # the consumer ends it, not the provider
    assert await durable_gone(provider, theirs)
    all_valid(consumer, provider)
    # metrics: every delivery counted; the lag was seen above 0 and ends at 0
    metrics = consumer.connector.metrics
    assert metrics.value(DELIVERED, dataset=DATASET) == N
    assert max(lags) > 0
    assert metrics.value(LAG, transfer=pid) == 0
    text = metrics.exposition()
    assert f'{LAG}{{transfer="{pid}"}} 0\n' in text
    assert f'{DELIVERED}{{dataset="{DATASET}"}} {N}\n' in text


async def test_records_published_after_the_start_are_not_delivered(provider, consumer):
    await publish(provider, range(N))
    transfer = await finite_transfer(consumer, provider)
    pid = transfer["pid"]
    # Hold the transfer (its loop stops) while later records enter the stream, then resume:
    # the loop now sees them behind the snapshot and must leave them.
    held = await consumer.connector.transfers.suspend(pid, "hold")
    assert held["state"] == "SUSPENDED"
    assert consumer.count("SELECT count(*) FROM deliveries") < N
    await publish(provider, range(N, N + 100))
    await consumer.connector.transfers.resume(pid)
    mine, _ = await completed(consumer, provider, pid)
    assert snapshot_of(mine) == N
    assert consumer.count("SELECT count(*) FROM deliveries") == N
    assert consumer.count("SELECT max(CAST(substr(record_id, 26) AS INTEGER)) "
                          "FROM deliveries") == N - 1
    await asyncio.sleep(0.3)
    assert consumer.count("SELECT count(*) FROM held_records") == N
    assert consumer.count("SELECT count(*) FROM dead_letters") == 0
    all_valid(consumer, provider)


async def test_empty_dataset_completes_at_once(provider, consumer):
    transfer = await finite_transfer(consumer, provider)
    mine, theirs = await completed(consumer, provider, transfer["pid"])
    assert snapshot_of(mine) == snapshot_of(theirs) == 0
    await publish(provider, range(5))
    await asyncio.sleep(0.5)
    assert consumer.count("SELECT count(*) FROM deliveries") == 0
    assert consumer.connector.metrics.value(LAG, transfer=transfer["pid"]) == 0
    assert f'{DELIVERED}{{dataset="{DATASET}"}} 0\n' in consumer.connector.metrics.exposition()
    assert completions(consumer) == 1
    all_valid(consumer, provider)


async def test_consumer_restart_mid_snapshot_completes_exactly_once(
        provider, consumer, start_node):
    n = 2 * N
    await publish(provider, range(n))
    transfer = await finite_transfer(consumer, provider)
    while consumer.count("SELECT count(*) FROM deliveries") < n // 4:
        await asyncio.sleep(0.01)
    await consumer.connector.stop()
    with sqlite3.connect(consumer.config.store_path) as db:
        stopped_at = db.execute("SELECT count(*) FROM deliveries").fetchone()[0]
        state = db.execute("SELECT state FROM transfers WHERE pid = ?",
                           (transfer["pid"],)).fetchone()[0]
    assert stopped_at < n and state == "STARTED"  # it really stopped mid-snapshot
    await publish(provider, range(n, n + 50))  # after the start: not part of the snapshot
    restarted = await start_node(consumer.config)
    await completed(restarted, provider, transfer["pid"])
    await asyncio.sleep(0.3)  # let any redelivery arrive, to be ignored
    assert restarted.count("SELECT count(*) FROM deliveries") == n
    assert restarted.count("SELECT count(DISTINCT record_id) FROM deliveries") == n
    assert delivered_in_audit(restarted) == n  # one audit line per batch
    assert completions(consumer, restarted) == 1
    all_valid(consumer, restarted, provider)


@pytest.mark.parametrize("format", ["NATS-JetStream-pull", "nats-jetstream-snapshot"])
async def test_formats_are_accepted(provider, consumer, format):
    """Both formats start; only the snapshot one carries a snapshotSequence."""
    from connector.protocol.dsp import messages as m

    done = await negotiate(consumer, provider)
    request = m.transfer_request("urn:uuid:f", agreement_id=done["agreementId"],
                                 format=format, callback_address="nats:x")
    env, _ = await consumer.connector.bus.request(provider.did, request["@type"], request)
    assert env.message_type == "TransferProcess"
    theirs = provider.connector.transfers.list()[0]
    theirs = await provider.connector.transfers.wait(theirs["pid"], "STARTED")
    props = endpoint_properties(theirs["dataAddress"])
    assert ("snapshotSequence" in props) == format.endswith("snapshot")
    assert props["stream"] == subjects.dataset_stream(provider.did, DATASET)


async def test_messages_past_the_snapshot_are_left(provider):
    """The loop's last guard, on real JetStream messages: nothing past the snapshot."""
    await publish(provider, range(5))
    stream = subjects.dataset_stream(provider.did, DATASET)
    sub = await provider.connector.js.pull_subscribe(
        subjects.data_subject(provider.did, DATASET), durable="probe", stream=stream)
    msgs = await sub.fetch(5, timeout=2)
    assert [m.metadata.sequence.stream for m in within_snapshot(msgs, 3)] == [1, 2, 3]
    assert within_snapshot(msgs, 0) == []
    assert within_snapshot(msgs, None) == msgs
    await sub.unsubscribe()
