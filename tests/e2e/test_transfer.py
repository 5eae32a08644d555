"""Streaming transfer: provider records -> JetStream -> consumer pull loop -> deliveries."""

from __future__ import annotations

import asyncio
import sqlite3
import time

import orjson
import pytest

from connector.bus import subjects
from connector.data.pull import DELIVERED, LAG
from connector.protocol.dsp import messages as m
from connector.protocol.dsp.validation import SCHEMA_FOR_TYPE, validate_message
from tests.e2e.conftest import (
    DATASET,
    delivered_in_audit,
    negotiate,
    publish,
    publish_sealed,
    record,
)
from trust.sealing import SEAL_HEADER, bound_to, seal, seal_header

N = 2000


async def delivered(node, n: int, timeout: float = 30.0) -> int:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        count = node.count("SELECT count(*) FROM deliveries")
        if count >= n:
            return count
        await asyncio.sleep(0.05)
    return node.count("SELECT count(*) FROM deliveries")


async def started_transfer(consumer, provider):
    done = await negotiate(consumer, provider)
    transfer = await consumer.connector.transfers.start(done["agreementId"])
    return done, await consumer.connector.transfers.wait(transfer["pid"], "STARTED")


async def test_records_arrive_exactly_once(provider, consumer):
    done, transfer = await started_transfer(consumer, provider)
    assert transfer["state"] == "STARTED"
    address = transfer["dataAddress"]
    props = {p["name"]: p["value"] for p in address["endpointProperties"]}
    assert props["stream"] == subjects.dataset_stream(provider.did, DATASET)
    assert address["endpoint"] == subjects.data_subject(provider.did, DATASET)
    info = await provider.connector.js.consumer_info(props["stream"], props["consumer"])
    assert info.config.max_ack_pending == 1024 and info.config.ack_policy == "explicit"

    began = time.monotonic()
    await publish(provider, range(N))
    published = time.monotonic() - began
    assert await delivered(consumer, N) == N
    print(f"{N} records: published in {published:.2f}s, all delivered after "
          f"{time.monotonic() - began:.2f}s")

    ids = {r[0] for r in consumer.connector.store.query("SELECT record_id FROM deliveries")}
    assert ids == {record(n)["id"] for n in range(N)}
    assert consumer.count("SELECT count(*) FROM held_records WHERE agreement_id = ?",
                          done["agreementId"]) == N
    assert delivered_in_audit(consumer) == N  # one audit line per batch
    assert consumer.count("SELECT count(*) FROM dead_letters") == 0
    for node in (consumer, provider):
        for message_type, payload in node.sent:
            if message_type in SCHEMA_FOR_TYPE:
                assert validate_message(payload) == message_type


async def test_metrics_count_deliveries_and_lag_per_transfer(provider, consumer):
    await publish(provider, range(N))  # all waiting before the transfer starts: lag > 0
    _, transfer = await started_transfer(consumer, provider)
    metrics, pid = consumer.connector.metrics, transfer["pid"]
    lags: list[float] = []
    while consumer.count("SELECT count(*) FROM deliveries") < N:
        lags.append(metrics.value(LAG, transfer=pid))
        await asyncio.sleep(0.002)
    await asyncio.sleep(0.2)  # the last batch's metrics, then an idle fetch
    assert max(lags) > 0
    assert metrics.value(LAG, transfer=pid) == 0
    assert metrics.value(DELIVERED, dataset=DATASET) == N
    text = metrics.exposition()
    assert "# TYPE tsunagu_stream_lag gauge" in text
    assert f'tsunagu_stream_lag{{transfer="{pid}"}} 0\n' in text
    assert f'tsunagu_deliveries_total{{dataset="{DATASET}"}} {N}\n' in text
    assert consumer.connector.transfers.get(pid)["state"] == "STARTED"  # streaming goes on


async def test_tampered_record_is_a_dead_letter_and_the_stream_goes_on(provider, consumer):
    await started_transfer(consumer, provider)
    await publish(provider, range(10))
    signed = provider.records.get(record(3)["id"])
    forged = {**signed, "name": "偽の避難所", "version": 99}
    # Sealed with the stream's key (someone who has it, but not the provider's signing key).
    await publish_sealed(provider, "updated", orjson.dumps(forged),
                         subjects.message_id(forged["id"], 99))
    await publish(provider, range(10, 20))
    assert await delivered(consumer, 20) == 20
    await asyncio.sleep(0.2)
    letters = consumer.connector.store.query("SELECT code, stream_seq FROM dead_letters")
    assert [code for code, _ in letters] == ["proof.bad_signature"]
    assert letters[0][1] == 11  # the forged message's stream sequence
    assert consumer.count("SELECT count(*) FROM deliveries WHERE version = 99") == 0


@pytest.mark.parametrize("how", ["unsealed", "altered", "moved"])
async def test_a_message_not_sealed_for_the_stream_is_a_dead_letter(provider, consumer, how):
    """What the NATS operator could inject or change: a plaintext record (even one the
    provider signed), a sealed one with bits flipped, or one moved to another record id."""
    await started_transfer(consumer, provider)
    await publish(provider, range(3))
    assert await delivered(consumer, 3) == 3
    c = provider.connector
    subject = subjects.data_subject(c.did, DATASET, "updated")
    stream = subjects.dataset_stream(c.did, DATASET)
    signed = provider.records.get(record(1)["id"])
    late = {**signed, "version": 7}
    message_id = subjects.message_id(late["id"], 7)
    key = c.content_keys.current(DATASET)
    sealed = seal(key, orjson.dumps(late), context=bound_to(subject, message_id))
    headers = {"Nats-Msg-Id": message_id, SEAL_HEADER: seal_header(key.epoch)}
    if how == "unsealed":
        body, headers = orjson.dumps(late), {"Nats-Msg-Id": message_id}
    elif how == "altered":
        body = sealed[:-1] + bytes([sealed[-1] ^ 1])
    else:  # the ciphertext of record 1 presented as another record's message
        body, headers = sealed, {**headers, "Nats-Msg-Id": "urn:tsunagu:test:shelter:2@7"}
    await c.js.publish(subject, body, stream=stream, headers=headers)
    await publish(provider, range(3, 5))
    assert await delivered(consumer, 5) == 5
    await asyncio.sleep(0.2)
    letters = consumer.connector.store.query("SELECT code FROM dead_letters")
    assert [code for (code,) in letters] == [
        "record.unsealed" if how == "unsealed" else "seal.invalid"]
    assert consumer.count("SELECT count(*) FROM deliveries WHERE version = 7") == 0


async def test_consumer_restart_mid_stream_loses_and_duplicates_nothing(
        provider, consumer, start_node):
    done, transfer = await started_transfer(consumer, provider)
    publishing = asyncio.create_task(publish(provider, range(N)))
    while consumer.count("SELECT count(*) FROM deliveries") < N // 4:
        await asyncio.sleep(0.01)
    await consumer.connector.stop()
    with sqlite3.connect(consumer.config.store_path) as db:
        stopped_at = db.execute("SELECT count(*) FROM deliveries").fetchone()[0]
    await publishing
    assert stopped_at < N  # it really stopped mid-stream
    restarted = await start_node(consumer.config)
    assert await delivered(restarted, N) == N
    await asyncio.sleep(0.3)  # let any redelivery arrive, to be ignored
    assert restarted.count("SELECT count(*) FROM deliveries") == N
    assert restarted.count("SELECT count(DISTINCT record_id) FROM deliveries") == N
    assert delivered_in_audit(restarted) == N  # one audit line per batch
    assert restarted.connector.transfers.get(transfer["pid"])["state"] == "STARTED"


async def test_suspend_stops_and_resume_continues(provider, consumer):
    _, transfer = await started_transfer(consumer, provider)
    await consumer.connector.transfers.suspend(transfer["pid"], "maintenance")
    ptransfer = provider.connector.transfers.list()[0]
    await provider.connector.transfers.wait(ptransfer["pid"], "SUSPENDED")
    await publish(provider, range(5))
    await asyncio.sleep(0.5)
    assert consumer.count("SELECT count(*) FROM deliveries") == 0
    await consumer.connector.transfers.resume(transfer["pid"])
    assert await delivered(consumer, 5) == 5
    await provider.connector.transfers.wait(ptransfer["pid"], "STARTED")


async def test_transfer_needs_the_agreement_assignee(provider, consumer):
    await started_transfer(consumer, provider)
    request = m.transfer_request("urn:uuid:x", agreement_id="urn:uuid:not-an-agreement",
                                 format="NATS-JetStream-pull", callback_address="nats:x")
    env, _ = await consumer.connector.bus.request(provider.did, request["@type"], request)
    assert env.message_type == "TransferError"
    assert env.payload["code"] == "transfer.unknown_agreement"
    validate_message(env.payload)
