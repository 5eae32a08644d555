"""A dataset whose records carry batch proofs (trust.batch_proofs), end to end: the provider
signs each published batch once, the consumer verifies every record (one signature check
per batch), and each record as the usage gate releases it verifies on its own."""

from __future__ import annotations

import asyncio
import time

import orjson

from connector.bus import subjects
from tests.e2e.conftest import (
    CITY_OFFER,
    DATASET,
    OPEN_OFFER,
    PURPOSE,
    negotiate,
    publish_sealed,
    record,
    use,
)
from trust import batch_proofs
from trust.proofs import RECORD_SUITES, verify_document

N = 600  # more than one fetch batch of the consumer (256)


async def delivered(node, n: int, timeout: float = 30.0) -> int:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and node.count("SELECT count(*) FROM deliveries") < n:
        await asyncio.sleep(0.05)
    return node.count("SELECT count(*) FROM deliveries")


async def test_batch_signed_records_arrive_and_each_verifies_on_its_own(provider, consumer):
    entry = await provider.datasets.offer_dataset(DATASET, "指定避難所", [OPEN_OFFER, CITY_OFFER],
                                                  record_proofs="batch")
    assert entry["tsunagu:recordProof"] == batch_proofs.CRYPTOSUITE  # what consumers see
    done = await negotiate(consumer, provider)
    transfer = await consumer.connector.transfers.start(done["agreementId"])
    await consumer.connector.transfers.wait(transfer["pid"], "STARTED")

    signed = await provider.records.publish_many(DATASET, [record(n) for n in range(N)])
    assert {s["proof"]["cryptosuite"] for s in signed} == {batch_proofs.CRYPTOSUITE}
    assert len({s["proof"]["proofValue"] for s in signed}) == 1  # one signature for the batch
    single = await provider.records.publish(DATASET, record(N))  # alone: a proof of its own
    assert single["proof"]["cryptosuite"] == "eddsa-jcs-2022"

    assert await delivered(consumer, N + 1) == N + 1
    assert consumer.count("SELECT count(*) FROM dead_letters") == 0
    for n in (0, 299, N - 1, N):
        released = use(consumer, record(n)["id"], PURPOSE)
        verified = verify_document(released, expected_controller=provider.did,
                                   suites=RECORD_SUITES)  # no cache: from what it carries
        assert verified.controller == provider.did


async def test_a_forged_member_of_a_batch_is_a_dead_letter(provider, consumer):
    """A record altered after signing fails on its own even though its batch's root was
    already verified for the other records."""
    await provider.datasets.offer_dataset(DATASET, "指定避難所", [OPEN_OFFER, CITY_OFFER],
                                          record_proofs="batch")
    done = await negotiate(consumer, provider)
    transfer = await consumer.connector.transfers.start(done["agreementId"])
    await consumer.connector.transfers.wait(transfer["pid"], "STARTED")
    signed = await provider.records.publish_many(DATASET, [record(n) for n in range(10)])
    forged = {**signed[3], "name": "偽の避難所", "version": 99}
    await publish_sealed(provider, "updated", orjson.dumps(forged),
                         subjects.message_id(forged["id"], 99))
    assert await delivered(consumer, 10) == 10
    await asyncio.sleep(0.3)
    letters = consumer.connector.store.query("SELECT code FROM dead_letters")
    assert [code for (code,) in letters] == ["proof.bad_signature"]
