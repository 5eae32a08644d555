"""A municipality's leaf node follows the authority's accounts through its system-account
uplink: a participant onboarded after the leaf's config was written can log in at the leaf,
and a revoked one is cut off there too (the authority pushes to the hub only)."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import pytest

from authority.nats_deploy import write_hub, write_leaf
from authority.space import AuthorityNats
from bench.cluster import Login, Space, Uplink, login, loopback_spec, running, server_from
from connector.bus.connection import NatsConnectError, close_nats
from trust.keys import KeyPair


async def eventually(check, timeout: float = 15.0) -> None:
    deadline = time.monotonic() + timeout
    while not await check():
        assert time.monotonic() < deadline, "not within the time"
        await asyncio.sleep(0.1)


async def test_accounts_pushed_to_the_hub_reach_the_leaf(tmp_path: Path):
    space = Space(tmp_path)
    muni, _ = await space.participant()
    hub_spec, leaf_spec = loopback_spec("hub"), loopback_spec("muni", peer=False)
    uplink = Uplink(hub_spec.peer_port)  # not cut here: a plain relay
    await uplink.start()
    await write_hub(space.nats, tmp_path / "hub", hub_spec, domain="pref",
                    store_root=tmp_path / "s")
    await write_leaf(space.nats, tmp_path / "muni", leaf_spec, domain="muni", participant=muni,
                     hub_urls=[f"nats-leaf://127.0.0.1:{uplink.port}"],
                     store_root=tmp_path / "s")
    hub, leaf = (server_from(tmp_path / n, n, tmp_path / "s") for n in ("hub", "muni"))
    authority = AuthorityNats(space.authority)
    try:
        async with running([hub, leaf]):
            try:
                await authority.start(url=hub.url)
                # onboarded now: its account JWT exists only in what the authority pushes
                shelter = KeyPair.generate().did
                user = await authority.onboard(shelter)
                shelter_login = Login(shelter, user.user_jwt, user.user_seed)

                async def logs_in_at_leaf() -> bool:
                    try:
                        nc = await login([leaf.url], shelter_login, "shelter-at-leaf",
                                         deadline=2.0)
                    except NatsConnectError:
                        return False
                    await close_nats(nc, timeout=2.0)
                    return True

                await eventually(logs_in_at_leaf)

                nc = await login([leaf.url], shelter_login, "shelter-at-leaf")
                assert await authority.revoke(shelter)
                await eventually(lambda: _gone(nc), 15.0)
                with pytest.raises(NatsConnectError):
                    await login([leaf.url], shelter_login, "again", deadline=2.0)
                await close_nats(nc, timeout=2.0)
            finally:  # before the servers stop: a client closed while reconnecting hangs
                await authority.close()
    finally:
        await uplink.close()


async def _gone(nc) -> bool:
    """The leaf closed the revoked participant's connection (it keeps being refused)."""
    return not nc.is_connected
