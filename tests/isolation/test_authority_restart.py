"""``authority serve`` keeps the NATS URL it gave participants across restarts."""

from __future__ import annotations

import socket

import pytest

from authority.space import AuthorityNats
from authority.state import Authority
from connector.runtime.ports import PortInUse


async def test_the_data_space_nats_keeps_its_port_across_restarts(tmp_path):
    authority = Authority.init(tmp_path / "authority", name="test authority")
    first = AuthorityNats(authority)
    url = await first.start()
    await first.close()
    again = AuthorityNats(authority)
    assert await again.start() == url  # was a new random port on every start
    await again.close()
    port = int(url.rsplit(":", 1)[1])
    with socket.socket() as other_program:
        other_program.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        other_program.bind(("127.0.0.1", port))
        other_program.listen()
        held = AuthorityNats(authority)
        with pytest.raises(PortInUse) as caught:
            await held.start()
    assert f"port {port}" in str(caught.value) and "--nats-port" in str(caught.value)
