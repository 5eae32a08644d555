"""Operator mode: a connector's catalog change events reach its own CATALOG stream (its NATS
user may publish tsunagu.catalog.<own>.>), signed by its key."""

from __future__ import annotations

import orjson

from connector.bus import subjects
from trust.proofs import verify_document


async def test_offer_and_withdraw_publish_signed_events(provider):
    did = provider.did
    js = provider.connector.js
    await provider.datasets.offer_dataset("urn:tsunagu:test:dataset:extra", "追加データ", [
        {"@id": "urn:tsunagu:test:offer:extra", "@type": "Offer",
         "permission": [{"action": "use"}]}])
    assert await provider.datasets.withdraw_dataset("urn:tsunagu:test:dataset:extra")
    info = await js.stream_info(subjects.catalog_stream(did))
    assert info.state.messages == 3  # the fixture's dataset, the extra one, its withdrawal
    last = await js.get_last_msg(subjects.catalog_stream(did), subjects.catalog_subject(did))
    event = orjson.loads(last.data)
    verify_document(event, expected_controller=did)
    assert (event["event"], event["dataset"]["@id"]) == ("withdrawn",
                                                         "urn:tsunagu:test:dataset:extra")
