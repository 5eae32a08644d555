"""Hostile records inside a running transfer: each is refused into ``dead_letters`` with its
code, never enters ``held_records`` or ``deliveries``, and the stream goes on."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from typing import Any

import orjson
import pytest

from tests.e2e import conftest as e2e
from tests.e2e.conftest import negotiate, publish, publish_sealed, record
from trust.keys import KeyPair
from trust.proofs import sign_document

# The two-connector fixtures of tests/e2e, used here as they are.
authority, start_node, provider = e2e.authority, e2e.start_node, e2e.provider
consumer_config, consumer = e2e.consumer_config, e2e.consumer


async def wait_for(check: Callable[[], bool], timeout: float = 10.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return True
        await asyncio.sleep(0.05)
    return check()


async def start_transfer(consumer, provider) -> str:
    done = await negotiate(consumer, provider)
    transfer = await consumer.connector.transfers.start(done["agreementId"])
    await consumer.connector.transfers.wait(transfer["pid"], "STARTED")
    return transfer["pid"]


def signed_by_provider(provider) -> dict[str, Any]:
    return provider.records.get(record(1)["id"])


def tampered_body(provider) -> bytes:
    return orjson.dumps({**signed_by_provider(provider), "name": "偽の避難所", "version": 7})


def other_issuer(provider) -> bytes:
    """A valid proof, but by key X while the agreement's provider is Y."""
    body = {k: v for k, v in signed_by_provider(provider).items() if k != "proof"}
    return orjson.dumps(sign_document({**body, "version": 7}, KeyPair.generate()))


def proof_removed(provider) -> bytes:
    body = {k: v for k, v in signed_by_provider(provider).items() if k != "proof"}
    return orjson.dumps({**body, "version": 7})


def proof_list(provider) -> bytes:
    signed = signed_by_provider(provider)
    return orjson.dumps({**signed, "version": 7, "proof": [signed["proof"]] * 2})


def wrong_purpose(provider) -> bytes:
    signed = signed_by_provider(provider)
    return orjson.dumps({**signed, "version": 7,
                         "proof": {**signed["proof"], "proofPurpose": "authentication"}})


def unresolvable_key(provider) -> bytes:
    signed = signed_by_provider(provider)
    return orjson.dumps({**signed, "version": 7, "proof": {
        **signed["proof"], "verificationMethod": "did:key:zNotAKey#zNotAKey"}})


HOSTILE: dict[str, tuple[Callable[[Any], bytes], str]] = {
    "tampered-body": (tampered_body, "proof.bad_signature"),
    "proof-by-another-issuer": (other_issuer, "proof.wrong_signer"),
    "proof-removed": (proof_removed, "proof.missing"),
    "several-proofs": (proof_list, "proof.multiple"),
    "wrong-proof-purpose": (wrong_purpose, "proof.wrong_purpose"),
    "unresolvable-verification-method": (unresolvable_key, "proof.unresolvable_key"),
    "invalid-utf8-bytes": (lambda _: b'{"id": "urn:x:\xff\xfe", "version": 7}',
                           "record.malformed"),
    "not-json": (lambda _: b"<record/>", "record.malformed"),
    "json-array": (lambda _: b"[1, 2, 3]", "record.malformed"),
    "no-integer-version": (lambda p: orjson.dumps({**signed_by_provider(p), "version": "7"}),
                           "record.malformed"),
    "nested-2000-levels": (lambda _: b"[" * 2000 + b"]" * 2000, "record.malformed"),
}


@pytest.mark.parametrize("name", list(HOSTILE))
async def test_hostile_record_goes_to_dead_letters(provider, consumer, name):
    build, code = HOSTILE[name]
    pid = await start_transfer(consumer, provider)
    await publish(provider, range(1, 2))
    assert await wait_for(lambda: consumer.count("SELECT count(*) FROM deliveries") == 1)
    # Sealed with the stream's key: what gets past the seal, from someone who holds the key
    # but not the provider's signing key (the seal itself: tests/e2e/test_transfer.py).
    await publish_sealed(provider, "updated", build(provider), f"hostile-{name}")
    await publish(provider, range(2, 3))  # the stream goes on after the hostile message
    assert await wait_for(lambda: consumer.count("SELECT count(*) FROM deliveries") == 2)
    assert await wait_for(lambda: consumer.count("SELECT count(*) FROM dead_letters") == 1)
    letters = consumer.connector.store.query(
        "SELECT transfer_pid, stream_seq, code FROM dead_letters")
    assert [tuple(r) for r in letters] == [(pid, 2, code)]
    # Nothing of the hostile message was held or delivered.
    assert consumer.count("SELECT count(*) FROM held_records WHERE version = 7") == 0
    assert consumer.count("SELECT count(*) FROM deliveries WHERE version = 7") == 0
    assert sorted(r[0] for r in consumer.connector.store.query(
        "SELECT id FROM held_records")) == [record(1)["id"], record(2)["id"]]
    assert [e["code"] for e in consumer.connector.audit.entries("dead_letter")] == [code]


async def test_replayed_record_version_is_delivered_once(provider, consumer):
    """The same signed version appended again (another Nats-Msg-Id): exactly once."""
    await start_transfer(consumer, provider)
    await publish(provider, range(1, 2))
    assert await wait_for(lambda: consumer.count("SELECT count(*) FROM deliveries") == 1)
    replay = orjson.dumps(signed_by_provider(provider))
    for n in range(3):
        await publish_sealed(provider, "created", replay, f"replay-{n}")
    await publish(provider, range(2, 3))
    assert await wait_for(lambda: consumer.count("SELECT count(*) FROM deliveries") == 2)
    await asyncio.sleep(0.3)
    assert consumer.count("SELECT count(*) FROM deliveries") == 2
    assert consumer.count("SELECT count(*) FROM held_records") == 2
    assert consumer.count("SELECT count(*) FROM dead_letters") == 0
    assert len(consumer.connector.audit.entries("delivery")) == 2
