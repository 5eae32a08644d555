"""The authority rotates its own key (trust.authority_keys, authority.state): its DID stays
the anchor connectors trust; what it signed before keeps verifying; the new key is accepted
only through the chain its predecessor signed; a retired key signs nothing new."""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta

import pytest

from authority.state import KEY_FILE, NEXT_KEY_FILE, RETIRED_DIR, Authority
from connector.cli.main import main
from tests.connector.conftest import status_lists
from trust.announcement import AnnouncementError, verify_announcement
from trust.authority_keys import AuthorityKeyring, AuthorityKeysError, sign_rotation, verify_chain
from trust.credentials import build_participant_credential, sign_vc_jwt, verify_credential
from trust.errors import CredentialError, TrustCode
from trust.key_history import KeyHistoryCache, KeyRejected
from trust.keys import KeyPair, load_key
from trust.legal_id import parse_legal_id
from trust.status_list import StatusListCache


@pytest.fixture
def authority(tmp_path) -> Authority:
    return Authority.init(tmp_path / "authority", name="テスト認証局")


def onboard(authority: Authority) -> tuple[str, str]:
    did = KeyPair.generate().did
    return did, authority.issue(did=did, name="仙台市", legal_id="041009",
                                roles=["municipality"]).jwt


def keyring_from(authority: Authority) -> AuthorityKeyring:
    """What a connector holds after fetching the key histories."""
    keyring = AuthorityKeyring([authority.did])
    KeyHistoryCache(keyring).add(authority.key_histories())
    return keyring


def test_credentials_from_before_and_after_the_rotation_verify_under_the_same_did(authority):
    did_before, before = onboard(authority)
    old_key, old_lists = authority.signing_key, status_lists(authority)
    new_key = authority.rotate_own_key()
    did_after, after = onboard(authority)
    assert authority.did == old_key.did != new_key == authority.signing_key.did
    keyring = keyring_from(authority)
    lists = StatusListCache(keyring)
    lists.add(authority.status_list_jwt())  # signed by the new key
    assert verify_credential(before, keyring, lists).did == did_before
    verified = verify_credential(after, keyring, lists)
    assert (verified.did, verified.issuer) == (did_after, authority.did)
    # A relying party that has not learnt the chain refuses the new key, and says so.
    with pytest.raises(CredentialError) as refused:
        verify_credential(after, [authority.did], old_lists)
    assert refused.value.code == TrustCode.CREDENTIAL_UNTRUSTED_ISSUER
    # The authority opens again with the new key; the old one is kept, retired.
    reopened = Authority.open(authority.directory)
    assert reopened.signing_key.did == new_key and reopened.did == authority.did
    retired = authority.directory / RETIRED_DIR / (old_key.did.removeprefix("did:key:")
                                                   + ".key")
    assert load_key(retired).did == old_key.did


def test_a_retired_key_cannot_sign_anything_dated_after_its_retirement(authority):
    old_key = authority.signing_key
    authority.rotate_own_key()
    keyring = keyring_from(authority)
    document = build_participant_credential(
        issuer=authority.did, subject_did=KeyPair.generate().did, name="偽物",
        legal_id=parse_legal_id("041009"), roles=["municipality"],
        valid_from=datetime.now(UTC) + timedelta(seconds=5),
        valid_until=datetime.now(UTC) + timedelta(days=1),
        status_list_url=authority.status_list_url, status_index=0)
    forged = sign_vc_jwt(document, old_key, authority=authority.did)
    lists = StatusListCache(keyring)
    lists.add(authority.status_list_jwt())
    with pytest.raises(CredentialError) as refused:
        verify_credential(forged, keyring, lists, now=datetime.now(UTC) + timedelta(seconds=10))
    assert refused.value.code == TrustCode.CREDENTIAL_UNTRUSTED_ISSUER
    assert "retired" in refused.value.message


def test_a_chain_not_signed_by_the_key_before_is_refused(authority):
    mallory = KeyPair.generate()
    forged = sign_rotation(mallory, authority=authority.did, new_key=mallory.did,
                           at=datetime.now(UTC))
    with pytest.raises(AuthorityKeysError):
        verify_chain(authority.did, [forged])
    authority.rotate_own_key()
    document = authority.key_histories()
    document["authorityKeys"] = [forged]  # the proof no longer covers it, and it is forged
    with pytest.raises(KeyRejected) as refused:
        KeyHistoryCache(AuthorityKeyring([authority.did])).add(document)
    assert refused.value.code == TrustCode.KEY_HISTORY_UNTRUSTED


def test_the_announcement_of_a_rotated_authority_verifies_with_its_did_pinned(authority):
    authority.rotate_own_key()
    announcement = authority.announcement(["nats://127.0.0.1:4222"])
    assert verify_announcement(announcement, expected_authority=authority.did).authority == \
        authority.did
    stripped = {k: v for k, v in announcement.items() if k != "authorityKeys"}
    with pytest.raises(AnnouncementError):
        verify_announcement(stripped, expected_authority=authority.did)


def test_a_rotation_interrupted_between_its_steps_is_finished_at_open(authority):
    """The config names the new key but the key file was not moved yet (a crash)."""
    authority.rotate_own_key()
    new_key = load_key(authority.directory / KEY_FILE)
    key_file = authority.directory / KEY_FILE
    key_file.rename(authority.directory / NEXT_KEY_FILE)
    key_file.hardlink_to(next((authority.directory / RETIRED_DIR).iterdir()))  # the old
    assert Authority.open(authority.directory).signing_key.did == new_key.did
    assert not (authority.directory / NEXT_KEY_FILE).exists()


def test_rotate_own_key_cli(authority, capsys):
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    try:
        code = main(["authority", "rotate-own-key", "--dir", str(authority.directory)])
    finally:
        root.handlers[:] = handlers
        root.setLevel(level)
    out = capsys.readouterr().out
    assert code == 0
    assert f"authority   {authority.did}" in out
    assert f"signing key {Authority.open(authority.directory).signing_key.did}" in out
