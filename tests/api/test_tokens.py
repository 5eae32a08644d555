"""Tokens: stored only as digests, scoped, expiring, revocable; the CLI prints one once."""

from datetime import UTC, datetime, timedelta

import pytest

from connector.api.problems import status_of
from connector.api.tokens import AuthError, ScopeError, TokenStore, digest
from connector.cli.main import main
from connector.store.database import Store
from trust.errors import ValidationError


@pytest.fixture
def tokens(tmp_path):
    store = Store(tmp_path / "connector.sqlite")
    yield TokenStore(store)
    store.close()


def test_issued_token_is_stored_only_as_digest(tokens):
    issued = tokens.issue(["records:read"])
    assert issued.token.startswith("tsu_") and len(issued.token) >= 4 + 43
    rows = tokens.store.query("SELECT digest, scopes FROM tokens")
    assert rows == [(digest(issued.token), "records:read")]
    raw = b"".join(p.read_bytes() for p in tokens.store.path.parent.glob("connector.sqlite*"))
    assert digest(issued.token).encode() in raw  # the search does see what is stored
    assert issued.token.encode() not in raw


def test_verify_checks_scope_and_admin_implies_all(tokens):
    reader = tokens.issue(["records:read"]).token
    assert tokens.verify(reader, "records:read").scopes == {"records:read"}
    with pytest.raises(ScopeError) as info:
        tokens.verify(reader, "records:write")
    assert (info.value.code, status_of(info.value)) == ("auth.scope", 403)
    admin = tokens.issue(["admin"]).token
    assert tokens.verify(admin, "contracts:write").allows("events:read")


@pytest.mark.parametrize("token, code", [
    (None, "auth.missing"), ("", "auth.missing"), ("Bearer", "auth.invalid"),
    ("tsu_not-a-real-token", "auth.invalid"),
])
def test_missing_or_unknown_token_is_401(tokens, token, code):
    with pytest.raises(AuthError) as info:
        tokens.verify(token, "records:read")
    assert (info.value.code, status_of(info.value)) == (code, 401)


def test_expired_and_revoked_tokens_are_refused(tokens):
    issued = tokens.issue(["records:read"], days=1)
    later = datetime.now(UTC) + timedelta(days=1, seconds=1)
    with pytest.raises(AuthError) as info:
        tokens.verify(issued.token, "records:read", now=later)
    assert info.value.code == "auth.expired"
    assert tokens.revoke(issued.id) and not tokens.revoke("tok_missing")
    with pytest.raises(AuthError) as info:
        tokens.verify(issued.token, "records:read")
    assert info.value.code == "auth.invalid"


@pytest.mark.parametrize("scopes, days", [([], 1), (["records:delete"], 1),
                                          (["admin"], 0), (["admin"], 5000)])
def test_bad_issue_requests_are_refused(tokens, scopes, days):
    with pytest.raises(ValidationError):
        tokens.issue(scopes, days=days)


def test_cli_prints_token_once_and_it_verifies(tmp_path, capsys):
    path = tmp_path / "connector.sqlite"
    Store(path).close()
    assert main(["connector", "token", "--store", str(path), "--scope", "records:read",
                 "--scope", "events:read", "--days", "7"]) == 0
    out, err = capsys.readouterr()
    token = out.strip()
    assert token.startswith("tsu_") and token not in err and "tok_" in err
    store = Store(path)
    try:
        info = TokenStore(store).verify(token, "events:read")
        assert info.scopes == {"records:read", "events:read"}
        assert timedelta(days=6) < info.expires - datetime.now(UTC) <= timedelta(days=7)
    finally:
        store.close()
    assert main(["connector", "token", "--store", str(path), "--revoke", info.id]) == 0
    assert main(["connector", "token", "--store", str(path), "--list"]) == 0
    assert f"{info.id}  events:read records:read  revoked" in capsys.readouterr().out


def test_cli_refuses_missing_store(tmp_path, capsys):
    assert main(["connector", "token", "--store", str(tmp_path / "none.sqlite"),
                 "--scope", "admin"]) == 2
    assert "store.not_found" in capsys.readouterr().err
