"""Stream grants through two in-process connectors in operator mode (the tests/e2e fixtures):
the import a transfer opens follows the transfer, whichever side ends it."""

from __future__ import annotations

import asyncio

import nats.errors
import nats.js.errors
import pytest
from nats.js.api import AckPolicy, ConsumerConfig

from connector.bus.connection import close_nats
from connector.bus.subjects import api_prefix
from connector.data.pull import endpoint_properties
from tests.e2e import conftest as e2e
from tests.e2e.conftest import negotiate, publish
from tests.nats_fixtures import participant_nats

authority, start_node, provider = e2e.authority, e2e.start_node, e2e.provider
consumer_config, consumer = e2e.consumer_config, e2e.consumer

NO_ROUTE = (nats.errors.TimeoutError, nats.errors.NoRespondersError,
            nats.js.errors.ServiceUnavailableError)


async def reachable(js, stream: str, durable: str) -> bool:
    """Does the consumer's account still route to the provider's durable (even one that
    was deleted: "not found" is the provider's JetStream answering)?"""
    try:
        await js.consumer_info(stream, durable, timeout=0.5)
    except NO_ROUTE:
        return False
    except nats.js.errors.NotFoundError:
        return True
    return True


@pytest.mark.parametrize("ended_by", ["consumer", "provider"])
async def test_ending_the_transfer_closes_the_consumers_import(provider, consumer, space_nats,
                                                               ended_by):
    done = await negotiate(consumer, provider)
    started = await consumer.connector.transfers.start(done["agreementId"])
    transfer = await consumer.connector.transfers.wait(started["pid"], "STARTED")
    props = endpoint_properties(transfer["dataAddress"])
    assert props["apiPrefix"] == api_prefix(provider.did)
    await publish(provider, range(3))
    stream, durable = props["stream"], props["consumer"]

    # Another connection as the consumer's own NATS user: what its code could do directly.
    b = await participant_nats(space_nats, consumer.did)
    try:
        js_b = b.jetstream(prefix=props["apiPrefix"])
        assert await reachable(js_b, stream, durable)
        if ended_by == "consumer":
            await consumer.connector.transfers.terminate(transfer["pid"], "no longer needed")
        else:
            (mine,) = provider.connector.transfers.list()
            await provider.connector.transfers.terminate(mine["pid"], "stopped")
        for _ in range(100):
            if not await reachable(js_b, stream, durable):
                break
            await asyncio.sleep(0.05)
        # The provider re-creates a durable of that name: the server still keeps B out.
        await provider.connector.js.add_consumer(stream, ConsumerConfig(
            durable_name=durable, ack_policy=AckPolicy.EXPLICIT))
        assert not await reachable(js_b, stream, durable)
        sub = await js_b.pull_subscribe_bind(durable=durable, stream=stream)
        with pytest.raises(NO_ROUTE):
            await sub.fetch(1, timeout=0.5)
        # The agreement itself lives on: a new transfer gets a new grant.
        again = await consumer.connector.transfers.start(done["agreementId"])
        again = await consumer.connector.transfers.wait(again["pid"], "STARTED")
        fresh = endpoint_properties(again["dataAddress"])
        assert fresh["consumer"] != durable
        assert await reachable(js_b, stream, fresh["consumer"])
    finally:
        await close_nats(b, timeout=1)


async def test_a_consumer_ends_its_agreements_with_a_revoked_provider_and_purges(
        provider, consumer, authority, space_nats):
    done = await negotiate(consumer, provider)
    started = await consumer.connector.transfers.start(done["agreementId"])
    await consumer.connector.transfers.wait(started["pid"], "STARTED")
    await publish(provider, range(3))
    for _ in range(100):
        if consumer.count("SELECT count(*) FROM held_records") == 3:
            break
        await asyncio.sleep(0.05)
    assert consumer.count("SELECT count(*) FROM held_records") == 3

    authority.revoke(did=provider.did, reason="test")
    assert await space_nats.revoke(provider.did)
    assert await consumer.connector.agreements.end_with_revoked() == []  # old list: nothing
    consumer.connector.checker.status_lists.add(authority.status_list_jwt())  # a refresh
    await consumer.connector.status_changed()
    agreement = consumer.connector.agreements.get(done["agreementId"])
    assert agreement["status"] == "terminated"
    assert consumer.count("SELECT count(*) FROM held_records") == 0
    assert (await consumer.connector.transfers.wait(started["pid"], "TERMINATED"))["state"] \
        == "TERMINATED"
    assert await consumer.connector.agreements.end_with_revoked() == []  # once only
