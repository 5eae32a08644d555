"""Bytes that are not UTF-8, sent by a rogue participant logged in with its own operator-mode
NATS user (the data space's server, as the e2e connectors use it). The server's permissions
keep such bytes out of the DSP subject (the sender token is fixed by the rogue's account), but
not out of a header block on a subject the rogue may use; the provider's client
(``connector.bus.connection.TolerantClient``) must survive that, and the bus refuses it.

The frames go through nats-py's private ``_send_command``: its public API encodes subjects and
headers as UTF-8 text and cannot send these bytes."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest
from nats.aio.client import Client

from connector.bus.connection import close_nats
from connector.protocol.dsp import messages as m
from tests.e2e import conftest as e2e
from tests.nats_fixtures import participant_nats
from tests.security.helpers import hpub, pub
from trust.keys import KeyPair

authority, start_node, provider = e2e.authority, e2e.start_node, e2e.provider
consumer_config, consumer = e2e.consumer_config, e2e.consumer

REJECTED = "tsunagu_messages_rejected_total"
GARBAGE = b"not an envelope"


@pytest.fixture
async def rogue(space_nats) -> AsyncIterator[tuple[str, Client]]:
    """A participant's own NATS user; no credential is needed to send bytes."""
    did = KeyPair.generate().did
    nc = await participant_nats(space_nats, did)
    errors: list[str] = []

    async def on_error(exc: Exception) -> None:
        errors.append(str(exc))

    nc._error_cb = on_error  # keep the server's -ERR lines for the test to read
    nc.errors = errors  # type: ignore[attr-defined]
    yield did.removeprefix("did:key:"), nc
    await close_nats(nc, timeout=1)


async def send_raw(nc: Client, frame: bytes) -> None:
    await nc._send_command(frame)
    await nc.flush(timeout=5)  # the PONG comes after the server has handled the frame


async def still_answers(consumer, provider) -> None:
    env, _ = await consumer.connector.bus.request(provider.did, "CatalogRequestMessage",
                                                  m.catalog_request())
    assert env.message_type == "Catalog"


def inbox(node, sender_token: bytes) -> bytes:
    return b"tsunagu.dsp." + node.connector.identity.participant_id.encode() + b"." + sender_token


@pytest.mark.parametrize("headers", [b"NATS/1.0 \xff\xfe\xfd\r\n\r\n",
                                     b"NATS/1.0 100 \xff\xfe\r\nA: b\r\n\r\n"],
                         ids=["status-line", "status-description"])
async def test_rogue_header_block_of_invalid_utf8_is_refused_and_provider_keeps_answering(
        provider, consumer, rogue, headers):
    own, nc = rogue
    await send_raw(nc, hpub(inbox(provider, own.encode()), headers, GARBAGE))
    await still_answers(consumer, provider)
    assert provider.connector.metrics.value(REJECTED, reason="envelope.malformed") == 1
    assert provider.count("SELECT count(*) FROM negotiations") == 0


async def test_rogue_sender_token_of_invalid_utf8_is_refused_by_the_server(
        provider, consumer, rogue):
    own, nc = rogue
    await send_raw(nc, pub(inbox(provider, b"\xff\xfe"), GARBAGE))
    for _ in range(100):  # the -ERR may be read just after the PONG
        if any("permissions violation" in e.lower() for e in nc.errors):
            break
        await asyncio.sleep(0.02)
    assert any("permissions violation" in e.lower() for e in nc.errors), nc.errors
    await still_answers(consumer, provider)
    assert provider.connector.metrics.value(REJECTED, reason="envelope.bad_subject") == 0
