"""Participant credentials (vc+jwt) and the Bitstring Status List: every failure code."""

from __future__ import annotations

import base64
import gzip
import json
from datetime import UTC, datetime, timedelta

import jwt
import pytest
from jwt.api_jws import PyJWS

from trust.credentials import (
    MAX_TOKEN_CHARS,
    build_participant_credential,
    decode_vc_jwt,
    sign_vc_jwt,
    verify_credential,
)
from trust.errors import CredentialError, DidError, ValidationError
from trust.keys import KeyPair
from trust.legal_id import parse_legal_id
from trust.status_list import (
    MIN_LENGTH,
    StatusList,
    StatusListCache,
    sign_status_list,
    verify_status_list,
)

NOW = datetime(2026, 4, 1, 9, 0, tzinfo=UTC)
LIST_URL = "https://authority.example/status-list"


@pytest.fixture(scope="module")
def authority() -> KeyPair:
    return KeyPair.generate()


@pytest.fixture(scope="module")
def participant() -> KeyPair:
    return KeyPair.generate()


def credential(authority, participant, **overrides):
    fields = {
        "issuer": authority.did,
        "subject_did": participant.did,
        "name": "千代田区",
        "legal_id": parse_legal_id("131016"),
        "roles": ["municipality", "shelter_operator"],
        "valid_from": NOW - timedelta(days=1),
        "valid_until": NOW + timedelta(days=30),
        "status_list_url": LIST_URL,
        "status_index": 42,
        "credential_id": "urn:uuid:6a1d3d62-8b0d-4d8e-9a39-2e7c1f0e5b11",
    }
    fields.update(overrides)
    return build_participant_credential(**fields)


def issue(authority, participant, **overrides) -> str:
    return sign_vc_jwt(credential(authority, participant, **overrides), authority)


def cache_with(authority, bits=None, *, now=NOW, key=None, url=LIST_URL, trusted=None):
    signer = key or authority
    cache = StatusListCache(trusted or {authority.did, signer.did})
    cache.add(sign_status_list(signer, url, bits or StatusList(), now=now - timedelta(minutes=1)),
              now=now)
    return cache


def raw_sign(payload, key, headers=None, algorithm="EdDSA"):
    """Sign anything, bypassing sign_vc_jwt's checks, as an attacker or a buggy issuer would."""
    base = {"typ": "vc+jwt", "cty": "vc", "kid": key.verification_method}
    base.update(headers or {})
    return jwt.encode(payload, key.private_key, algorithm=algorithm, headers=base)


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def code_of(token, authority, cache, now=NOW, trusted=None) -> str:
    with pytest.raises(CredentialError) as info:
        verify_credential(token, trusted or {authority.did}, cache, now)
    return info.value.code


# ------------------------------------------------------------------ round trip and shape


def test_issue_and_verify_round_trip(authority, participant):
    token = issue(authority, participant)
    verified = verify_credential(token, {authority.did}, cache_with(authority), NOW)
    assert verified.did == participant.did
    assert verified.name == "千代田区"
    assert verified.legal_id == parse_legal_id("131016")
    assert verified.roles == ("municipality", "shelter_operator")
    assert verified.has_role("shelter_operator") and not verified.has_role("trader")
    assert verified.valid_until == NOW + timedelta(days=30)
    assert verified.issuer == authority.did
    assert verified.status_index == 42


def test_token_is_vc_jose_cose(authority, participant):
    token = issue(authority, participant)
    header = jwt.get_unverified_header(token)
    assert header == {"alg": "EdDSA", "typ": "vc+jwt", "cty": "vc",
                      "kid": authority.verification_method}
    payload = json.loads(unb64(token.split(".")[1]))
    assert "vc" not in payload  # the credential is the payload, not wrapped
    assert payload["@context"] == ["https://www.w3.org/ns/credentials/v2",
                                   "https://w3id.org/tsunagu/v1"]
    assert payload["type"] == ["VerifiableCredential", "ParticipantCredential"]
    assert payload["issuer"] == authority.did
    assert payload["validFrom"] == "2026-03-31T09:00:00Z"
    assert payload["validUntil"] == "2026-05-01T09:00:00Z"
    assert payload["credentialSubject"] == {
        "id": participant.did,
        "name": "千代田区",
        "legalIdentifier": {"type": "local_government_code", "value": "131016"},
        "roles": ["municipality", "shelter_operator"],
    }
    assert payload["credentialStatus"] == {
        "id": f"{LIST_URL}#42",
        "type": "BitstringStatusListEntry",
        "statusPurpose": "revocation",
        "statusListIndex": "42",
        "statusListCredential": LIST_URL,
    }


# ------------------------------------------------------------------ signature and header


def test_tampered_payload_fails_signature(authority, participant):
    header, payload, signature = issue(authority, participant).split(".")
    claims = json.loads(unb64(payload))
    claims["credentialSubject"]["roles"] = ["medical_institution"]
    forged = ".".join([header, b64(json.dumps(claims).encode()), signature])
    assert code_of(forged, authority, cache_with(authority)) == "credential.signature"


def test_tampered_signature_fails(authority, participant):
    header, payload, signature = issue(authority, participant).split(".")
    sig = bytearray(unb64(signature))
    sig[0] ^= 1
    assert code_of(".".join([header, payload, b64(bytes(sig))]), authority,
                   cache_with(authority)) == "credential.signature"


def test_key_substitution_fails_signature(authority, participant):
    # An attacker signs with its own key but names the trusted authority's kid.
    attacker = KeyPair.generate()
    token = raw_sign(credential(authority, participant), attacker,
                     headers={"kid": authority.verification_method})
    assert code_of(token, authority, cache_with(authority)) == "credential.signature"


def test_empty_signature_fails(authority, participant):
    header, payload, _ = issue(authority, participant).split(".")
    assert code_of(f"{header}.{payload}.", authority,
                   cache_with(authority)) == "credential.signature"


def test_alg_none_is_rejected(authority, participant):
    header = {"alg": "none", "typ": "vc+jwt", "kid": authority.verification_method}
    payload = credential(authority, participant)
    token = f"{b64(json.dumps(header).encode())}.{b64(json.dumps(payload).encode())}."
    assert code_of(token, authority, cache_with(authority)) == "credential.algorithm"


def test_hs256_with_public_key_as_secret_is_rejected(authority, participant):
    # The classic confusion attack: HMAC keyed with the (public) verification key bytes.
    secret = authority.public_key.public_bytes_raw()
    token = jwt.encode(credential(authority, participant), secret, algorithm="HS256",
                       headers={"typ": "vc+jwt", "kid": authority.verification_method})
    assert code_of(token, authority, cache_with(authority)) == "credential.algorithm"


@pytest.mark.parametrize("typ", ["JWT", "vp+jwt", None])
def test_wrong_typ_is_rejected(authority, participant, typ):
    token = raw_sign(credential(authority, participant), authority, headers={"typ": typ})
    assert jwt.get_unverified_header(token).get("typ") == typ  # None: pyjwt omits it
    with pytest.raises(CredentialError, match="typ") as info:
        verify_credential(token, {authority.did}, cache_with(authority), NOW)
    assert info.value.code == "credential.malformed"


def test_crit_header_is_rejected(authority, participant):
    token = raw_sign(credential(authority, participant), authority, headers={"crit": ["exp"]})
    assert code_of(token, authority, cache_with(authority)) == "credential.malformed"


# ------------------------------------------------------------------ issuer trust


def test_untrusted_authority_is_rejected(authority, participant):
    other = KeyPair.generate()
    token = issue(other, participant)
    with pytest.raises(CredentialError) as info:
        verify_credential(token, {authority.did}, cache_with(authority), NOW)
    assert info.value.code == "credential.untrusted_issuer"
    assert info.value.details["issuer"] == other.did


def test_empty_trust_set_trusts_nobody(authority, participant):
    token = issue(authority, participant)
    with pytest.raises(CredentialError) as info:
        verify_credential(token, set(), cache_with(authority), NOW)
    assert info.value.code == "credential.untrusted_issuer"


def test_trust_set_given_as_a_string_is_refused(authority, participant):
    with pytest.raises(TypeError):
        verify_credential(issue(authority, participant), authority.did, cache_with(authority), NOW)


def test_issuer_claim_must_match_signing_key(authority, participant):
    other = KeyPair.generate()
    token = raw_sign(credential(authority, participant, issuer=other.did), authority)
    assert code_of(token, authority, cache_with(authority),
                   trusted={authority.did, other.did}) == "credential.untrusted_issuer"


def test_iss_claim_must_match_issuer(authority, participant):
    payload = credential(authority, participant)
    payload["iss"] = KeyPair.generate().did
    token = raw_sign(payload, authority)
    assert code_of(token, authority, cache_with(authority)) == "credential.untrusted_issuer"


def test_kid_must_be_did_key(authority, participant):
    token = raw_sign(credential(authority, participant), authority,
                     headers={"kid": "https://evil.example/key"})
    assert code_of(token, authority, cache_with(authority)) == "credential.malformed"


def test_sign_vc_jwt_refuses_foreign_issuer(authority, participant):
    with pytest.raises(ValidationError, match="issuer"):
        sign_vc_jwt(credential(KeyPair.generate(), participant), authority)


# ------------------------------------------------------------------ validity window


def test_expired_at_and_after_valid_until(authority, participant):
    token = issue(authority, participant, valid_until=NOW)
    assert code_of(token, authority, cache_with(authority)) == "credential.expired"
    assert verify_credential(token, {authority.did}, cache_with(authority),
                             NOW - timedelta(seconds=1))


def test_not_yet_valid(authority, participant):
    token = issue(authority, participant, valid_from=NOW + timedelta(seconds=1))
    assert code_of(token, authority, cache_with(authority)) == "credential.not_yet_valid"
    later = NOW + timedelta(seconds=1)
    assert verify_credential(token, {authority.did}, cache_with(authority, now=later), later)


def test_leeway_tolerates_small_clock_skew(authority, participant):
    token = issue(authority, participant, valid_from=NOW + timedelta(seconds=30))
    verified = verify_credential(token, {authority.did}, cache_with(authority), NOW,
                                 leeway=timedelta(minutes=1))
    assert verified.did == participant.did


def test_naive_now_is_a_programming_error(authority, participant):
    with pytest.raises(ValueError, match="timezone"):
        verify_credential(issue(authority, participant), {authority.did},
                          cache_with(authority), datetime(2026, 4, 1))


# ------------------------------------------------------------------ revocation


def test_revoked_bit_fails_and_other_bits_do_not(authority, participant):
    token = issue(authority, participant)
    bits = StatusList()
    bits.set(41)
    bits.set(43)
    assert verify_credential(token, {authority.did}, cache_with(authority, bits), NOW)
    bits.set(42)
    assert code_of(token, authority, cache_with(authority, bits)) == "credential.revoked"


def test_no_status_list_fails_closed(authority, participant):
    token = issue(authority, participant)
    empty = StatusListCache({authority.did})
    assert code_of(token, authority, empty) == "credential.status_unknown"


def test_stale_status_list_fails_closed(authority, participant):
    token = issue(authority, participant)
    cache = cache_with(authority)  # signed a minute before NOW, valid 15 minutes
    later = NOW + timedelta(minutes=20)
    assert code_of(token, authority, cache, now=later) == "credential.status_unknown"


def test_status_list_of_another_authority_is_not_used(authority, participant):
    # Both authorities are trusted, but the list must come from the credential's issuer.
    other = KeyPair.generate()
    token = issue(authority, participant)
    cache = cache_with(authority, key=other)
    assert code_of(token, authority, cache,
                   trusted={authority.did, other.did}) == "credential.status_unknown"


def test_status_list_for_another_url_is_not_used(authority, participant):
    token = issue(authority, participant)
    cache = cache_with(authority, url="https://authority.example/other-list")
    assert code_of(token, authority, cache) == "credential.status_unknown"


def test_broken_provider_fails_closed(authority, participant):
    class Broken:
        def status_list(self, url, now):
            raise OSError("network down")

    assert code_of(issue(authority, participant), authority, Broken()) \
        == "credential.status_unknown"


def test_index_outside_list_fails_closed(authority, participant):
    token = issue(authority, participant, status_index=MIN_LENGTH)
    assert code_of(token, authority, cache_with(authority)) == "credential.status_unknown"


# ------------------------------------------------------------------ malformed input


@pytest.mark.parametrize("token", [
    "", "abc", "a.b", "a.b.c.d", "...", "eyJhbGciOiJFZERTQSJ9.e30", "!!.??.##",
    None, 123, b"\xff\xfe.x.y", "x" * (MAX_TOKEN_CHARS + 1),
])
def test_malformed_tokens(authority, token):
    with pytest.raises(CredentialError) as info:
        verify_credential(token, {authority.did}, StatusListCache({authority.did}), NOW)
    assert info.value.code == "credential.malformed"


def test_header_not_json_is_malformed(authority):
    token = f"{b64(b'not json')}.{b64(b'{}')}.{b64(b'sig')}"
    assert code_of(token, authority, StatusListCache(set())) == "credential.malformed"


def test_payload_not_a_json_object_is_malformed(authority):
    for payload in (b"not json", b"[1, 2]"):
        token = PyJWS().encode(payload, authority.private_key, algorithm="EdDSA",
                               headers={"typ": "vc+jwt", "kid": authority.verification_method})
        with pytest.raises(CredentialError, match="payload") as info:
            verify_credential(token, {authority.did}, cache_with(authority), NOW)
        assert info.value.code == "credential.malformed"


def _mutated(authority, participant, mutate):
    payload = credential(authority, participant)
    mutate(payload)
    return raw_sign(payload, authority)


@pytest.mark.parametrize(("mutate", "fragment"), [
    (lambda c: c["credentialSubject"]["legalIdentifier"].update(value="131017"),
     "check digit"),
    (lambda c: c["credentialSubject"]["legalIdentifier"].update(type="passport"),
     "legalIdentifier"),
    # trust checks a role's form; which roles exist is the authority's check at issuance.
    (lambda c: c["credentialSubject"].update(roles=["municipality", "Emperor!"]), "Emperor!"),
    (lambda c: c["credentialSubject"].update(roles=["municipality", 7]), "not a role name"),
    (lambda c: c["credentialSubject"].update(roles=[]), "at least one role"),
    (lambda c: c["credentialSubject"].update(roles="municipality"), "roles"),
    (lambda c: c["credentialSubject"].update(id="did:web:example.com"), "credentialSubject.id"),
    (lambda c: c["credentialSubject"].update(name=""), "name"),
    (lambda c: c.update(credentialSubject=[]), "credentialSubject"),
    (lambda c: c.pop("credentialStatus"), "credentialStatus"),
    (lambda c: c["credentialStatus"].update(statusPurpose="suspension"), "revocation"),
    (lambda c: c["credentialStatus"].update(statusListIndex=42), "statusListIndex"),
    (lambda c: c["credentialStatus"].update(statusListIndex="-1"), "statusListIndex"),
    (lambda c: c["credentialStatus"].update(statusListCredential="file:///x"), "http"),
    (lambda c: c.pop("validUntil"), "validUntil"),
    (lambda c: c.update(validFrom="2026-03-31 09:00"), "validFrom"),
    (lambda c: c.update(validFrom="2026-03-31T09:00:00"), "timezone"),
    (lambda c: c.update(validUntil="2026-02-30T09:00:00Z"), "validUntil"),
    (lambda c: c.update(validUntil=c["validFrom"]), "later than"),
    (lambda c: c.update(type=["VerifiableCredential"]), "ParticipantCredential"),
    (lambda c: c.update({"@context": ["https://w3id.org/tsunagu/v1"]}), "@context"),
])
def test_malformed_credential_contents(authority, participant, mutate, fragment):
    token = _mutated(authority, participant, mutate)
    with pytest.raises(CredentialError, match=fragment) as info:
        verify_credential(token, {authority.did}, cache_with(authority), NOW)
    assert info.value.code == "credential.malformed"


def test_issuer_as_object_is_accepted(authority, participant):
    token = _mutated(authority, participant,
                     lambda c: c.update(issuer={"id": authority.did, "name": "認証局"}))
    assert verify_credential(token, {authority.did}, cache_with(authority), NOW)


@pytest.mark.parametrize(("overrides", "error", "fragment"), [
    ({"subject_did": "did:key:zNotAKey"}, DidError, "participant DID"),
    ({"subject_did": "did:web:example.com"}, DidError, "participant DID"),
    ({"name": "   "}, ValidationError, "name"),
    ({"name": "a\nb"}, ValidationError, "control"),
    ({"roles": []}, ValidationError, "at least one role"),
    ({"roles": ["市長"]}, ValidationError, "not a role name"),
    ({"roles": ["mayor of " + "x" * 40]}, ValidationError, "not a role name"),
    ({"valid_until": NOW - timedelta(days=1)}, ValidationError, "validUntil"),
])
def test_build_rejects_bad_input(authority, participant, overrides, error, fragment):
    with pytest.raises(error, match=fragment):
        credential(authority, participant, **overrides)


def test_decode_vc_jwt_uses_the_given_code_prefix(authority):
    with pytest.raises(CredentialError) as info:
        decode_vc_jwt("nope", {authority.did}, code_prefix="status_list")
    assert info.value.code == "status_list.malformed"


# ------------------------------------------------------------------ status list


def test_bit_order_is_left_most_first():
    bits = StatusList()
    bits.set(0)
    bits.set(15)
    raw = gzip.decompress(unb64(bits.encode()[1:]))
    assert len(raw) == MIN_LENGTH // 8
    assert raw[:2] == bytes([0x80, 0x01])
    assert list(bits.set_indices()) == [0, 15]
    bits.set(0, False)
    assert not bits.get(0) and bits.get(15)


def test_encoded_list_round_trips_and_is_deterministic():
    bits = StatusList()
    for i in (1, 7, 8, 131071):
        bits.set(i)
    encoded = bits.encode()
    assert encoded.startswith("u") and "=" not in encoded
    assert encoded == bits.encode()
    assert StatusList.decode(encoded) == bits


def test_decodes_the_spec_example():
    # Bitstring Status List v1.0, example BitstringStatusListCredential: 16 KB of zeros.
    example = "uH4sIAAAAAAAAA-3BMQEAAADCoPVPbQwfoAAAAAAAAAAAAAAAAAAAAIC3AYbSVKsAQAAA"
    bits = StatusList.decode(example)
    assert bits.length == MIN_LENGTH
    assert list(bits.set_indices()) == []


@pytest.mark.parametrize(("encoded", "fragment"), [
    ("H4sI", "prefix"),
    ("u!!!", "base64url"),
    ("u" + b64(b"plain bytes"), "GZIP"),
    ("u" + b64(gzip.compress(bytes(1024), mtime=0)), "minimum"),
    ("u" + b64(gzip.compress(bytes(MIN_LENGTH // 8), mtime=0)[:-8]), "truncated"),
    ("u" + b64(gzip.compress(bytes(64 * 1024 * 1024), mtime=0)), "expands beyond"),
    (None, "prefix"),
])
def test_decode_rejects_bad_lists(encoded, fragment):
    with pytest.raises(ValidationError, match=fragment):
        StatusList.decode(encoded)


def test_index_bounds():
    bits = StatusList()
    for bad in (-1, MIN_LENGTH, True):
        with pytest.raises(ValidationError):
            bits.set(bad)
    with pytest.raises(ValidationError):
        StatusList(1000)


def test_status_list_credential_verifies(authority):
    bits = StatusList()
    bits.set(3)
    token = sign_status_list(authority, LIST_URL, bits, now=NOW, ttl=timedelta(minutes=10))
    assert jwt.get_unverified_header(token)["typ"] == "vc+jwt"
    payload = json.loads(unb64(token.split(".")[1]))
    assert payload["type"] == ["VerifiableCredential", "BitstringStatusListCredential"]
    assert payload["credentialSubject"]["type"] == "BitstringStatusList"
    assert payload["credentialSubject"]["statusPurpose"] == "revocation"
    assert payload["validUntil"] == "2026-04-01T09:10:00Z"
    verified = verify_status_list(token, {authority.did}, NOW, expected_url=LIST_URL)
    assert verified.bits.get(3) and not verified.bits.get(4)
    assert verified.issuer == authority.did and verified.url == LIST_URL


@pytest.mark.parametrize(("now", "trusted", "expected_url", "code"), [
    (NOW + timedelta(minutes=10), "self", None, "status_list.expired"),
    (NOW - timedelta(seconds=1), "self", None, "status_list.not_yet_valid"),
    (NOW, "other", None, "status_list.untrusted_issuer"),
    (NOW, "self", "https://elsewhere.example/list", "status_list.malformed"),
])
def test_status_list_failures(authority, now, trusted, expected_url, code):
    token = sign_status_list(authority, LIST_URL, StatusList(), now=NOW,
                             ttl=timedelta(minutes=10))
    trusted_set = {authority.did} if trusted == "self" else {KeyPair.generate().did}
    with pytest.raises(CredentialError) as info:
        verify_status_list(token, trusted_set, now, expected_url=expected_url)
    assert info.value.code == code


def test_status_list_tampered_bits_fail_signature(authority):
    token = sign_status_list(authority, LIST_URL, StatusList(), now=NOW)
    header, payload, signature = token.split(".")
    claims = json.loads(unb64(payload))
    claims["credentialSubject"]["encodedList"] = StatusList().encode()[:-2] + "AA"
    forged = ".".join([header, b64(json.dumps(claims).encode()), signature])
    with pytest.raises(CredentialError) as info:
        verify_status_list(forged, {authority.did}, NOW)
    assert info.value.code == "status_list.signature"


def test_cache_refuses_to_roll_back_to_an_older_list(authority, participant):
    token = issue(authority, participant)
    before = sign_status_list(authority, LIST_URL, StatusList(), now=NOW - timedelta(minutes=5))
    revoked = StatusList()
    revoked.set(42)
    after = sign_status_list(authority, LIST_URL, revoked, now=NOW - timedelta(minutes=1))
    cache = StatusListCache({authority.did})
    cache.add(before, now=NOW)
    assert verify_credential(token, {authority.did}, cache, NOW)
    cache.add(after, now=NOW)
    assert code_of(token, authority, cache) == "credential.revoked"
    with pytest.raises(CredentialError) as info:
        cache.add(before, now=NOW)  # a replay of the earlier, still-valid list
    assert info.value.code == "status_list.stale"
    assert code_of(token, authority, cache) == "credential.revoked"
    assert cache.urls() == [LIST_URL]


def test_provider_answering_with_another_list_is_not_trusted(authority, participant):
    other_url = "https://authority.example/other-list"

    class Lying:
        def status_list(self, url, now):
            return cache_with(authority, url=other_url).status_list(other_url, now)

    assert code_of(issue(authority, participant), authority, Lying()) \
        == "credential.status_unknown"


def test_lone_surrogate_token_is_malformed_not_a_crash():
    from trust.credentials import decode_vc_jwt
    from trust.errors import CredentialError

    with pytest.raises(CredentialError) as info:
        decode_vc_jwt("\ud800yJhbGciOiJFZERTQSJ9.e30.sig", ["did:key:z6Mk"])
    assert info.value.code == "credential.malformed"
