"""Key rotation and recovery without NATS (trust.key_history, authority.state,
connector.runtime.key_book, connector.runtime.identity): real keys, a real authority
directory, real signatures. The e2e view is tests/e2e/test_key_rotation.py."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from authority.errors import AuthorityCode
from authority.state import ROTATION_OVERLAP, Authority
from connector.runtime.identity import CredentialChecker, Identity
from connector.runtime.key_book import KeyBook
from tests.connector.conftest import status_lists
from trust.credentials import SIGNING_KEY, decode_vc_jwt
from trust.envelope import ReplayCache, open_envelope, seal
from trust.errors import EnvelopeError, TrustCode, TsunaguError
from trust.key_history import KeyHistoryCache, KeyRejected, sign_key_histories, verify_key_histories
from trust.keys import KeyPair
from trust.proofs import sign_document, verify_document

T0 = datetime(2026, 4, 1, 9, 0, tzinfo=UTC)


@pytest.fixture
def authority(tmp_path: Path) -> Authority:
    return Authority.init(tmp_path / "authority", name="test authority")


@pytest.fixture
def old() -> KeyPair:
    return KeyPair.generate()


@pytest.fixture
def identity(authority: Authority, old: KeyPair) -> str:
    authority.issue(did=old.did, name="仙台市", legal_id="041009", roles=["municipality"])
    return old.did


def book(authority: Authority) -> KeyBook:
    async def fetch() -> dict[str, Any]:
        return authority.key_histories()
    return KeyBook(KeyHistoryCache([authority.did]), fetch)


async def fresh_book(authority: Authority) -> KeyBook:
    keys = book(authority)
    assert await keys.refresh(force=True)
    return keys


def record(n: int) -> dict[str, Any]:
    return {"id": f"urn:tsunagu:test:{n}", "type": "Record", "version": 1}


def verify(keys: KeyBook, document: dict[str, Any], identity: str) -> str:
    return verify_document(document, expected_controller=identity,
                           key_check=keys.check_proof).controller


async def test_a_rotation_keeps_old_records_verifiable_and_refuses_the_old_key_after(
        authority, identity, old):
    before = sign_document(record(1), old, created=datetime.now(UTC) - timedelta(hours=1))
    new = KeyPair.generate()
    issued = authority.rotate_key(did=identity, new_key=new.did)
    keys = await fresh_book(authority)

    assert verify(keys, before, identity) == identity  # signed before: still verifies
    assert verify(keys, sign_document(record(2), new), identity) == identity
    # within the overlap the old key still signs (what was in flight at the switch)
    assert verify(keys, sign_document(record(3), old), identity) == identity
    [old_period, new_period] = authority.key_history(identity)
    assert old_period.valid_until == issued.valid_from + ROTATION_OVERLAP
    assert (old_period.ended_because, new_period.reason) == ("rotated", "rotated")
    late = sign_document(record(4), old, created=old_period.valid_until)
    with pytest.raises(KeyRejected) as refused:
        verify(keys, late, identity)
    assert refused.value.code == TrustCode.KEY_ROTATED_OUT
    assert "rotated out" in refused.value.message
    # The new key before it was bound, and a key never bound, are refused too.
    early = sign_document(record(5), new, created=issued.valid_from - timedelta(minutes=5))
    with pytest.raises(KeyRejected) as refused:
        verify(keys, early, identity)
    assert refused.value.code == TrustCode.KEY_NOT_YET_VALID
    stranger = KeyPair.generate()
    with pytest.raises(TsunaguError) as refused:
        verify(keys, sign_document(record(6), stranger), identity)
    assert refused.value.code == TrustCode.PROOF_WRONG_SIGNER  # as without key histories
    assert refused.value.details["key"] == stranger.did
    # Without a key check, another key than the controller is still wrong_signer.
    with pytest.raises(TsunaguError) as refused:
        verify_document(sign_document(record(7), new), expected_controller=identity)
    assert refused.value.code == TrustCode.PROOF_WRONG_SIGNER


async def test_the_rotated_credential_binds_the_new_key_to_the_same_identity(
        authority, identity):
    new = KeyPair.generate()
    issued = authority.rotate_key(did=identity, new_key=new.did)
    subject = decode_vc_jwt(issued.jwt, [authority.did]).payload["credentialSubject"]
    assert subject["id"] == identity and subject[SIGNING_KEY] == new.did
    checker = CredentialChecker([authority.did], status_lists(authority))
    verified = checker.check(issued.jwt, identity, signer=new.did)
    assert (verified.did, verified.signing_key, verified.roles) == \
        (identity, new.did, ("municipality",))
    # A credential issued later (renewal) names the key the participant signs with now.
    renewed = authority.issue(did=identity, name="仙台市", legal_id="041009",
                              roles=["municipality"])
    payload = decode_vc_jwt(renewed.jwt, [authority.did]).payload
    assert payload["credentialSubject"][SIGNING_KEY] == new.did


async def test_a_compromised_key_is_refused_from_the_moment_given_and_replaced(
        authority, identity, old):
    reported = datetime.now(UTC).replace(microsecond=0)
    stolen_at = reported - timedelta(minutes=10)
    ended = authority.revoke_key(did=identity, reason="compromised", at=stolen_at)
    assert (ended.key, ended.valid_until, ended.ended_because) == \
        (old.did, stolen_at, "compromised")
    keys = await fresh_book(authority)
    good = sign_document(record(1), old, created=stolen_at - timedelta(seconds=1))
    assert verify(keys, good, identity) == identity
    for created in (stolen_at, reported):
        with pytest.raises(KeyRejected) as refused:
            verify(keys, sign_document(record(2), old, created=created), identity)
        assert refused.value.code == TrustCode.KEY_ROTATED_OUT
    # A second revocation changes nothing and says why.
    registry = (authority.directory / "registry.json").read_bytes()
    with pytest.raises(KeyRejected) as again:
        authority.revoke_key(did=identity, reason="compromised")
    assert again.value.code == TrustCode.KEY_ROTATED_OUT
    assert (authority.directory / "registry.json").read_bytes() == registry
    # Replaced: a compromise binds the new key with no overlap for the old one.
    new = KeyPair.generate()
    authority.rotate_key(did=identity, new_key=new.did, reason="compromised")
    keys = await fresh_book(authority)
    assert verify(keys, sign_document(record(3), new), identity) == identity
    assert [p.key for p in authority.key_history(identity)] == [old.did, new.did]


async def test_a_rotation_to_a_key_in_use_is_refused_and_changes_nothing(authority, identity):
    other = KeyPair.generate()
    authority.issue(did=other.did, name="避難所運営", legal_id="7000012050002",
                    roles=["shelter_operator"])
    registry = (authority.directory / "registry.json").read_bytes()
    for key in (other.did, identity, authority.did):
        with pytest.raises(TsunaguError) as refused:
            authority.rotate_key(did=identity, new_key=key)
        assert refused.value.code == TrustCode.INPUT_INVALID
    with pytest.raises(TsunaguError) as refused:
        authority.rotate_key(did=KeyPair.generate().did, new_key=KeyPair.generate().did)
    assert refused.value.code == AuthorityCode.UNKNOWN_PARTICIPANT
    assert (authority.directory / "registry.json").read_bytes() == registry


def test_key_histories_must_be_signed_by_a_trusted_authority_and_fresh(authority):
    mallory = KeyPair.generate()
    document = sign_key_histories(mallory, {}, now=T0)
    with pytest.raises(KeyRejected) as refused:
        verify_key_histories(document, [authority.did], now=T0)
    assert refused.value.code == TrustCode.KEY_HISTORY_UNTRUSTED
    document = authority.key_histories(now=T0)
    assert verify_key_histories(document, [authority.did], now=T0).issuer == authority.did
    tampered = {**document, "participants": {mallory.did: [{"key": mallory.did,
                                                              "reason": "onboarded"}]}}
    with pytest.raises(KeyRejected) as refused:
        verify_key_histories(tampered, [authority.did], now=T0)
    assert refused.value.code == TrustCode.KEY_HISTORY_UNTRUSTED
    with pytest.raises(KeyRejected) as refused:
        verify_key_histories(document, [authority.did], now=T0 + timedelta(hours=1))
    assert refused.value.code == TrustCode.KEY_HISTORY_UNKNOWN


async def test_without_fresh_key_histories_every_key_check_fails_closed(authority, identity,
                                                                        old):
    async def unreachable() -> dict[str, Any]:
        raise OSError("connection refused")

    keys = KeyBook(KeyHistoryCache([authority.did]), unreachable)
    assert not await keys.refresh(force=True)
    with pytest.raises(KeyRejected) as refused:
        verify(keys, sign_document(record(1), old), identity)
    assert refused.value.code == TrustCode.KEY_HISTORY_UNKNOWN


async def test_an_envelope_from_a_revoked_key_is_refused_before_the_replay_cache(
        authority, identity, old):
    recipient = KeyPair.generate().did
    credential = authority.credentials()[-1]["jwt"]
    token = seal({"hello": 1}, sender=old, recipient=recipient, message_type="t",
                 credential=credential)
    authority.revoke_key(did=identity, reason="compromised")
    checker = CredentialChecker([authority.did], status_lists(authority),
                                keys=await fresh_book(authority))
    cache = ReplayCache()
    found: dict[str, Any] = {}
    with pytest.raises(KeyRejected) as refused:
        open_envelope(token, recipient=recipient, replay_cache=cache,
                      signer_check=checker.signer_check(found))
    assert refused.value.code == TrustCode.KEY_ROTATED_OUT
    assert len(cache) == 0 and not found  # nothing remembered, nothing accepted


async def test_an_envelope_names_the_identity_and_is_signed_by_the_bound_key(
        authority, identity):
    new = KeyPair.generate()
    issued = authority.rotate_key(did=identity, new_key=new.did)
    me = Identity(new, issued.jwt, did=identity)
    recipient = KeyPair.generate().did
    token = seal({"n": 1}, sender=me.key, recipient=recipient, message_type="t",
                 credential=me.credential, identity=me.did)
    # A caller that checks no binding refuses it, as before rotations existed.
    with pytest.raises(EnvelopeError) as refused:
        open_envelope(token, recipient=recipient, replay_cache=ReplayCache())
    assert refused.value.code == TrustCode.ENVELOPE_SENDER_MISMATCH
    # With the credential's binding (no key-history document needed yet), it opens.
    checker = CredentialChecker([authority.did], status_lists(authority))
    found: dict[str, Any] = {}
    env = open_envelope(token, recipient=recipient, replay_cache=ReplayCache(),
                        signer_check=checker.signer_check(found))
    assert (env.sender, env.signer) == (identity, new.did)
    assert found["credential"].did == identity
    # Someone else's key with that credential is refused: the credential binds one key.
    thief = seal({"n": 2}, sender=KeyPair.generate(), recipient=recipient, message_type="t",
                 credential=me.credential, identity=me.did)
    with pytest.raises(KeyRejected) as refused:
        open_envelope(thief, recipient=recipient, replay_cache=ReplayCache(),
                      signer_check=checker.signer_check({}))
    assert refused.value.code == TrustCode.KEY_UNKNOWN


async def test_the_authority_serves_key_histories_and_a_connector_fetches_them(
        authority, identity, old):
    """Over real HTTP, as `tsunagu authority serve` answers and a connector fetches (its
    default URL: beside the status list)."""
    from aiohttp.test_utils import TestServer

    from authority.cli import make_app
    from connector.runtime.config import AuthoritySection
    from connector.runtime.key_book import http_fetcher

    new = KeyPair.generate()
    authority.rotate_key(did=identity, new_key=new.did)
    server = TestServer(make_app(authority))
    await server.start_server()
    try:
        base = str(server.make_url("")).rstrip("/")
        section = AuthoritySection(dids=[authority.did], status_list_url=base + "/status-list")
        assert section.key_histories_at() == base + "/key-history"
        keys = KeyBook(KeyHistoryCache([authority.did]), http_fetcher(section.key_histories_at()))
        assert await keys.refresh(force=True)
    finally:
        await server.close()
    assert keys.current_key(identity) == new.did
    assert [p.key for p in keys.periods(identity, datetime.now(UTC))] == [old.did, new.did]
