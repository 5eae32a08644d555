"""Operator mode end to end, through real processes: ``tsunagu authority serve`` runs the data
space's nats-server, ``tsunagu authority issue`` hands out each participant's NATS user, and
``tsunagu connector run`` logs in with it.

A (仙台市) offers a dataset, B (a shelter operator) negotiates and streams it, C is a rogue
participant with valid credentials of its own. The server, not the connectors' good
behaviour, keeps C out of A->B data and A's JetStream, and closes B's access when the
agreement ends or B is revoked. Every refusal is paired with a permitted call on the same
connection, so nothing passes because nothing works.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path

import nats
import nats.errors
import nats.js.errors
import pytest
from nats.aio.client import Client, RawCredentials
from nats.js.api import AckPolicy, ConsumerConfig

from connector.api.sdk import TsunaguClient
from connector.bus.subjects import api_prefix, data_subject, dataset_stream
from connector.cli.main import main as cli_main
from connector.data.pull import endpoint_properties
from connector.runtime.connector import Connector
from connector.runtime.identity import participant_id
from tests.connector.conftest import participant_config, status_lists
from tests.e2e.processes import (
    DATASET,
    DataSpace,
    Participant,
    cli,
    contract,
    publish_all,
    read_store,
    wait_for,
)
from trust.errors import ConfigError

NO_ROUTE = (nats.errors.TimeoutError, nats.errors.NoRespondersError,
            nats.js.errors.ServiceUnavailableError)
RECORDS = 20


@pytest.fixture
def space(tmp_path: Path) -> Iterator[DataSpace]:
    """The default: ``authority serve`` starts the operator-mode nats-server itself."""
    ds = DataSpace(tmp_path)
    yield ds
    ds.close()


class Raw:
    """A plain nats-py connection with a participant's own ``nats.creds`` (what a rogue or a
    curious app on that participant's host could do with them)."""

    def __init__(self, nc: Client, errors: list[str], closed: asyncio.Event) -> None:
        self.nc, self.errors, self.closed = nc, errors, closed

    @classmethod
    async def connect(cls, space: DataSpace, p: Participant) -> Raw:
        errors: list[str] = []
        closed = asyncio.Event()

        async def on_error(exc: Exception) -> None:
            errors.append(str(exc))

        async def on_closed() -> None:
            closed.set()

        nc = await nats.connect(space.nats_url,
                                user_credentials=RawCredentials(p.nats_creds()),
                                inbox_prefix=f"_INBOX.{participant_id(p.did)}",
                                error_cb=on_error, closed_cb=on_closed,
                                allow_reconnect=False, connect_timeout=2)
        return cls(nc, errors, closed)

    async def violations(self) -> list[str]:
        await self.nc.flush(timeout=2)
        await asyncio.sleep(0.05)
        return [e for e in self.errors if "permissions violation" in e.lower()]

    async def close(self) -> None:
        if not self.nc.is_closed:
            await self.nc.close()


async def streaming(space: DataSpace) -> tuple[Participant, Participant, str, dict]:
    """A offers and publishes, B holds an agreement and a started transfer with every record
    delivered; returns A, B, the agreement and the transfer's data address."""
    a = space.onboard("city", "仙台市", "041009", "municipality")
    b = space.onboard("npo", "避難所運営 NPO", "7000012050002", "shelter_operator")
    async with TsunaguClient(a.api_url, a.token) as a_app, \
            TsunaguClient(b.api_url, b.token) as b_app:
        agreement, transfer_pid = await contract(a_app, b_app, a.did)
        await publish_all(a_app, 0, RECORDS, batch=10)

        async def delivered() -> bool:
            return read_store(b.store, "SELECT count(*) FROM deliveries")[0][0] == RECORDS
        await wait_for(delivered, 30, "B to receive every record")
        address = (await b_app.get_transfer(transfer_pid)).data_address
    assert address is not None
    return a, b, agreement, address


async def test_only_the_agreement_opens_a_stream_and_termination_closes_it(space):
    a, b, agreement, address = await streaming(space)
    props = endpoint_properties(address)
    stream, durable = props["stream"], props["consumer"]
    assert stream == dataset_stream(a.did, DATASET)
    assert props["apiPrefix"] == api_prefix(a.did)  # B reads through the authority's grant
    # Every connector runs with the credentials the authority issued, none without.
    for p in (a, b):
        config = p.config.read_text()
        assert 'credentials_file = "nats.creds"' in config and "insecure" not in config
        assert (p.directory / "nats.creds").stat().st_mode & 0o777 == 0o600

    c = space.onboard("rogue", "避難所運営 C", "9234567890123", "shelter_operator")
    rogue, b_user, a_user = [await Raw.connect(space, p) for p in (c, b, a)]
    try:
        # C cannot subscribe to A's data (nor to everything), nor reach A's JetStream.
        await rogue.nc.subscribe(f"tsunagu.data.{participant_id(a.did)}.>")
        await rogue.nc.subscribe(">")
        assert len(await rogue.violations()) == 2, rogue.errors
        js_c = rogue.nc.jetstream(prefix=props["apiPrefix"])
        sub_c = await js_c.pull_subscribe_bind(durable=durable, stream=stream)
        with pytest.raises(NO_ROUTE):
            await sub_c.fetch(1, timeout=0.5)
        with pytest.raises(nats.js.errors.NotFoundError):  # its own $JS.API is its own
            await rogue.nc.jetstream().stream_info(stream)
        # ... nor publish A's records.
        await rogue.nc.publish(data_subject(a.did, DATASET, "created"), b"forged")
        assert len(await rogue.violations()) == 3
        # C's own subjects work on the same connection.
        own = await rogue.nc.subscribe(f"tsunagu.data.{participant_id(c.did)}.>")
        await rogue.nc.publish(data_subject(c.did, DATASET, "created"), b"mine")
        assert (await own.next_msg(timeout=2)).data == b"mine"

        # B's user reaches exactly its granted consumer (INFO does not take messages).
        js_b = b_user.nc.jetstream(prefix=props["apiPrefix"])
        info = await js_b.consumer_info(stream, durable)
        assert info.name == durable and info.ack_floor.stream_seq == RECORDS

        async with TsunaguClient(a.api_url, a.token) as a_app:
            await a_app.terminate_agreement(agreement, "応急期の終了")

        async def closed() -> bool:
            try:
                await js_b.consumer_info(stream, durable)
            except NO_ROUTE:
                return True
            return False
        await wait_for(closed, 20, "B's import to be closed")
        # The server, not the deleted durable, keeps B out: A re-creates the same durable,
        # which A can read and B's user still cannot.
        await a_user.nc.jetstream().add_consumer(stream, ConsumerConfig(
            durable_name=durable, ack_policy=AckPolicy.EXPLICIT))
        assert (await a_user.nc.jetstream().consumer_info(stream, durable)).num_pending \
            == RECORDS
        sub_b = await js_b.pull_subscribe_bind(durable=durable, stream=stream)
        with pytest.raises(NO_ROUTE):
            await sub_b.fetch(1, timeout=0.5)
        assert await b_user.violations() == []  # refused by routing, not by permissions
    finally:
        for raw in (rogue, b_user, a_user):
            await raw.close()


async def test_revocation_disconnects_and_counterparties_terminate(space):
    a, b, agreement, address = await streaming(space)
    props = endpoint_properties(address)
    b_user = await Raw.connect(space, b)
    try:
        info = await b_user.nc.jetstream(prefix=props["apiPrefix"]).consumer_info(
            props["stream"], props["consumer"])
        assert info.name == props["consumer"]

        assert cli(["authority", "revoke", "--dir", str(space.authority_dir),
                    "--did", b.did, "--reason", "test"]) == 0
        # The server closes B's connections and refuses new ones.
        await asyncio.wait_for(b_user.closed.wait(), timeout=10)
        with pytest.raises(Exception, match="(?i)authorization|revoked|maximum"):
            await Raw.connect(space, b)

        # A's connector sees the revocation on its next status list refresh and ends the
        # agreement with B at once (B is gone: no notice), its transfer too.
        async with TsunaguClient(a.api_url, a.token) as a_app:
            async def terminated() -> bool:
                found = [x for x in await a_app.agreements() if x.id == agreement]
                return bool(found) and found[0].status == "terminated"
            await wait_for(terminated, 20, "A to terminate its agreement with B")
            assert all(t.state == "TERMINATED" for t in await a_app.transfers())
        ends = read_store(a.store, "SELECT line FROM audit WHERE line LIKE "
                                   "'%agreement_terminated%'")
        assert len(ends) == 1 and "revoked" in ends[0][0]
    finally:
        await b_user.close()


def test_plain_mode_is_an_explicit_insecure_opt_in(tmp_path):
    """`connector init` writes credentials for the data space's server by default; only
    --insecure-no-auth writes a config without them, and says so."""
    base = ["connector", "init", "--name", "仙台市", "--legal-id", "041009", "--role",
            "municipality", "--authority-did",
            "did:key:z6MkhaXgBZDvotDkL5257faiztiGiC2QtKLGpbnnEGta2doK"]
    assert cli_main([*base, "--dir", str(tmp_path / "p"), "--nats-url",
                     "nats://127.0.0.1:4222"]) == 0
    config = (tmp_path / "p" / "participant.toml").read_text()
    assert 'credentials_file = "nats.creds"' in config and "insecure" not in config
    assert cli_main([*base, "--dir", str(tmp_path / "dev"), "--insecure-no-auth"]) == 0
    config = (tmp_path / "dev" / "participant.toml").read_text()
    assert "insecure_no_auth = true" in config and "INSECURE" in config


async def test_connector_without_credentials_refuses_to_start(tmp_path, authority,
                                                              nats_server):
    config = participant_config(tmp_path, authority, nats_server.url, name="仙台市",
                                legal_id="041009", role="municipality")
    config = config.model_copy(update={"nats": config.nats.model_copy(
        update={"insecure_no_auth": False})})
    connector = Connector(config, status_lists=status_lists(authority))
    with pytest.raises(ConfigError, match="no NATS credentials"):
        await connector.start()
    assert not config.store_path.exists()  # refused before anything was opened
