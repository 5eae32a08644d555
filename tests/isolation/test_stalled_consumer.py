"""Bad input (issue 17): a consumer that stops acknowledging stalls nobody else. Its durable
gets at most ``max_ack_pending`` messages in flight (connector.data.transfers), the
provider's stream and every other consumer's durable go on. A real nats-server in operator
mode, the accounts and grants as the authority makes them."""

from __future__ import annotations

import asyncio

from nats.js.api import AckPolicy, ConsumerConfig

from authority.accounts import consumer_name
from connector.bus.subjects import data_subject
from connector.data.transfers import ACK_WAIT_S
from tests.isolation.test_grant_stall import FIRST, SECOND, Pulling, arrives, pulling
from tests.isolation.test_operator_mode import DATASET, Space, provider_stream, space

__all__ = ["space"]
MOST_PENDING = 50  # small, so the test reaches it (the connector's is 1024)


async def test_a_consumer_that_stops_acking_stalls_no_other(space: Space) -> None:
    a, b, c, manager = space.a, space.b, space.c, space.manager
    stream = await provider_stream(a)
    for agreement in (FIRST, SECOND):
        await a.nc.jetstream().add_consumer(stream, ConsumerConfig(
            durable_name=consumer_name(agreement), ack_policy=AckPolicy.EXPLICIT,
            ack_wait=ACK_WAIT_S, max_ack_pending=MOST_PENDING))
    grant_b = manager.grant_stream(a.did, b.did, DATASET, FIRST)
    grant_c = manager.grant_stream(a.did, c.did, DATASET, SECOND)
    await manager.apply(space.sys)
    # c fetches and never acks.
    stalled = await c.nc.jetstream(prefix=grant_c.api_prefix).pull_subscribe_bind(
        durable=consumer_name(SECOND), stream=stream)
    # b reads as its connector does.
    got = Pulling()
    task = asyncio.create_task(pulling(b.nc, b.nc.jetstream(prefix=grant_b.api_prefix),
                                       stream, consumer_name(FIRST), got))
    try:
        js = a.nc.jetstream()
        for n in range(200):
            await js.publish(data_subject(a.did, DATASET, "created"), f"flood {n}".encode())
        held = []
        while True:  # c takes what the server hands it and acks none of it
            try:
                held += await stalled.fetch(100, timeout=0.5)
            except TimeoutError:
                break
        assert len(held) == MOST_PENDING  # the server stops there: c holds a bounded amount
        # b received every record meanwhile, and keeps receiving.
        await arrives(got, b"flood 199", 5)
        await js.publish(data_subject(a.did, DATASET, "updated"), b"after")
        assert await arrives(got, b"after", 2) < 1.0
        info = await js.consumer_info(stream, consumer_name(SECOND))
        assert info.num_ack_pending == MOST_PENDING and info.num_pending > 0
        assert (await js.stream_info(stream)).state.messages == 3 + 200 + 1
    finally:
        task.cancel()
