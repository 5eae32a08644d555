"""Signed envelopes: each way an envelope can be wrong gets its own error code."""

import base64
import json
import time

import jwt
import pytest

from trust.envelope import MAX_LIFETIME_S, ReplayCache, open_envelope, seal
from trust.errors import EnvelopeError
from trust.keys import KeyPair

SENDER = KeyPair.generate()
RECIPIENT = KeyPair.generate()
PAYLOAD = {"@type": "CatalogRequestMessage", "filter": ["避難所"]}


def open_(token, cache=None, recipient=RECIPIENT.did, now=None):
    cache = cache if cache is not None else ReplayCache()
    return open_envelope(token, recipient=recipient, replay_cache=cache, now=now)


def code_of(token, **kwargs) -> str:
    with pytest.raises(EnvelopeError) as info:
        open_(token, **kwargs)
    return info.value.code


def test_round_trip_keeps_sender_recipient_id_and_payload():
    token = seal(PAYLOAD, sender=SENDER, recipient=RECIPIENT.did, message_type="catalog",
                 message_id="m-1")
    env = open_(token)
    assert (env.sender, env.recipient, env.message_id) == (SENDER.did, RECIPIENT.did, "m-1")
    assert env.payload == PAYLOAD
    assert env.message_type == "catalog"
    assert env.expires_at - env.issued_at == 120


def test_wrong_recipient():
    token = seal(PAYLOAD, sender=SENDER, recipient=KeyPair.generate().did, message_type="x")
    assert code_of(token) == "envelope.wrong_recipient"


def test_expired():
    token = seal(PAYLOAD, sender=SENDER, recipient=RECIPIENT.did, message_type="x",
                 lifetime_s=60, now=time.time() - 600)
    assert code_of(token) == "envelope.expired"


def test_issued_in_the_future():
    token = seal(PAYLOAD, sender=SENDER, recipient=RECIPIENT.did, message_type="x",
                 now=time.time() + 3600)
    assert code_of(token) == "envelope.not_yet_valid"


def test_replayed_within_window_then_forgotten_after_expiry():
    cache = ReplayCache()
    now = time.time()
    token = seal(PAYLOAD, sender=SENDER, recipient=RECIPIENT.did, message_type="x", now=now)
    open_(token, cache=cache, now=now)
    assert code_of(token, cache=cache, now=now + 1) == "envelope.replayed"
    # Long after expiry the id is forgotten, and the envelope is refused as expired instead.
    assert code_of(token, cache=cache, now=now + 10_000) == "envelope.expired"
    fresh = seal(PAYLOAD, sender=SENDER, recipient=RECIPIENT.did, message_type="x",
                 now=now + 10_000)
    open_(fresh, cache=cache, now=now + 10_000)
    assert len(cache) == 1  # the old id was dropped once its window had passed


def test_same_message_id_from_two_senders_is_not_a_replay():
    cache = ReplayCache()
    for sender in (SENDER, KeyPair.generate()):
        token = seal(PAYLOAD, sender=sender, recipient=RECIPIENT.did, message_type="x",
                     message_id="same")
        open_(token, cache=cache)


def _split(token):
    return token.split(".")


def _b64(data: dict) -> str:
    return base64.urlsafe_b64encode(json.dumps(data).encode()).rstrip(b"=").decode()


def test_tampered_payload_is_forged():
    token = seal(PAYLOAD, sender=SENDER, recipient=RECIPIENT.did, message_type="x")
    header, body, sig = _split(token)
    claims = json.loads(base64.urlsafe_b64decode(body + "=="))
    claims["payload"]["filter"] = ["all"]
    assert code_of(f"{header}.{_b64(claims)}.{sig}") == "envelope.bad_signature"


def test_signature_by_another_key_is_forged():
    """An attacker signs with its own key but names the sender's key in kid."""
    attacker = KeyPair.generate()
    claims = {"iss": SENDER.did, "aud": RECIPIENT.did, "jti": "j", "iat": int(time.time()),
              "exp": int(time.time()) + 60, "payload": {}}
    token = jwt.encode(claims, attacker.private_key, algorithm="EdDSA",
                       headers={"typ": "tsunagu-envelope+jwt", "kid": SENDER.verification_method})
    assert code_of(token) == "envelope.bad_signature"


def test_iss_must_match_signing_key():
    attacker = KeyPair.generate()
    claims = {"iss": SENDER.did, "aud": RECIPIENT.did, "jti": "j", "iat": int(time.time()),
              "exp": int(time.time()) + 60, "payload": {}}
    token = jwt.encode(claims, attacker.private_key, algorithm="EdDSA",
                       headers={"typ": "tsunagu-envelope+jwt",
                                "kid": attacker.verification_method})
    assert code_of(token) == "envelope.sender_mismatch"


def test_hmac_and_none_algorithms_are_refused():
    claims = {"iss": SENDER.did, "aud": RECIPIENT.did, "jti": "j", "iat": 1, "exp": 2,
              "payload": {}}
    hs = jwt.encode(claims, "secret-secret-secret-secret-secret", algorithm="HS256",
                    headers={"typ": "tsunagu-envelope+jwt", "kid": SENDER.verification_method})
    assert code_of(hs) == "envelope.algorithm"
    none = f"{_b64({'alg': 'none', 'typ': 'tsunagu-envelope+jwt'})}.{_b64(claims)}."
    assert code_of(none) == "envelope.algorithm"


@pytest.mark.parametrize("token", ["", "abc", "a.b.c", "....", "\u00e9.x.y"])
def test_garbage_is_malformed(token):
    assert code_of(token) == "envelope.malformed"


def test_invalid_utf8_bytes_are_malformed():
    assert code_of(b"\xff\xfe.\x00.x") == "envelope.malformed"


def test_oversized_envelope_is_refused_before_parsing():
    assert code_of(b"a" * (5 * 1024 * 1024)) == "envelope.too_large"


def test_lifetime_longer_than_replay_window_is_refused():
    with pytest.raises(EnvelopeError) as info:
        seal(PAYLOAD, sender=SENDER, recipient=RECIPIENT.did, message_type="x",
             lifetime_s=MAX_LIFETIME_S + 1)
    assert info.value.code == "envelope.lifetime"
    claims = {"iss": SENDER.did, "aud": RECIPIENT.did, "jti": "j", "iat": int(time.time()),
              "exp": int(time.time()) + 86_400, "payload": {}}
    token = jwt.encode(claims, SENDER.private_key, algorithm="EdDSA",
                       headers={"typ": "tsunagu-envelope+jwt", "kid": SENDER.verification_method})
    assert code_of(token) == "envelope.lifetime"


def test_forged_envelope_does_not_poison_the_replay_cache():
    cache = ReplayCache()
    good = seal(PAYLOAD, sender=SENDER, recipient=RECIPIENT.did, message_type="x",
                message_id="victim")
    header, body, _sig = _split(good)
    other_sig = _split(seal({}, sender=SENDER, recipient="x", message_type="x"))[2]
    forged = f"{header}.{body}.{other_sig}"
    assert code_of(forged, cache=cache) == "envelope.bad_signature"
    assert open_(good, cache=cache).message_id == "victim"


def test_non_string_kid_is_malformed():
    header = _b64({"alg": "EdDSA", "typ": "tsunagu-envelope+jwt", "kid": 5})
    assert code_of(f"{header}.{_b64({'iss': 'x'})}.sig") == "envelope.malformed"


def test_lone_surrogate_text_is_malformed():
    assert code_of("\ud800.e30.x") == "envelope.malformed"
