"""Raw nats-py JetStream baseline: publish_async and pull fetch of same-size payloads.

Measured in the same run as the tsunagu end-to-end numbers so ratios compare like with like.
"""

from __future__ import annotations

import time

from nats.aio.client import Client
from nats.js.api import StreamConfig

BATCH = 1000
IN_FLIGHT = 4000


async def baseline(nc: Client, *, records: int, payload_size: int) -> dict[str, float]:
    """Publish ``records`` payloads with publish_async, then pull-fetch and ack them all."""
    js = nc.jetstream()
    name = f"BASELINE_{time.monotonic_ns()}"
    await js.add_stream(StreamConfig(name=name, subjects=[f"{name.lower()}.>"]))
    payload = b"x" * payload_size
    try:
        start = time.perf_counter()
        for i in range(records):
            await js.publish_async(f"{name.lower()}.r", payload,
                                   headers={"Nats-Msg-Id": f"r{i}"})
            if i % IN_FLIGHT == IN_FLIGHT - 1:
                await js.publish_async_completed()
        await js.publish_async_completed()
        publish_s = time.perf_counter() - start

        sub = await js.pull_subscribe(f"{name.lower()}.>", durable="baseline")
        received = 0
        start = time.perf_counter()
        while received < records:
            msgs = await sub.fetch(min(BATCH, records - received), timeout=10)
            for msg in msgs:
                await msg.ack()
            received += len(msgs)
        await nc.flush()
        fetch_s = time.perf_counter() - start
    finally:
        await js.delete_stream(name)
    return {"baseline_publish_per_s": records / publish_s,
            "baseline_fetch_per_s": records / fetch_s}
