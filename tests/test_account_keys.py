"""NATS account signing keys (authority.accounts, trust.nats_jwt), without a server: the
claims the server checks. tests/e2e/test_key_rotation.py rotates one on a real nats-server
mid-stream."""

from __future__ import annotations

import nkeys
import pytest

from authority.accounts import NatsAccountManager, NatsAccountsError
from trust import nats_jwt
from trust.keys import KeyPair


def claims(token: str) -> dict:
    return nats_jwt.decode(token)


def test_rotating_an_account_key_signs_new_users_with_it_and_retires_the_old_ones():
    manager = NatsAccountManager()
    did = KeyPair.generate().did
    first = manager.onboard(did)
    account = manager.account_of(did)
    assert claims(first.user_jwt)["iss"] == account  # before: the account key signs

    signing = manager.add_signing_key(did)
    assert claims(manager.account_jwt(did))["nats"]["signing_keys"] == [signing]
    second = manager.onboard(did)
    user = claims(second.user_jwt)
    assert (user["iss"], user["nats"]["issuer_account"]) == (signing, account)
    # the Go library's order: permissions and limits, then issuer_account, then type
    assert list(user["nats"])[-3:] == ["issuer_account", "type", "version"]

    retired = manager.retire_signing_keys(did)
    first_user = nats_jwt.public_key(nkeys.from_seed(first.user_seed.encode()))
    assert retired == [first_user]
    jwt = claims(manager.account_jwt(did))["nats"]
    assert jwt["signing_keys"] == [signing]
    assert first_user in jwt["revocations"]  # the account key cannot be dropped: revoked

    newer = manager.add_signing_key(did)
    third = manager.onboard(did)
    assert manager.retire_signing_keys(did) == [user["sub"]]
    jwt = claims(manager.account_jwt(did))["nats"]
    assert jwt["signing_keys"] == [newer]  # the older signing key left: its users go
    assert user["sub"] not in jwt.get("revocations", {})
    assert claims(third.user_jwt)["iss"] == newer

    again = NatsAccountManager.from_state(manager.to_state())
    assert claims(again.account_jwt(did))["nats"]["signing_keys"] == [newer]
    assert claims(again.onboard(did).user_jwt)["iss"] == newer


def test_retiring_without_a_signing_key_is_refused_and_changes_nothing():
    manager = NatsAccountManager()
    did = KeyPair.generate().did
    manager.onboard(did)
    before = manager.to_state()
    with pytest.raises(NatsAccountsError):
        manager.retire_signing_keys(did)
    assert manager.to_state() == before
