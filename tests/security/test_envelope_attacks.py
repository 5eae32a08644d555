"""Forged, tampered, replayed and malformed envelopes: ``open_envelope`` names each with its
code, and over a real bus none of them reaches the handler."""

from __future__ import annotations

import base64
import json
import time

import jwt
import pytest

from connector.bus.messaging import dsp_subject, request_with_retry
from tests import test_messaging
from tests.security.helpers import nested_json
from trust.envelope import (
    ENVELOPE_TYP,
    MAX_ENVELOPE_BYTES,
    ReplayCache,
    open_envelope,
    seal,
)
from trust.errors import EnvelopeError
from trust.keys import KeyPair

# The two-bus fixtures of tests/test_messaging.
authority, pair = test_messaging.authority, test_messaging.pair

SENDER, RECIPIENT, THIRD = KeyPair.generate(), KeyPair.generate(), KeyPair.generate()


def b64(data: bytes) -> bytes:
    return base64.urlsafe_b64encode(data).rstrip(b"=")


def raw_token(header: dict | bytes, claims: dict | bytes, key: KeyPair = SENDER) -> str:
    """A compact JWS built by hand, so any header or claim can be hostile."""
    h = header if isinstance(header, bytes) else json.dumps(header).encode()
    c = claims if isinstance(claims, bytes) else json.dumps(claims).encode()
    signing_input = b64(h) + b"." + b64(c)
    return (signing_input + b"." + b64(key.sign(signing_input))).decode()


def claims(**over):
    now = int(time.time())
    base = {"iss": SENDER.did, "aud": RECIPIENT.did, "jti": "m-1", "iat": now,
            "exp": now + 60, "typ": "Ping", "payload": {}}
    base.update(over)
    return {k: v for k, v in base.items() if v is not None}


HEADER = {"alg": "EdDSA", "typ": ENVELOPE_TYP, "kid": SENDER.verification_method}


def good() -> str:
    return seal({"n": 1}, sender=SENDER, recipient=RECIPIENT.did, message_type="Ping")


def tamper_payload(token: str) -> str:
    head, body, sig = token.split(".")
    data = json.loads(base64.urlsafe_b64decode(body + "=" * (-len(body) % 4)))
    data["payload"] = {"n": 2}
    return f"{head}.{b64(json.dumps(data).encode()).decode()}.{sig}"


HOSTILE = {
    "tampered-payload": (lambda: tamper_payload(good()), "envelope.bad_signature"),
    "signature-of-another-key": (lambda: raw_token(HEADER, claims(), THIRD),
                                 "envelope.bad_signature"),
    "signature-stripped": (lambda: good().rsplit(".", 1)[0] + ".", "envelope.bad_signature"),
    "alg-none": (lambda: jwt.encode(claims(), None, algorithm="none",
                                    headers={"typ": ENVELOPE_TYP,
                                             "kid": SENDER.verification_method}),
                 "envelope.algorithm"),
    "alg-hs256-with-public-key-as-secret": (
        lambda: jwt.encode(claims(), SENDER.public_key_multibase, algorithm="HS256",
                           headers={"typ": ENVELOPE_TYP, "kid": SENDER.verification_method}),
        "envelope.algorithm"),
    "wrong-typ-header": (lambda: raw_token({**HEADER, "typ": "JWT"}, claims()),
                         "envelope.malformed"),
    "no-kid": (lambda: raw_token({"alg": "EdDSA", "typ": ENVELOPE_TYP}, claims()),
               "envelope.malformed"),
    "kid-not-a-did-key": (lambda: raw_token({**HEADER, "kid": "did:web:evil.example#k"},
                                            claims()), "envelope.unknown_signer"),
    "iss-claims-another-sender": (lambda: raw_token(HEADER, claims(iss=THIRD.did)),
                                  "envelope.sender_mismatch"),
    "addressed-to-another-recipient": (lambda: raw_token(HEADER, claims(aud=THIRD.did)),
                                       "envelope.wrong_recipient"),
    "expired": (lambda: raw_token(HEADER, claims(iat=int(time.time()) - 400,
                                                 exp=int(time.time()) - 300)),
                "envelope.expired"),
    "issued-in-the-future": (lambda: raw_token(HEADER, claims(iat=int(time.time()) + 300,
                                                              exp=int(time.time()) + 360)),
                             "envelope.not_yet_valid"),
    "lifetime-beyond-the-replay-window": (
        lambda: raw_token(HEADER, claims(exp=int(time.time()) + 86400)), "envelope.lifetime"),
    "float-timestamps": (lambda: raw_token(HEADER, claims(iat=time.time(),
                                                          exp=time.time() + 60)),
                         "envelope.malformed"),
    "missing-jti": (lambda: raw_token(HEADER, claims(jti=None)), "envelope.malformed"),
    "empty-jti": (lambda: raw_token(HEADER, claims(jti="")), "envelope.malformed"),
    "payload-not-an-object": (lambda: raw_token(HEADER, claims(payload=["x"])),
                              "envelope.malformed"),
    "not-a-jws": (lambda: "not.a.jws", "envelope.malformed"),
    "invalid-utf8-bytes": (lambda: b"eyJ\xff\xfe." + b"x" * 10, "envelope.malformed"),
    "nested-10000-levels": (lambda: raw_token(HEADER, b'{"payload":' + nested_json(10_000)
                                              + b"}"), "envelope.malformed"),
    "larger-than-4-mib": (lambda: b"e" * (MAX_ENVELOPE_BYTES + 1), "envelope.too_large"),
}


@pytest.mark.parametrize("name", list(HOSTILE))
def test_hostile_envelope_is_refused_with_its_code(name):
    build, code = HOSTILE[name]
    cache = ReplayCache()
    with pytest.raises(EnvelopeError) as info:
        open_envelope(build(), recipient=RECIPIENT.did, replay_cache=cache)
    assert info.value.code == code
    assert len(cache) == 0  # a refused envelope never enters the replay cache


def test_replayed_envelope_is_refused():
    cache, token = ReplayCache(), good()
    open_envelope(token, recipient=RECIPIENT.did, replay_cache=cache)
    with pytest.raises(EnvelopeError) as info:
        open_envelope(token, recipient=RECIPIENT.did, replay_cache=cache)
    assert info.value.code == "envelope.replayed"
    assert len(cache) == 1


def test_forged_envelope_cannot_poison_the_replay_cache():
    """A forgery carrying a real message id must not make the genuine message a 'replay'."""
    cache = ReplayCache()
    forged = raw_token(HEADER, claims(jti="genuine-id"), THIRD)
    with pytest.raises(EnvelopeError):
        open_envelope(forged, recipient=RECIPIENT.did, replay_cache=cache)
    genuine = raw_token(HEADER, claims(jti="genuine-id"))
    assert open_envelope(genuine, recipient=RECIPIENT.did, replay_cache=cache).message_id \
        == "genuine-id"


# --------------------------------------------------------------- over a real bus

@pytest.fixture
async def served(pair):
    """The city bus with a handler that counts what reaches it."""
    city_bus, operator_bus = pair
    seen: list[dict] = []

    async def handler(env, credential):
        seen.append(env.payload)
        return "Echo", {}

    city_bus._handler = handler
    return city_bus, operator_bus, seen


async def reply_code(operator_bus, city_bus, data: bytes, subject: str | None = None):
    subject = subject or dsp_subject(city_bus.identity.did, operator_bus.identity.did)
    reply = await request_with_retry(operator_bus.nc, subject, data, 5)
    env = open_envelope(reply.data, recipient=operator_bus.identity.did,
                        replay_cache=ReplayCache())
    return env.payload.get("code")


def sealed(bus, recipient, **kw) -> bytes:
    return seal({"x": 1}, sender=bus.identity.key, recipient=recipient, message_type="Ping",
                credential=bus.identity.credential, **kw).encode()


async def test_bus_refuses_tampered_envelope(served):
    city_bus, operator_bus, seen = served
    token = sealed(operator_bus, city_bus.identity.did).decode()
    assert await reply_code(operator_bus, city_bus,
                            tamper_payload(token).encode()) == "envelope.bad_signature"
    assert seen == []
    assert city_bus.replay_cache.__len__() == 0


async def test_bus_refuses_envelope_without_credential(served):
    city_bus, operator_bus, seen = served
    token = seal({}, sender=operator_bus.identity.key, recipient=city_bus.identity.did,
                 message_type="Ping").encode()
    assert await reply_code(operator_bus, city_bus, token) == "credential.missing"
    assert seen == []


async def test_bus_refuses_credential_of_wrong_issuer_inside_valid_envelope(served, tmp_path):
    from authority.state import Authority

    city_bus, operator_bus, seen = served
    rogue = Authority.init(tmp_path / "rogue", name="rogue")
    issued = rogue.issue(did=operator_bus.identity.did, name="偽", legal_id="7000012050002",
                         roles=["municipality"]).jwt
    token = seal({}, sender=operator_bus.identity.key, recipient=city_bus.identity.did,
                 message_type="Ping", credential=issued).encode()
    assert await reply_code(operator_bus, city_bus, token) == "credential.untrusted_issuer"
    assert seen == []


async def test_bus_refuses_replayed_envelope(served):
    city_bus, operator_bus, seen = served
    token = sealed(operator_bus, city_bus.identity.did)
    assert await reply_code(operator_bus, city_bus, token) is None
    assert await reply_code(operator_bus, city_bus, token) == "envelope.replayed"
    assert seen == [{"x": 1}]


async def test_bus_refuses_expired_envelope(served):
    city_bus, operator_bus, seen = served
    token = sealed(operator_bus, city_bus.identity.did, now=time.time() - 600, lifetime_s=60)
    assert await reply_code(operator_bus, city_bus, token) == "envelope.expired"
    assert seen == []


@pytest.mark.parametrize("data", [b"\xff\xfe\xfd invalid utf-8", b"\x00" * 64,
                                  nested_json(10_000)],
                         ids=["invalid-utf8", "nul-bytes", "nested-10000"])
async def test_bus_ignores_unreadable_bytes_and_keeps_serving(served, data):
    city_bus, operator_bus, seen = served
    subject = dsp_subject(city_bus.identity.did, operator_bus.identity.did)
    with pytest.raises(Exception, match="[Tt]imeout"):
        await request_with_retry(operator_bus.nc, subject, data, 0.5)
    assert seen == []
    env, _ = await operator_bus.request(city_bus.identity.did, "Ping", {"alive": True})
    assert seen == [{"alive": True}]
