"""The authority's NATS side: state on disk across restarts, and what it checks before it
opens a consumer's stream import (``authority.space``, ``connector.protocol.grants``).

Real operator-mode nats-server; participants are key pairs with credentials from the test
authority and NATS users it issued, speaking the grant protocol directly."""

from __future__ import annotations

import asyncio
import stat
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import pytest
from nats.aio.client import Client

from authority.accounts import Onboarded
from authority.space import AuthorityNats
from authority.state import NATS_FILE, Authority
from connector.bus.connection import NatsConnectError, NatsSettings, close_nats, connect
from connector.bus.messaging import RemoteError, request_with_retry
from connector.bus.subjects import api_prefix, data_subject
from connector.protocol import agreements
from connector.protocol.dsp import messages as m
from connector.protocol.grants import GrantClient
from connector.runtime.identity import Identity, participant_id
from trust.envelope import ReplayCache
from trust.keys import KeyPair

DATASET = "urn:tsunagu:test:dataset:shelters"


@dataclass
class Party:
    identity: Identity
    user: Onboarded
    nc: Client
    grants: GrantClient

    @property
    def did(self) -> str:
        return self.identity.did

    def settings(self, url: str) -> NatsSettings:
        return NatsSettings(urls=[url], user_jwt=self.user.user_jwt,
                            user_seed=self.user.user_seed, reconnect_time_wait=0.1,
                            inbox_prefix=f"_INBOX.{participant_id(self.did)}")


async def join(authority: Authority, space: AuthorityNats, legal_id: str, role: str,
               key: KeyPair | None = None) -> Party:
    """Credential and NATS user from the authority; a client logged in with them."""
    key = key or KeyPair.generate()
    issued = authority.issue(did=key.did, name="参加者", legal_id=legal_id, roles=[role])
    identity = Identity(key=key, credential=issued.jwt)
    party = Party(identity, await space.onboard(key.did), None, None)  # type: ignore[arg-type]
    assert space.url is not None
    party.nc = await connect(party.settings(space.url))
    party.grants = GrantClient(party.nc, identity, authority.did, ReplayCache(), 3.0)
    return party


def countersigned(provider: Party, consumer: Party, agreement_id: str | None = None) -> dict:
    agreement = agreements.sign(agreements.build(
        m.offer("urn:tsunagu:test:offer", permission=[m.rule("use")]),
        agreement_id=agreement_id or f"urn:uuid:{uuid.uuid4()}", dataset_id=DATASET,
        provider=provider.did, consumer=consumer.did, at=datetime.now(UTC)),
        provider.identity.key)
    return {"signedAgreement": agreement,
            "proof": agreements.countersign(agreement, consumer.identity.key)}


@pytest.fixture
async def parties(authority, space_nats) -> AsyncIterator[tuple[Party, Party, Party]]:
    """A provider, its consumer, and a third participant."""
    made = [await join(authority, space_nats, legal_id, role) for legal_id, role in (
        ("041009", "municipality"), ("7000012050002", "shelter_operator"),
        ("9234567890123", "shelter_operator"))]
    try:
        yield made[0], made[1], made[2]
    finally:
        for party in made:
            await close_nats(party.nc, timeout=1)


# --------------------------------------------------------------------------- grants


async def test_provider_gets_a_grant_for_a_countersigned_agreement(parties):
    a, b, _ = parties
    prefix = await a.grants.grant(countersigned(a, b), "tr_durable1")
    assert prefix == api_prefix(a.did)


async def test_consumer_cannot_grant_itself_a_stream(parties):
    a, b, _ = parties
    with pytest.raises(RemoteError) as info:
        await b.grants.grant(countersigned(a, b), "tr_durable1")
    assert info.value.code == "grant.not_provider"


async def test_third_party_cannot_grant_or_close_an_agreement_it_is_not_in(parties):
    a, b, c = parties
    document = countersigned(a, b)
    await a.grants.grant(document, "tr_durable1")
    with pytest.raises(RemoteError) as info:
        await c.grants.revoke(document, ended=True)
    assert info.value.code == "grant.not_party"
    await a.grants.grant(document, "tr_durable2")  # still open: C changed nothing


async def test_agreement_without_the_consumers_countersignature_is_refused(parties):
    a, b, c = parties
    document = countersigned(a, b)
    document["proof"] = countersigned(a, c)["proof"]  # C's proof, not B's
    with pytest.raises(RemoteError) as info:
        await a.grants.grant(document, "tr_durable1")
    assert info.value.code == "proof.wrong_signer"


async def test_tampered_agreement_is_refused(parties):
    a, b, c = parties
    document = countersigned(a, b)
    document["signedAgreement"]["assignee"] = c.did  # redirect the grant to C
    with pytest.raises(RemoteError) as info:
        await a.grants.grant(document, "tr_durable1")
    assert info.value.code.startswith("proof.")


async def test_an_ended_agreement_is_never_granted_again(parties):
    a, b, _ = parties
    document = countersigned(a, b)
    await a.grants.grant(document, "tr_durable1")
    await b.grants.revoke(document, ended=True)  # either party may end it
    with pytest.raises(RemoteError) as info:
        await a.grants.grant(document, "tr_durable2")
    assert info.value.code == "grant.agreement_ended"


async def test_a_revoked_consumer_gets_no_grant(authority, space_nats, parties):
    a, b, _ = parties
    authority.revoke(did=b.did)
    with pytest.raises(RemoteError) as info:
        await a.grants.grant(countersigned(a, b), "tr_durable1")
    assert info.value.code == "grant.not_participant"


async def test_durable_names_are_one_subject_token(parties):
    a, b, _ = parties
    with pytest.raises(RemoteError) as info:
        await a.grants.grant(countersigned(a, b), "tr.*.>")
    assert info.value.code == "nats.accounts"


# --------------------------------------------------------------------------- persistence


async def test_a_restarted_authority_manages_the_same_accounts(tmp_path: Path):
    authority = Authority.init(tmp_path / "authority", name="test authority")
    first = AuthorityNats(authority)
    await first.start(store_dir=tmp_path / "nats")
    a = await join(authority, first, "041009", "municipality")
    assert stat.S_IMODE((tmp_path / "authority" / NATS_FILE).stat().st_mode) == 0o600
    await close_nats(a.nc, timeout=1)
    await first.close()  # the server stops with it

    # Another process: the same directory, the server config rebuilt from the state on disk.
    second = AuthorityNats(Authority.open(tmp_path / "authority"))
    url = await second.start(store_dir=tmp_path / "nats")
    try:
        b = await join(authority, second, "7000012050002", "shelter_operator")
        a_nc = await connect(a.settings(url))  # A's user from before the restart
        sub = await a_nc.subscribe(data_subject(a.did, DATASET, "*"))
        await a_nc.publish(data_subject(a.did, DATASET, "created"), b"r")
        assert (await sub.next_msg(timeout=2)).data == b"r"

        async def answer(msg) -> None:
            await msg.respond(b"ok")
        # DSP from an account made before the restart to one made after it.
        await b.nc.subscribe(f"tsunagu.dsp.{participant_id(b.did)}.*", cb=answer)
        await b.nc.flush()
        reply = await request_with_retry(
            a_nc, f"tsunagu.dsp.{participant_id(b.did)}.{participant_id(a.did)}", b"hi", 2)
        assert reply.data == b"ok"
        await close_nats(a_nc, timeout=1)
        await close_nats(b.nc, timeout=1)

        assert await second.revoke(a.did)  # the same account: its users are refused now
        with pytest.raises(NatsConnectError):
            await connect(a.settings(url).model_copy(update={"initial_connect_deadline": 2}))
    finally:
        await second.close()


async def test_changes_made_while_the_server_is_away_are_pushed_later(tmp_path, caplog):
    """`authority issue` run while `serve` is down: the account waits in the state file
    and the next session that reaches the server pushes it."""
    authority = Authority.init(tmp_path / "authority", name="test authority")
    offline = AuthorityNats(authority)
    did = KeyPair.generate().did
    user = await offline.onboard(did)  # no server: saved, pending
    assert await offline.pending()
    serving = AuthorityNats(authority)
    url = await serving.start(store_dir=tmp_path / "nats")
    try:
        assert await serving.pending() == []  # the preload carried it
        nc = await connect(NatsSettings(urls=[url], user_jwt=user.user_jwt,
                                        user_seed=user.user_seed,
                                        inbox_prefix=f"_INBOX.{participant_id(did)}"))
        await close_nats(nc, timeout=1)
        # Now a CLI-like change while serving, from a handle that cannot reach the server.
        other = KeyPair.generate().did
        late = await AuthorityNats(authority).onboard(other)
        assert await serving.pending()
        await serving.push()
        assert await serving.pending() == []
        nc = await connect(NatsSettings(urls=[url], user_jwt=late.user_jwt,
                                        user_seed=late.user_seed,
                                        inbox_prefix=f"_INBOX.{participant_id(other)}"))
        await close_nats(nc, timeout=1)
    finally:
        await serving.close()


async def test_a_session_never_lets_the_loop_run_while_it_holds_a_free_lock(authority,
                                                                             space_nats):
    """In a process that runs the authority's NATS (a demo, the bosai bench), code that
    takes the authority's lock synchronously (``Authority.issue``) blocks the event loop
    until it gets it. A session that took the lock on a worker thread and then waited to
    be resumed held it while the loop was blocked: both waited forever (the bench hung in
    ``Authority.issue``). With the lock free, a session now takes, uses and releases it
    without letting any other callback run in between."""
    import fcntl
    import os

    from authority.state import LOCK_FILE

    def lock_is_free() -> bool:
        fd = os.open(authority.directory / LOCK_FILE, os.O_RDONLY)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            return True
        except BlockingIOError:
            return False
        finally:
            os.close(fd)

    seen: list[bool] = []
    loop = asyncio.get_running_loop()
    for _ in range(20):
        loop.call_soon(lambda: seen.append(lock_is_free()))
        await space_nats.push()  # nothing pending: the session does no NATS round trip
        await asyncio.sleep(0)
    assert len(seen) == 20 and all(seen)
    # And a synchronous issue in the middle of the periodic pushes completes.
    for _ in range(5):
        authority.issue(did=KeyPair.generate().did, name="参加者", legal_id="041009",
                        roles=["municipality"])
        await asyncio.sleep(0.5)
