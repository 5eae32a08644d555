"""A connector that cannot start says why in one line and leaves nothing running."""

from __future__ import annotations

import logging
import socket
import time

import pytest

from connector.bus.connection import NatsConnectError, NatsSettings, connect
from connector.errors import ConnectorCode
from connector.runtime.connector import Connector
from connector.runtime.ports import PortInUse
from tests.connector.conftest import participant_config, status_lists


async def test_a_busy_api_port_stops_the_start_with_one_line_and_leaves_nothing_running(
        tmp_path, authority, nats_server, shelter_context):
    config = participant_config(tmp_path, authority, nats_server.url, name="仙台市",
                                legal_id="041009", role="municipality")
    with socket.socket() as other_program:
        other_program.bind(("127.0.0.1", 0))
        other_program.listen()
        port = other_program.getsockname()[1]
        busy = config.model_copy(update={"api": config.api.model_copy(update={"port": port})})
        connector = Connector(busy, status_lists=status_lists(authority),
                              contexts=shelter_context, api=True)
        with pytest.raises(PortInUse) as caught:
            await connector.start()
    message = str(caught.value)
    assert caught.value.code == ConnectorCode.PORT_IN_USE
    assert f"port {port}" in message and "[api]" in message and "--api-port" in message
    assert "\n" not in message
    assert connector.nc is None  # refused before NATS or the store were touched
    again = Connector(config.model_copy(update={"api": config.api.model_copy(
        update={"port": 0})}), status_lists=status_lists(authority), contexts=shelter_context,
        api=True)
    await again.start()  # the same store opens again at once
    await again.stop()


async def test_nothing_listening_at_the_nats_url_fails_the_first_connect_in_seconds_quietly(
        caplog):
    with socket.socket() as probe:  # a port nothing listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    settings = NatsSettings(urls=[f"nats://127.0.0.1:{port}"], insecure_no_auth=True)
    caplog.set_level(logging.DEBUG)
    started = time.monotonic()
    with pytest.raises(NatsConnectError) as caught:
        await connect(settings)
    assert time.monotonic() - started < 8  # was 30 s
    assert f"127.0.0.1:{port}" in str(caught.value) and "authority serve" in str(caught.value)
    warnings = [r for r in caplog.records if r.levelno >= logging.WARNING]
    assert warnings == []  # was one warning per attempt (15 before giving up)
