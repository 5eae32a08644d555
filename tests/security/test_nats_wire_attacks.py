"""Bytes on the NATS wire that are not UTF-8, written by a raw TCP client to a real connector's
DSP subject. nats-py 2.16 decoded subjects, replies and header status lines strictly inside its
read loop, so one such message stopped the connector from reading anything again
(``connector.bus.connection.TolerantClient``). Each test sends the hostile frame, shows that
the connector still answers a catalog request, that the frame was counted as refused, and that
nothing was stored."""

from __future__ import annotations

import pytest

from connector.protocol.dsp import messages as m
from tests.e2e import conftest as e2e
from tests.security.helpers import hpub, pub, raw_nats

# The two-connector fixtures of tests/e2e, used here as they are.
authority, start_node, provider = e2e.authority, e2e.start_node, e2e.provider
consumer_config, consumer = e2e.consumer_config, e2e.consumer


@pytest.fixture
def e2e_nats(nats_server):
    """A plain server: the raw client writes without credentials. In operator mode the server
    itself refuses these frames (no permission or import carries such a sender token), so
    this is the connector's own defence, for development setups (``insecure_no_auth``)."""
    return nats_server

REJECTED = "tsunagu_messages_rejected_total"
GARBAGE = b"not an envelope"


def dsp_subject(node, sender_token: bytes) -> bytes:
    return b"tsunagu.dsp." + node.connector.identity.participant_id.encode() + b"." + sender_token


def stored(node) -> tuple:
    store = node.connector.store
    return tuple(store.query(f"SELECT count(*) FROM {table}")[0][0]
                 for table in ("negotiations", "agreements", "transfers"))


async def still_answers(consumer, provider) -> None:
    env, _ = await consumer.connector.bus.request(provider.did, "CatalogRequestMessage",
                                                  m.catalog_request())
    assert env.message_type == "Catalog"
    assert [d["@id"] for d in env.payload["dataset"]] == [e2e.DATASET]


@pytest.mark.parametrize("token", [b"\xff\xfe", b"z6Mk\xc3", b"\xed\xa0\x80", b"\xc0\xae"],
                         ids=["ff-fe", "truncated-sequence", "encoded-surrogate",
                              "overlong-dot"])
async def test_sender_token_of_invalid_utf8_is_refused_and_the_connector_keeps_answering(
        provider, consumer, nats_server, token):
    before = stored(provider)
    await raw_nats(nats_server.url, pub(dsp_subject(provider, token), GARBAGE, b"_INBOX.raw"))
    await still_answers(consumer, provider)
    assert provider.connector.metrics.value(REJECTED, reason="envelope.bad_subject") == 1
    assert stored(provider) == before


async def test_reply_subject_of_invalid_utf8_does_not_stop_the_connector(
        provider, consumer, nats_server):
    sender = consumer.connector.identity.participant_id.encode()
    await raw_nats(nats_server.url, pub(dsp_subject(provider, sender), GARBAGE,
                                        b"_INBOX.\xff\xfe"))
    await still_answers(consumer, provider)
    # The subject is well formed, the envelope is not: refused as such, and unanswered.
    assert provider.connector.metrics.value(REJECTED, reason="envelope.malformed") == 1
    assert stored(provider) == (0, 0, 0)


@pytest.mark.parametrize("headers", [
    b"NATS/1.0 \xff\xfe\xfd\r\n\r\n",  # the inline status nats-py decodes strictly
    b"NATS/1.0 100 \xff\xfe\r\nA: b\r\n\r\n",  # a status description, then a header
    b"NATS/1.0\r\nX-Evil: \xff\xfe\r\n\r\n",  # a header value (nats-py already replaced)
], ids=["status-line", "status-description", "header-value"])
async def test_header_block_of_invalid_utf8_does_not_stop_the_connector(
        provider, consumer, nats_server, headers):
    sender = consumer.connector.identity.participant_id.encode()
    await raw_nats(nats_server.url, hpub(dsp_subject(provider, sender), headers, GARBAGE))
    await still_answers(consumer, provider)
    assert provider.connector.metrics.value(REJECTED, reason="envelope.malformed") == 1
    assert stored(provider) == (0, 0, 0)


async def test_many_hostile_frames_in_one_read_do_not_stop_the_connector(
        provider, consumer, nats_server):
    """Frames that arrive in one socket read are parsed in one go: each bad one is refused
    and the parser carries on with the next frame in the same buffer."""
    sender = consumer.connector.identity.participant_id.encode()
    frames = [pub(dsp_subject(provider, b"\xff%d" % i), GARBAGE) for i in range(20)]
    frames += [hpub(dsp_subject(provider, sender), b"NATS/1.0 \xff\r\n\r\n", GARBAGE)] * 5
    await raw_nats(nats_server.url, *frames)
    await still_answers(consumer, provider)
    assert provider.connector.metrics.value(REJECTED, reason="envelope.bad_subject") == 20
    assert provider.connector.metrics.value(REJECTED, reason="envelope.malformed") == 5


async def test_sender_token_that_is_not_a_participant_id_is_refused_before_the_envelope(
        provider, consumer):
    """Valid UTF-8 but no did:key multibase ("0", "O", "I", "l" are not base58): refused with
    its own code before the envelope is read, so it cannot touch the replay cache."""
    bus = consumer.connector.bus
    data = bus._seal(m.catalog_request(), provider.did, "CatalogRequestMessage")
    subject = dsp_subject(provider, b"z0OIl").decode()
    reply = await consumer.connector.nc.request(subject, data, timeout=5)
    env = bus._open(reply.data)[0]
    assert (env.message_type, env.payload["code"]) == ("error", "envelope.bad_subject")
    assert len(provider.connector.bus.replay_cache) == 0
    await still_answers(consumer, provider)
