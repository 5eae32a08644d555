"""RecordService.publish_many: the checks of publish on every record, all or nothing, one
transaction, pipelined publishes in commit order."""

from __future__ import annotations

import pytest

from connector.data.records import MAX_BATCH, PENDING, PUBLISHED, REJECTED, RecordError
from tests.connector.conftest import DATASET, shelter
from tests.connector.test_records import (
    assert_nothing_stored,
    opened,
    stream_messages,
    versions_table,
)
from trust.errors import JsonLdError
from trust.proofs import verify_document


async def test_batch_is_stored_and_streamed_in_order(provider):
    batch = [shelter(f"urn:tsunagu:test:shelter:{n}", capacity=n) for n in range(30)]
    batch.append(shelter("urn:tsunagu:test:shelter:3", capacity=999))  # a second version
    signed = await provider.records.publish_many(DATASET, batch)
    assert [s["version"] for s in signed] == [1] * 30 + [2]
    for document in signed:
        verify_document(document, expected_controller=provider.connector.did)
    assert [r[1:] for r in versions_table(provider)] == [(1, "created", 1)] * 30 + [
        (2, "updated", 1)]
    messages = await stream_messages(provider)
    assert [opened(provider, m) for m in messages] == signed
    assert [m.headers["Nats-Msg-Id"] for m in messages][-2:] == [
        "urn:tsunagu:test:shelter:29@1", "urn:tsunagu:test:shelter:3@2"]
    assert provider.connector.metrics.value(PUBLISHED, dataset=DATASET) == 31
    assert provider.connector.metrics.value(PENDING) == 0
    lines = provider.connector.audit.entries("published")
    assert [(e["record"], e["version"]) for e in lines] == [(s["id"], s["version"])
                                                             for s in signed]
    assert provider.records.get("urn:tsunagu:test:shelter:3")["capacity"] == 999


async def test_one_bad_record_stores_nothing(provider):
    batch = [shelter(f"urn:tsunagu:test:shelter:{n}") for n in range(5)]
    batch[3] = shelter("urn:tsunagu:test:shelter:3", capacty=10)  # a dropped term
    with pytest.raises(JsonLdError) as info:
        await provider.records.publish_many(DATASET, batch)
    assert info.value.code == "jsonld.dropped_term" and info.value.details["index"] == 3
    assert_nothing_stored(provider)
    assert provider.connector.metrics.value(REJECTED, reason="jsonld.dropped_term") == 1


@pytest.mark.parametrize("batch", [[], "x", [shelter()] * (MAX_BATCH + 1)])
async def test_batch_shape_is_checked(provider, batch):
    with pytest.raises(RecordError):
        await provider.records.publish_many(DATASET, batch)
    assert_nothing_stored(provider)
