"""Server-enforced isolation: a real nats-server in operator mode, accounts per participant.

A and B are participants with an agreement, C is a rogue participant. Every negative check is
paired with a positive one on the same connection, so a test cannot pass because nothing works.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path

import nats
import nats.errors
import nats.js.errors
import pytest
from nats.aio.client import Client, RawCredentials
from nats.js.api import AckPolicy, ConsumerConfig

from authority.accounts import NatsAccountManager, NatsAccountsError, consumer_name
from connector.bus.connection import NatsSettings, close_nats, connect
from connector.bus.server import EmbeddedNatsServer
from connector.bus.subjects import data_subject, dataset_stream
from connector.runtime.identity import participant_id
from trust import nats_jwt
from trust.keys import KeyPair

# What a request to a subject nobody in the account serves ends in (fetch maps 503 itself).
NO_ROUTE = (
    nats.errors.TimeoutError,
    nats.errors.NoRespondersError,
    nats.js.errors.ServiceUnavailableError,
)
DATASET = "https://example.org/datasets/shelters"
AGREEMENT = "urn:uuid:6f1c2a4e-agreement-1"


@dataclass
class Conn:
    did: str
    nc: Client
    errors: list[str] = field(default_factory=list)
    closed: asyncio.Event = field(default_factory=asyncio.Event)

    @property
    def pid(self) -> str:
        return participant_id(self.did)

    async def violations(self, timeout: float = 2.0) -> list[str]:
        """Wait for the server's -ERR to arrive (a flush round trip is enough)."""
        await self.nc.flush(timeout=timeout)
        await asyncio.sleep(0.05)
        return [e for e in self.errors if "permissions violation" in e.lower()]


@dataclass
class Space:
    server: EmbeddedNatsServer
    manager: NatsAccountManager
    sys: Client
    a: Conn
    b: Conn
    c: Conn


async def connect_as(url: str, did: str, creds: nats_jwt.UserCredentials | object) -> Conn:
    errors: list[str] = []
    closed = asyncio.Event()

    async def on_error(exc: Exception) -> None:
        errors.append(str(exc))

    async def on_closed() -> None:
        closed.set()

    nc = await nats.connect(
        url,
        user_credentials=RawCredentials(creds.creds()),
        inbox_prefix=f"_INBOX.{participant_id(did)}",
        error_cb=on_error,
        closed_cb=on_closed,
        max_reconnect_attempts=0,
        allow_reconnect=False,
        connect_timeout=2,
    )
    return Conn(did, nc, errors, closed)


@pytest.fixture
async def space(tmp_path: Path) -> AsyncIterator[Space]:
    manager = NatsAccountManager()
    dids = [KeyPair.generate().did for _ in range(3)]
    users = [manager.onboard(did) for did in dids]
    server = EmbeddedNatsServer(
        tmp_path / "nats", config_extra=manager.server_config(tmp_path / "jwt")
    )
    await server.start()
    conns: list[Conn] = []
    sys_nc = None
    try:
        # The authority's system user goes through the connector's own settings path.
        sys_creds = manager.system_user()
        sys_nc = await connect(
            NatsSettings(
                urls=[server.url], user_jwt=sys_creds.jwt, user_seed=sys_creds.seed,
                initial_connect_deadline=5,
            )
        )  # fmt: skip
        for did, user in zip(dids, users, strict=True):
            conns.append(await connect_as(server.url, did, user))
        yield Space(server, manager, sys_nc, *conns)
    finally:
        for conn in conns:
            if not conn.nc.is_closed:
                await conn.nc.close()
        if sys_nc is not None:
            await close_nats(sys_nc, timeout=1)
        await server.stop()


async def provider_stream(a: Conn) -> str:
    """A's dataset stream and the durable consumer an agreement with B would use."""
    js = a.nc.jetstream()
    stream = dataset_stream(a.did, DATASET)
    await js.add_stream(name=stream, subjects=[data_subject(a.did, DATASET, "*")])
    await js.add_consumer(
        stream,
        ConsumerConfig(durable_name=consumer_name(AGREEMENT), ack_policy=AckPolicy.EXPLICIT),
    )
    for i in range(3):
        await js.publish(data_subject(a.did, DATASET, "created"), f"record {i}".encode())
    return stream


# --------------------------------------------------------------------------- publishing


async def test_participant_publishes_its_own_data_and_stream(space: Space) -> None:
    a = space.a
    sub = await a.nc.subscribe(data_subject(a.did, DATASET, "*"))
    await a.nc.publish(data_subject(a.did, DATASET, "created"), b"r1")
    assert (await sub.next_msg(timeout=2)).data == b"r1"
    stream = await provider_stream(a)
    info = await a.nc.jetstream().stream_info(stream)
    assert info.state.messages == 3
    assert await a.violations() == []


async def test_rogue_cannot_publish_on_another_participants_subjects(space: Space) -> None:
    a, c = space.a, space.c
    stream = await provider_stream(a)
    a_dsp = await a.nc.subscribe(f"tsunagu.dsp.{a.pid}.*")
    await a.nc.flush()

    await c.nc.publish(data_subject(a.did, DATASET, "created"), b"forged")
    # A DSP request claiming to come from B.
    await c.nc.publish(f"tsunagu.dsp.{a.pid}.{space.b.pid}", b"spoofed")
    violations = await c.violations()
    assert len(violations) == 2, c.errors
    assert any(data_subject(a.did, DATASET, "created").lower() in v for v in violations)

    with pytest.raises((TimeoutError, nats.errors.TimeoutError, nats.errors.NoRespondersError)):
        await c.nc.jetstream().publish(
            data_subject(a.did, DATASET, "created"), b"forged", timeout=0.5
        )
    assert (await a.nc.jetstream().stream_info(stream)).state.messages == 3
    with pytest.raises(nats.errors.TimeoutError):
        await a_dsp.next_msg(timeout=0.3)

    # The same connection may publish its own data: the refusals above are not blanket.
    refused = len(await c.violations())
    await c.nc.publish(data_subject(c.did, DATASET, "created"), b"own")
    assert len(await c.violations()) == refused == 3  # the JetStream publish was refused too


async def test_rogue_cannot_subscribe_to_another_participant(space: Space) -> None:
    a, c = space.a, space.c
    await c.nc.subscribe(f"tsunagu.data.{a.pid}.>")
    await c.nc.subscribe(f"tsunagu.dsp.{a.pid}.*")
    await c.nc.subscribe(">")
    violations = await c.violations()
    assert len(violations) == 3, c.errors
    # Even a permitted wildcard only sees C's own account: A's events never arrive.
    own = await c.nc.subscribe(f"tsunagu.data.{c.pid}.>")
    await c.nc.flush()
    await a.nc.publish(data_subject(a.did, DATASET, "created"), b"private")
    await c.nc.publish(data_subject(c.did, DATASET, "created"), b"mine")
    assert (await own.next_msg(timeout=2)).data == b"mine"
    with pytest.raises(nats.errors.TimeoutError):
        await own.next_msg(timeout=0.3)


async def test_rogue_cannot_reach_provider_jetstream(space: Space) -> None:
    a, c = space.a, space.c
    stream = await provider_stream(a)
    js_c = c.nc.jetstream()
    # C's $JS.API reaches C's own (empty) JetStream, not A's.
    with pytest.raises(nats.js.errors.NotFoundError):
        await js_c.stream_info(stream)
    await js_c.add_stream(name="C_OWN", subjects=[data_subject(c.did, DATASET, "*")])
    assert [s.config.name for s in await js_c.streams_info()] == ["C_OWN"]
    # Nor does C reach A's consumer under the prefix a grant would use.
    with pytest.raises((nats.errors.NoRespondersError, nats.errors.TimeoutError)):
        await c.nc.request(
            f"$JS.{a.pid}.API.CONSUMER.INFO.{stream}.{consumer_name(AGREEMENT)}",
            b"",
            timeout=0.5,
        )


# --------------------------------------------------------------------------- DSP


async def first_reply(nc: Client, subject: str, data: bytes, within: float = 3.0) -> bytes:
    """A request that tolerates nats-server's start-up transient with cyclic service imports:
    right after accounts that import from each other are first loaded, a request can meet
    "no responders" for a moment (observed: healed within 0.5 s, 1 run in ~40)."""
    deadline = asyncio.get_running_loop().time() + within
    while True:
        try:
            return (await nc.request(subject, data, timeout=2)).data
        except nats.errors.NoRespondersError:
            if asyncio.get_running_loop().time() > deadline:
                raise
            await asyncio.sleep(0.05)


async def test_dsp_request_crosses_accounts_and_the_reply_returns(space: Space) -> None:
    a, b = space.a, space.b
    seen: list[str] = []

    async def answer(msg: nats.aio.msg.Msg) -> None:
        seen.append(msg.subject)
        await msg.respond(b"ack:" + msg.data)

    await a.nc.subscribe(f"tsunagu.dsp.{a.pid}.*", cb=answer)
    await a.nc.flush()
    assert await first_reply(b.nc, f"tsunagu.dsp.{a.pid}.{b.pid}", b"offer") == b"ack:offer"
    assert seen == [f"tsunagu.dsp.{a.pid}.{b.pid}"]
    # And the other way round, B's inbox answers A.
    await b.nc.subscribe(f"tsunagu.dsp.{b.pid}.*", cb=answer)
    await b.nc.flush()
    assert await first_reply(a.nc, f"tsunagu.dsp.{b.pid}.{a.pid}", b"x") == b"ack:x"
    assert await a.violations() == [] and await b.violations() == []


# --------------------------------------------------------------------------- agreements


async def test_stream_grant_lets_only_the_consumer_pull_until_revoked(space: Space) -> None:
    a, b, c, manager = space.a, space.b, space.c, space.manager
    stream = await provider_stream(a)
    durable = consumer_name(AGREEMENT)

    # Before any agreement B has no way in.
    js_b = b.nc.jetstream(prefix=f"$JS.{a.pid}.API")
    sub = await js_b.pull_subscribe_bind(durable=durable, stream=stream)
    with pytest.raises(NO_ROUTE):
        await sub.fetch(1, timeout=0.5)

    grant = manager.grant_stream(a.did, b.did, DATASET, AGREEMENT)
    assert (grant.stream, grant.durable) == (stream, durable)
    await manager.apply(space.sys)

    msgs = await sub.fetch(3, timeout=2)
    assert [m.data for m in msgs] == [b"record 0", b"record 1", b"record 2"]
    for m in msgs:
        await m.ack_sync(timeout=2)
    info = await a.nc.jetstream().consumer_info(stream, durable)
    assert info.ack_floor.stream_seq == 3 and info.num_ack_pending == 0
    assert (await sub.consumer_info()).name == durable  # the INFO import works too

    # C holds no activation: the same subjects lead nowhere from C's account.
    await a.nc.jetstream().publish(data_subject(a.did, DATASET, "updated"), b"record 3")
    sub_c = await c.nc.jetstream(prefix=grant.api_prefix).pull_subscribe_bind(
        durable=durable, stream=stream
    )
    with pytest.raises(NO_ROUTE):
        await sub_c.fetch(1, timeout=0.5)

    manager.revoke_stream(a.did, b.did, AGREEMENT)
    await manager.apply(space.sys)
    with pytest.raises(NO_ROUTE):
        await sub.fetch(1, timeout=0.5)
    # The record is still there for the provider: only B's access ended.
    assert (await a.nc.jetstream().consumer_info(stream, durable)).num_pending == 1


async def test_revoked_participant_is_disconnected_and_refused(space: Space) -> None:
    c, manager = space.c, space.manager
    await c.nc.publish(data_subject(c.did, DATASET, "created"), b"still here")
    await c.nc.flush(timeout=2)
    creds = manager.onboard(c.did, "second-connector")  # issued before the revocation

    manager.revoke_participant(c.did)
    await manager.apply(space.sys)
    await asyncio.wait_for(c.closed.wait(), timeout=5)
    assert c.nc.is_closed

    with pytest.raises(Exception, match="(?i)authorization|revoked|maximum"):
        await connect_as(space.server.url, c.did, creds)
    with pytest.raises(NatsAccountsError):
        manager.onboard(c.did)
    # The others are unaffected.
    reply_sub = await space.a.nc.subscribe(f"tsunagu.ctl.{space.a.pid}.>")
    await space.a.nc.publish(f"tsunagu.ctl.{space.a.pid}.ping", b"ok")
    assert (await reply_sub.next_msg(timeout=2)).data == b"ok"


async def test_apply_checks_what_the_server_holds(nats_client: Client) -> None:
    """Servers may answer "jwt updated" and keep another JWT (older nats-server versions skip
    same-jti updates): apply reads each account back. A stub plays the resolver here."""
    manager = NatsAccountManager()
    did = KeyPair.generate().did
    manager.onboard(did)
    stale = manager.account_jwt(did)
    answers = {"update": b'{"data":{"code":200,"message":"jwt updated"}}', "lookup": stale}

    async def update(msg: nats.aio.msg.Msg) -> None:
        await msg.respond(answers["update"])

    async def lookup(msg: nats.aio.msg.Msg) -> None:
        await msg.respond(answers["lookup"].encode())

    await nats_client.subscribe("$SYS.REQ.CLAIMS.UPDATE", cb=update)
    await nats_client.subscribe(
        f"$SYS.REQ.ACCOUNT.{manager.account_of(did)}.CLAIMS.LOOKUP", cb=lookup
    )
    with pytest.raises(NatsAccountsError, match="kept another JWT"):
        await manager.apply(nats_client, timeout=2)
    assert manager.pending == [manager.account_of(did)]  # still to do

    answers["update"] = b'{"error":{"code":500,"description":"bad issuer"}}'
    with pytest.raises(NatsAccountsError, match="bad issuer"):
        await manager.apply(nats_client, timeout=2)


async def test_notice_reaches_only_the_participant_it_names(space: Space) -> None:
    """B publishes a (signed) notice for A in its own account; it arrives in A's account
    only: C, subscribed to its own notices, sees nothing."""
    a, b, c = space.a, space.b, space.c
    to_a = await a.nc.subscribe(f"tsunagu.ctl.{a.pid}.>")
    to_c = await c.nc.subscribe(f"tsunagu.ctl.{c.pid}.>")
    await a.nc.flush()
    await c.nc.flush()
    await b.nc.publish(f"tsunagu.ctl.{a.pid}.usage", b"notice for A")
    assert (await to_a.next_msg(timeout=2)).data == b"notice for A"
    with pytest.raises(nats.errors.TimeoutError):
        await to_c.next_msg(timeout=0.3)
    assert await b.violations() == []


async def test_participant_onboarded_while_the_server_runs_reaches_the_others(
        space: Space) -> None:
    """The new account's DSP and notice imports are pushed to every existing account too."""
    a, manager = space.a, space.manager
    did = KeyPair.generate().did
    user = manager.onboard(did)
    await manager.apply(space.sys)
    d = await connect_as(space.server.url, did, user)
    try:
        async def answer(msg: nats.aio.msg.Msg) -> None:
            await msg.respond(b"ack:" + msg.data)

        await d.nc.subscribe(f"tsunagu.dsp.{d.pid}.*", cb=answer)
        await a.nc.subscribe(f"tsunagu.dsp.{a.pid}.*", cb=answer)
        await d.nc.flush()
        await a.nc.flush()
        assert await first_reply(a.nc, f"tsunagu.dsp.{d.pid}.{a.pid}", b"x") == b"ack:x"
        assert await first_reply(d.nc, f"tsunagu.dsp.{a.pid}.{d.pid}", b"y") == b"ack:y"
    finally:
        await d.nc.close()
