"""Key rotation mid-stream (issue 13 item 4): the provider rotates its signing key while a
consumer pulls its stream over the data space's operator-mode nats-server. The provider keeps
its identity (participant id, subjects, agreements, NATS user); the consumer keeps receiving
and verifying, records signed before the rotation keep verifying, and a record the old key
signs after its end is refused with ``key.rotated_out`` and audited."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

import orjson
import pytest

from connector.bus import subjects
from connector.bus.messaging import DspBus, RemoteError
from connector.protocol.dsp import messages as m
from connector.runtime.at_rest import NATS_CREDS_ROLE
from connector.runtime.config import AtRestSection
from connector.runtime.connector import Connector
from connector.runtime.identity import Identity
from tests.connector.conftest import status_lists
from tests.e2e.conftest import (
    DATASET,
    PURPOSE,
    Node,
    negotiate,
    publish_sealed,
    record,
    record_messages,
    tuning,
    use,
)
from tests.e2e.test_transfer import delivered, started_transfer
from trust.at_rest import generate_key, read_secret, write_key_file
from trust.errors import TrustCode
from trust.keys import KeyPair, load_key
from trust.proofs import sign_document

N = 300


@pytest.fixture
async def start_node(authority, e2e_nats) -> AsyncIterator[Any]:
    """As tests/e2e/conftest.py, with each connector fetching the authority's key histories
    (here from the authority object; over HTTP in deployments)."""
    running: list[Node] = []

    async def key_histories() -> dict[str, Any]:
        return authority.key_histories()

    async def start(config, **options: Any) -> Node:
        # the outbox retries as deployed (5 s), not after the minute other e2e tests use
        connector = Connector(config, tuning=replace(tuning(**options), publish_retry_s=5.0,
                                                     credentials_watch_s=0.5),
                              status_lists=status_lists(authority), key_histories=key_histories)
        await connector.start()
        node = Node(connector, connector.datasets, connector.records, config)
        record_messages(node)
        running.append(node)
        return node

    yield start
    for node in running:
        if not node.connector.nc.is_closed:
            await node.connector.stop()


async def acked_by(provider: Node, stream: str, durable: str, timeout: float = 20.0
                   ) -> int:
    """The stream sequence up to which the consumer acked ``durable`` (read and verified)."""
    loop = asyncio.get_running_loop()
    deadline, floor = loop.time() + timeout, 0
    while loop.time() < deadline:
        info = await provider.connector.js.consumer_info(stream, durable)
        floor = info.ack_floor.stream_seq
        if floor and info.num_pending == 0 and info.num_ack_pending == 0:
            return floor
        await asyncio.sleep(0.1)
    return floor


def signer_of(node: Node, n: int) -> str:
    return use(node, record(n)["id"], PURPOSE)["proof"]["verificationMethod"].partition("#")[0]


async def test_provider_rotates_mid_stream_and_the_consumer_keeps_verifying(
        provider, consumer, authority):
    identity, pid = provider.did, provider.connector.identity.participant_id
    old_key = provider.connector.identity.key
    _, transfer = await started_transfer(consumer, provider)
    new_key = KeyPair.generate()
    for n in range(N):
        await provider.records.publish(DATASET, record(n))
        if n == N // 2:  # mid-stream: the consumer is still pulling what came before
            issued = authority.rotate_key(did=identity, new_key=new_key.did)
            await provider.connector.rotate_key(new_key, issued.jwt)
    got = await delivered(consumer, N)
    assert got == N
    assert consumer.count("SELECT count(*) FROM dead_letters") == 0

    # Same participant: DID, subject token, transfer; records signed by both keys verified.
    assert provider.did == identity and provider.connector.identity.participant_id == pid
    assert provider.connector.identity.key.did == new_key.did
    assert signer_of(consumer, 0) == old_key.did
    assert signer_of(consumer, N - 1) == new_key.did
    [rotated] = provider.connector.audit.entries("key_rotated")
    assert rotated["key"] == new_key.did and rotated["previous"] == old_key.did
    still = await consumer.connector.transfers.wait(transfer["pid"], "STARTED")
    assert still["state"] == "STARTED"

    # Agreements keep working: a new negotiation (agreement signed with the new key), a new
    # transfer (the authority's grant desk checks the rotated provider's envelope and
    # proofs), records delivered on the provider's same subjects.
    done = await negotiate(consumer, provider)
    assert done["state"] == "FINALIZED"
    second = await consumer.connector.transfers.start(done["agreementId"])
    second = await consumer.connector.transfers.wait(second["pid"], "STARTED")
    props = {p["name"]: p["value"] for p in second["dataAddress"]["endpointProperties"]}
    assert props["stream"] == subjects.dataset_stream(identity, DATASET)
    await provider.records.publish(DATASET, record(N))
    assert await delivered(consumer, N + 1) == N + 1
    # the second transfer read (and verified) the stream from its start, both keys' records
    assert await acked_by(provider, props["stream"], props["consumer"]) == N + 1
    assert consumer.count("SELECT count(*) FROM dead_letters") == 0

    # Bad input: the rotated-out key signs after its period ended (the overlap is over):
    # refused with key.rotated_out, nothing delivered, the refusal audited.
    [old_period] = [p for p in authority.key_history(identity) if p.key == old_key.did]
    assert old_period.valid_until is not None
    late = sign_document({**record(N + 1), "version": 1}, old_key,
                         created=old_period.valid_until + timedelta(seconds=1))
    before = consumer.count("SELECT count(*) FROM deliveries")
    await publish_sealed(provider, "updated", orjson.dumps(late),
                         subjects.message_id(late["id"], 1))
    for _ in range(200):
        if consumer.count("SELECT count(*) FROM dead_letters"):
            break
        await asyncio.sleep(0.05)
    codes = {row[0] for row in consumer.connector.store.query("SELECT code FROM dead_letters")}
    assert codes == {TrustCode.KEY_ROTATED_OUT}
    assert consumer.count("SELECT count(*) FROM deliveries") == before
    assert consumer.count("SELECT count(*) FROM held_records WHERE id = ?",
                          late["id"]) == 0
    assert {e["code"] for e in consumer.connector.audit.entries("dead_letter")} == \
        {TrustCode.KEY_ROTATED_OUT}


async def test_a_compromised_key_is_revoked_and_replaced_and_its_envelopes_refused(
        provider, consumer, authority, consumer_config):
    """The consumer's key is stolen: the authority ends it at once and binds a new one. A
    DSP request the thief signs with the old key (and the old, unrevoked credential) is
    refused with key.rotated_out and counted; the consumer, with its new key, negotiates on."""
    identity = consumer.did
    stolen = Identity(load_key(consumer_config.key_path), consumer.connector.identity.credential)
    ended = authority.revoke_key(did=identity, reason="compromised")
    assert ended.key == stolen.key.did and ended.ended_because == "compromised"
    new_key = KeyPair.generate()
    issued = authority.rotate_key(did=identity, new_key=new_key.did, reason="compromised")
    await consumer.connector.rotate_key(new_key, issued.jwt)
    await provider.connector.checker.keys.refresh(force=True)  # as its next status refresh

    thief = DspBus(consumer.connector.nc, stolen, consumer.connector.checker)
    negotiations = provider.count("SELECT count(*) FROM negotiations")
    with pytest.raises(RemoteError) as refused:
        await thief.request(provider.did, "CatalogRequestMessage",
                            m.catalog_request())
    assert refused.value.code == TrustCode.KEY_ROTATED_OUT
    assert provider.connector.metrics.value("tsunagu_messages_rejected_total",
                                            reason=TrustCode.KEY_ROTATED_OUT) == 1
    assert provider.count("SELECT count(*) FROM negotiations") == negotiations
    [attempt] = provider.connector.audit.entries("key_refused")  # the attempt, audited
    assert (attempt["code"], attempt["sender"], attempt["key"]) == \
        (TrustCode.KEY_ROTATED_OUT, identity, stolen.key.did)

    done = await negotiate(consumer, provider)  # the same participant, its new key
    assert done["state"] == "FINALIZED"
    agreement = provider.connector.store.query(
        "SELECT consumer FROM agreements WHERE id = ?", (done["agreementId"],))
    assert agreement and agreement[0][0] == identity


async def test_the_authority_rotates_its_key_mid_stream_and_nothing_stops(
        provider, consumer, authority):
    """The authority's DID stays every connector's trust anchor; its new key signs from now
    on. The running stream does not stop (the longest gap between deliveries is measured),
    a transfer started after it is granted (the grant desk answers with the new key), and a
    credential the new key signed (the provider's, after its own rotation) is accepted."""
    old_authority_key = authority.signing_key.did
    await started_transfer(consumer, provider)
    arrivals: list[float] = []
    loop = asyncio.get_running_loop()

    async def watch() -> None:
        seen = 0
        while seen < N:
            count = consumer.count("SELECT count(*) FROM deliveries")
            if count > seen:
                arrivals.append(loop.time())
                seen = count
            await asyncio.sleep(0.01)

    watcher = asyncio.create_task(watch())
    for n in range(N):
        await provider.records.publish(DATASET, record(n))
        if n == N // 2:
            new_authority_key = authority.rotate_own_key()
        await asyncio.sleep(0.002)
    await asyncio.wait_for(watcher, 30)
    assert consumer.count("SELECT count(*) FROM dead_letters") == 0
    gap = max(b - a for a, b in zip(arrivals, arrivals[1:], strict=False))
    print(f"longest gap between deliveries across the authority's rotation: {gap:.3f}s")
    assert gap < 2.0
    assert authority.did != new_authority_key != old_authority_key

    # A credential signed by the new authority key: the provider rotates its own key.
    new_key = KeyPair.generate()
    issued = authority.rotate_key(did=provider.did, new_key=new_key.did)
    await provider.connector.rotate_key(new_key, issued.jwt)
    done = await negotiate(consumer, provider)  # the consumer checks that credential
    assert done["state"] == "FINALIZED"
    second = await consumer.connector.transfers.start(done["agreementId"])
    second = await consumer.connector.transfers.wait(second["pid"], "STARTED")
    props = {p["name"]: p["value"] for p in second["dataAddress"]["endpointProperties"]}
    await provider.records.publish(DATASET, record(N))
    assert await acked_by(provider, props["stream"], props["consumer"]) == N + 1
    assert consumer.count("SELECT count(*) FROM dead_letters") == 0


async def test_the_provider_account_key_rotates_mid_stream_within_the_documented_bound(
        provider, consumer, e2e_nats):
    """NATS account keys: a new signing key in the provider's account JWT, a new user
    signed by it written where the provider reads its credentials, then the old key
    retired: the server closes the provider's connection, which logs in again with the new
    user. Every record arrives once; the longest gap between deliveries is measured against
    the bound docs/security.md states (ack_wait, 10 s, plus a reconnect)."""
    await account_key_rotation(provider, consumer, e2e_nats)


async def test_an_account_key_rotation_reaches_a_connector_whose_credentials_are_sealed(
        provider, consumer, e2e_nats, start_node, tmp_path):
    """The same with the provider's files sealed at rest: the plain credentials the
    authority writes are sealed in place and handed to the live connection."""
    await provider.connector.stop()
    key_file = tmp_path / "provider.at-rest.key"
    write_key_file(key_file, generate_key())
    config = provider.config.model_copy(
        update={"at_rest": AtRestSection(key=f"file:{key_file}")})
    sealed = await start_node(config)
    creds_path = config.nats.credentials_file
    assert creds_path is not None and b"USER NKEY SEED" not in creds_path.read_bytes()
    await account_key_rotation(sealed, consumer, e2e_nats)
    assert b"USER NKEY SEED" not in creds_path.read_bytes()  # the new user, sealed too


async def account_key_rotation(provider, consumer, space) -> None:
    creds_path = provider.config.nats.credentials_file
    assert creds_path is not None
    at_rest = provider.config.load_at_rest_key()

    def plain_creds() -> str:
        return read_secret(creds_path, NATS_CREDS_ROLE, at_rest).decode()

    old_creds = plain_creds()
    await started_transfer(consumer, provider)
    arrivals: list[float] = []
    loop = asyncio.get_running_loop()
    rotated_at: list[float] = []

    async def watch() -> None:
        seen = 0
        while seen < N:
            count = consumer.count("SELECT count(*) FROM deliveries")
            if count > seen:
                arrivals.append(loop.time())
                seen = count
            await asyncio.sleep(0.01)

    watcher = asyncio.create_task(watch())
    for n in range(N):
        await provider.records.publish(DATASET, record(n))
        if n == N // 2:
            user = await space.rotate_account_key(provider.did)
            tmp = creds_path.with_name(".nats.creds.new")
            tmp.write_text(user.creds())
            tmp.chmod(0o600)
            tmp.replace(creds_path)
            watch = provider.connector.creds_watch
            assert watch is not None
            for _ in range(100):  # the connector logs in with the new user (0.5 s watch)
                if watch.reconnects and provider.connector.nats_connected:
                    break
                await asyncio.sleep(0.05)
            assert watch.reconnects == 1
            retired = await space.retire_account_keys(provider.did)
            assert len(retired) == 1  # the provider's first user
            rotated_at.append(loop.time())
        await asyncio.sleep(0.002)
    await asyncio.wait_for(watcher, 60)
    assert consumer.count("SELECT count(*) FROM deliveries") == N
    assert consumer.count("SELECT count(*) FROM dead_letters") == 0
    gaps = [b - a for a, b in zip(arrivals, arrivals[1:], strict=False)]
    print(f"longest gap between deliveries across the account key rotation: {max(gaps):.2f}s")
    assert max(gaps) < ACCOUNT_ROTATION_BOUND_S
    assert provider.connector.nats_connected
    assert plain_creds() != old_creds
    # The retired user is refused by the server from now on.
    from connector.bus.connection import NatsConnectError, NatsSettings, connect
    from trust.nats_jwt import parse_creds

    old = parse_creds(old_creds)
    with pytest.raises(NatsConnectError):
        await connect(NatsSettings(urls=[space.url], user_jwt=old.jwt, user_seed=old.seed,
                                   initial_connect_deadline=2.0))


ACCOUNT_ROTATION_BOUND_S = 15.0  # docs/security.md: ack_wait (10 s) plus a reconnect


async def test_a_running_connector_signs_with_the_key_rotate_key_installs(
        provider, consumer, authority, tmp_path):
    """The command-line path, without a restart: `connector rotate-key` prepares, the
    authority answers the request, `--install` puts the pair in place, and the running
    provider signs with it within a watch interval; the consumer keeps verifying."""
    from connector.runtime.key_rotation import install, prepare, verify_rotation_request

    await started_transfer(consumer, provider)
    await provider.records.publish(DATASET, record(0))
    prepared = prepare(provider.config)
    request = verify_rotation_request(orjson.loads(prepared.request_path.read_bytes()))
    authority.check_key(request.identity, request.current_key, datetime.now(UTC))
    issued = authority.rotate_key(did=request.identity, new_key=request.new_key)
    credential_file = tmp_path / "rotated.jwt"
    credential_file.write_text(issued.jwt)
    install(provider.config, credential_file)
    for _ in range(100):
        if provider.connector.identity.key.did == prepared.new_key:
            break
        await asyncio.sleep(0.05)
    assert provider.connector.identity.key.did == prepared.new_key
    assert provider.did == request.identity  # the same participant
    await provider.records.publish(DATASET, record(1))
    assert await delivered(consumer, 2) == 2
    assert signer_of(consumer, 1) == prepared.new_key
    assert consumer.count("SELECT count(*) FROM dead_letters") == 0
