"""What DSP over HTTPS must remember outlives a restart (kept in the store): the callback
addresses learned from counterparties, the consumer's position in an HTTP pull transfer, and
the ID tokens already used."""

from __future__ import annotations

import asyncio
import socket

import pytest

from connector.control.decisions import Reader, Use
from connector.control.gate import UsageDenied
from connector.dsp_http.pull import position
from connector.runtime.connector import Connector
from tests.dsp_http.conftest import Pair, Space
from tests.dsp_http.test_end_to_end import wait_held
from tests.dsp_http.test_usage_control import RECORD, agreement_status, holding
from tests.e2e.conftest import (
    CITY_CODE,
    CITY_OFFER,
    DATASET,
    OPEN_OFFER,
    OPERATOR_NUMBER,
    PURPOSE,
    record,
)
from trust.errors import TrustCode, TsunaguError


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture
async def fixed(space: Space) -> Pair:
    """The pair on fixed ports, so each keeps its address over a restart."""
    provider = await space.start(space.config("仙台市", CITY_CODE, "municipality",
                                              port=free_port()))
    await provider.datasets.offer_dataset(DATASET, "指定避難所", [OPEN_OFFER, CITY_OFFER])
    assert provider.dsp_http is not None
    consumer = await space.start(space.config(
        "避難所運営", OPERATOR_NUMBER, "shelter_operator", port=free_port(),
        peers={provider.did: provider.dsp_http.base_url}))
    return Pair(provider, consumer)


async def restart(connector: Connector) -> None:
    await connector.stop()
    await connector.start()


async def test_a_restarted_provider_still_reaches_its_https_consumer(fixed: Pair) -> None:
    """The consumer's callback address was learned before the restart: the termination
    notice reaches it after, and its gate releases nothing held under the agreement."""
    provider, consumer = fixed.provider, fixed.consumer
    agreement_id, _ = await holding(fixed)
    await restart(provider)
    assert provider.dsp_http is not None and consumer.dsp_http is not None
    assert provider.dsp_http.address_of(consumer.did) == consumer.dsp_http.base_url
    ended = await provider.agreements.terminate(agreement_id, "restarted and ended")
    assert ended["status"] == "terminated"
    await agreement_status(consumer, agreement_id, "terminated")
    with pytest.raises(UsageDenied):
        consumer.gate.read(Reader.connector("test"), Use(PURPOSE), RECORD)


async def test_a_restarted_consumer_pulls_on_from_its_position(fixed: Pair) -> None:
    provider, consumer = fixed.provider, fixed.consumer
    _, transfer_pid = await holding(fixed)
    saved = position(consumer.store, transfer_pid)
    assert saved > 0  # the provider's sequence of the second record
    await restart(consumer)
    loop = consumer.transfers.loops[transfer_pid]
    assert loop.cursor == saved  # not from the start again
    await provider.records.publish(DATASET, record(5))
    await wait_held(consumer, 3)
    async with asyncio.timeout(5):
        while position(consumer.store, transfer_pid) <= saved:
            await asyncio.sleep(0.05)
    assert consumer.gate.read(Reader.connector("test"), Use(PURPOSE),
                              "urn:tsunagu:test:shelter:5").record


async def test_a_used_id_token_stays_used_over_a_restart(fixed: Pair) -> None:
    provider, consumer = fixed.provider, fixed.consumer
    assert consumer.dsp_http is not None and provider.dsp_http is not None
    token = consumer.dsp_http.auth.token_for(provider.did)
    provider.dsp_http.auth.verify(token)
    await restart(provider)
    with pytest.raises(TsunaguError) as replayed:
        provider.dsp_http.auth.verify(token)
    assert replayed.value.code == TrustCode.ID_TOKEN_REPLAYED
