"""Signed request/reply between two connectors over a real nats-server."""

import pytest

from authority.state import Authority
from connector.bus.connection import close_nats, connect
from connector.bus.messaging import DspBus, RemoteError, dsp_subject, request_with_retry
from connector.runtime.identity import CredentialChecker, Identity
from tests.nats_fixtures import nats_settings_for
from trust.envelope import ReplayCache, open_envelope, seal
from trust.keys import KeyPair
from trust.status_list import StatusListCache

CITY_CODE = "041009"
OPERATOR_NUMBER = "7000012050002"


@pytest.fixture
def authority(tmp_path):
    return Authority.init(tmp_path / "authority", name="test authority")


def onboard(authority, name, legal_id, role):
    key = KeyPair.generate()
    return Identity(key, authority.issue(did=key.did, name=name, legal_id=legal_id,
                                         roles=[role]).jwt)


def checker_for(authority):
    cache = StatusListCache([authority.did])
    cache.add(authority.status_list_jwt())
    return CredentialChecker([authority.did], cache)


async def echo(env, credential):
    return "Echo", {"you": credential.name, "asked": env.payload}


@pytest.fixture
async def pair(nats_server, authority):
    city = onboard(authority, "仙台市", CITY_CODE, "municipality")
    operator = onboard(authority, "避難所運営", OPERATOR_NUMBER, "shelter_operator")
    clients = [await connect(nats_settings_for(nats_server)) for _ in range(2)]
    city_bus = DspBus(clients[0], city, checker_for(authority))
    operator_bus = DspBus(clients[1], operator, checker_for(authority))
    await city_bus.serve(echo)
    yield city_bus, operator_bus
    for nc in clients:
        await close_nats(nc, timeout=2)


async def test_request_reply_is_verified_both_ways(pair):
    city_bus, operator_bus = pair
    env, who = await operator_bus.request(city_bus.identity.did, "Ping", {"n": 1})
    assert who.name == "仙台市" and who.has_role("municipality")
    assert env.payload == {"you": "避難所運営", "asked": {"n": 1}}
    assert env.sender == city_bus.identity.did


async def test_revoked_requester_is_refused(pair, authority):
    city_bus, operator_bus = pair
    authority.revoke(did=operator_bus.identity.did)
    city_bus.checker.status_lists.add(authority.status_list_jwt())
    with pytest.raises(RemoteError) as info:
        await operator_bus.request(city_bus.identity.did, "Ping", {})
    assert info.value.code == "credential.revoked"


async def test_credential_of_another_participant_is_refused(pair, authority):
    city_bus, operator_bus = pair
    thief = Identity(KeyPair.generate(), operator_bus.identity.credential)
    bus = DspBus(operator_bus.nc, thief, operator_bus.checker)
    with pytest.raises(RemoteError) as info:
        await bus.request(city_bus.identity.did, "Ping", {})
    assert info.value.code == "credential.subject_mismatch"


async def test_credential_from_untrusted_authority_is_refused(pair, tmp_path):
    city_bus, operator_bus = pair
    rogue = Authority.init(tmp_path / "rogue", name="rogue authority")
    bus = DspBus(operator_bus.nc, onboard(rogue, "偽物", OPERATOR_NUMBER,
                                          "shelter_operator"), operator_bus.checker)
    with pytest.raises(RemoteError) as info:
        await bus.request(city_bus.identity.did, "Ping", {})
    assert info.value.code == "credential.untrusted_issuer"


async def test_subject_must_name_the_signer(pair):
    """A request sent on a subject naming another sender is refused."""
    city_bus, operator_bus = pair
    me = operator_bus.identity
    token = seal({}, sender=me.key, recipient=city_bus.identity.did, message_type="Ping",
                 credential=me.credential)
    spoofed = dsp_subject(city_bus.identity.did, city_bus.identity.did)
    reply = await request_with_retry(operator_bus.nc, spoofed, token.encode(), 5)
    env = open_envelope(reply.data, recipient=me.did, replay_cache=ReplayCache())
    assert env.message_type == "error"
    assert env.payload["code"] == "envelope.subject_mismatch"


async def test_replayed_request_is_refused(pair):
    city_bus, operator_bus = pair
    me = operator_bus.identity
    token = seal({}, sender=me.key, recipient=city_bus.identity.did, message_type="Ping",
                 credential=me.credential).encode()
    subject = dsp_subject(city_bus.identity.did, me.did)
    codes = []
    for _ in range(2):
        reply = await request_with_retry(operator_bus.nc, subject, token, 5)
        env = open_envelope(reply.data, recipient=me.did, replay_cache=ReplayCache())
        codes.append(env.payload.get("code"))
    assert codes == [None, "envelope.replayed"]


async def test_garbage_request_gets_no_reply_and_no_crash(pair):
    city_bus, operator_bus = pair
    subject = dsp_subject(city_bus.identity.did, operator_bus.identity.did)
    with pytest.raises(Exception, match="[Tt]imeout"):
        await request_with_retry(operator_bus.nc, subject, b"\xff\x00garbage", 0.5)
    env, _ = await operator_bus.request(city_bus.identity.did, "Ping", {"still": "alive"})
    assert env.payload["asked"] == {"still": "alive"}


async def test_unreachable_connector_is_a_typed_error(pair):
    _, operator_bus = pair
    with pytest.raises(RemoteError) as info:
        await operator_bus.request(KeyPair.generate().did, "Ping", {}, timeout=1)
    assert info.value.code == "remote.unreachable"


async def test_refusals_are_counted_by_reason(pair, authority):
    from connector.runtime.metrics import Metrics

    city_bus, operator_bus = pair
    city_bus.metrics = Metrics()
    authority.revoke(did=operator_bus.identity.did)
    city_bus.checker.status_lists.add(authority.status_list_jwt())
    with pytest.raises(RemoteError):
        await operator_bus.request(city_bus.identity.did, "Ping", {})
    assert city_bus.metrics.value("tsunagu_messages_rejected_total",
                                  reason="credential.revoked") == 1
