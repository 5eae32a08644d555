"""``tsunagu connector rotate-key`` and ``tsunagu authority rotate-key | revoke-key |
key-history``, end to end on real files: the participant keeps its DID, the new key and
credential are installed together, refusals name their code and change nothing."""

from __future__ import annotations

import hashlib
import json
import logging
from pathlib import Path

import pytest

from authority.state import Authority
from connector.cli.main import main
from connector.runtime.config import load_config
from connector.runtime.connector import Connector
from connector.runtime.key_rotation import NEXT_KEY_NAME, REQUEST_NAME, RETIRED_DIR
from connector.runtime.setup import init_participant
from trust.keys import load_key


@pytest.fixture(autouse=True)
def _restore_logging():
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    yield
    root.handlers[:] = handlers
    root.setLevel(level)


def run(capsys, *argv: object) -> tuple[int, str, str]:
    code = main([str(a) for a in argv])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def key_in(folder, name):
    """A key file of the participant in ``folder``, opened with its at-rest key (init seals
    every key file with it)."""
    return load_key(folder / name, load_config(folder / "participant.toml").load_at_rest_key())


def identity_at_start(config_path):
    """The key and credential a connector would start with now (what start loads first)."""
    connector = Connector(load_config(config_path))
    connector.at_rest = connector.config.load_at_rest_key()
    return connector._load_identity()


@pytest.fixture
def space(tmp_path, capsys):
    """An authority and one participant it onboarded from its credential request."""
    authority = Authority.init(tmp_path / "authority", name="テスト認証局")
    folder = tmp_path / "city"
    result = init_participant(folder, name="仙台市", legal_id="041009", roles=["municipality"],
                              authority_dids=[authority.did], insecure_no_auth=True)
    code, _, err = run(capsys, "authority", "issue", "--dir", authority.directory,
                       "--request", result.request_path, "--out", folder / "credential.jwt")
    assert code == 0, err
    return authority, folder, result.did


def test_rotate_key_keeps_the_identity_and_installs_key_and_credential_together(
        space, capsys, tmp_path):
    authority, folder, did = space
    config_path = folder / "participant.toml"
    old_key = key_in(folder, "participant.pem")

    code, out, err = run(capsys, "connector", "rotate-key", "--config", config_path)
    assert code == 0, err
    assert f"participant {did}" in out
    request = json.loads((folder / REQUEST_NAME).read_text())
    new_did = request["newKey"]
    assert request["participant"] == did and request["currentKey"] == old_key.did
    assert key_in(folder, NEXT_KEY_NAME).did == new_did
    assert (folder / NEXT_KEY_NAME).stat().st_mode & 0o777 == 0o600
    # Prepared, not used: the connector still starts with the current pair.
    assert identity_at_start(config_path).key.did == old_key.did

    new_credential = tmp_path / "new-credential.jwt"
    code, _, err = run(capsys, "authority", "rotate-key", "--dir", authority.directory,
                       "--request", folder / REQUEST_NAME, "--out", new_credential)
    assert code == 0, err
    assert f"signing key {new_did}" in err and f"earlier key {old_key.did}" in err

    # The same request again: its key is in use now. Refused, nothing written.
    registry = digest(authority.directory / "registry.json")
    code, _, err = run(capsys, "authority", "rotate-key", "--dir", authority.directory,
                       "--request", folder / REQUEST_NAME)
    assert code != 0 and "input.invalid" in err
    assert digest(authority.directory / "registry.json") == registry

    code, out, err = run(capsys, "connector", "rotate-key", "--config", config_path,
                         "--install", new_credential)
    assert code == 0, err
    assert f"signing key {new_did}" in out
    identity = identity_at_start(config_path)
    assert (identity.did, identity.key.did) == (did, new_did)  # same participant, new key
    assert identity.participant_id == did.removeprefix("did:key:")
    retired = folder / RETIRED_DIR / old_key.did.removeprefix("did:key:")
    assert key_in(retired.parent.parent, retired.with_suffix(".pem")).did == old_key.did
    assert retired.with_suffix(".jwt").is_file()
    assert not (folder / NEXT_KEY_NAME).exists() and not (folder / REQUEST_NAME).exists()

    code, out, _ = run(capsys, "authority", "key-history", "--dir", authority.directory,
                       "--participant", did)
    assert code == 0
    lines = out.strip().splitlines()
    assert lines[0].startswith(old_key.did) and "(onboarded, ended: rotated)" in lines[0]
    assert lines[1].startswith(new_did) and lines[1].endswith(".. now  (rotated)")


def test_a_credential_for_another_key_is_not_installed(space, capsys, tmp_path):
    authority, folder, did = space
    config_path = folder / "participant.toml"
    assert run(capsys, "connector", "rotate-key", "--config", config_path)[0] == 0
    stranger = tmp_path / "other.jwt"
    code, _, err = run(capsys, "authority", "rotate-key", "--dir", authority.directory,
                       "--participant", did, "--new-key",
                       "did:key:z6MkhaXgBZDvotDkL5257faiztiGiC2QtKLGpbnnEGta2doK",
                       "--reason", "rotated", "--out", stranger)
    assert code == 0, err
    before = {p.name: digest(p) for p in folder.iterdir() if p.is_file()}
    code, _, err = run(capsys, "connector", "rotate-key", "--config", config_path,
                       "--install", stranger)
    assert code != 0 and "config.invalid" in err
    assert {p.name: digest(p) for p in folder.iterdir() if p.is_file()} == before


def test_a_compromised_key_is_revoked_then_replaced_without_its_signature(space, capsys,
                                                                          tmp_path):
    authority, folder, did = space
    config_path = folder / "participant.toml"
    old_key = key_in(folder, "participant.pem")
    code, out, err = run(capsys, "authority", "revoke-key", "--dir", authority.directory,
                         "--participant", did, "--reason", "compromised")
    assert code == 0, err
    assert f"key         {old_key.did} refused from" in out and "(compromised)" in out

    # A request signed by the revoked key is refused: the thief cannot pick the new key.
    assert run(capsys, "connector", "rotate-key", "--config", config_path)[0] == 0
    code, _, err = run(capsys, "authority", "rotate-key", "--dir", authority.directory,
                       "--request", folder / REQUEST_NAME)
    assert code != 0 and "key.rotated_out" in err
    (folder / NEXT_KEY_NAME).unlink()
    (folder / REQUEST_NAME).unlink()

    # The participant asks without the lost key; the authority confirms out of band.
    assert run(capsys, "connector", "rotate-key", "--config", config_path, "--lost")[0] == 0
    request = json.loads((folder / REQUEST_NAME).read_text())
    assert "currentKey" not in request and "currentKeySignature" not in request
    code, _, err = run(capsys, "authority", "rotate-key", "--dir", authority.directory,
                       "--request", folder / REQUEST_NAME)
    assert code != 0 and "input.invalid" in err and "--reason" in err
    new_credential = tmp_path / "new.jwt"
    code, _, err = run(capsys, "authority", "rotate-key", "--dir", authority.directory,
                       "--request", folder / REQUEST_NAME, "--reason", "compromised",
                       "--out", new_credential)
    assert code == 0, err
    assert run(capsys, "connector", "rotate-key", "--config", config_path,
               "--install", new_credential)[0] == 0
    assert identity_at_start(config_path).did == did
    history = authority.key_history(did)
    assert [p.reason for p in history] == ["onboarded", "compromised"]
    assert history[0].ended_because == "compromised"


def test_a_tampered_rotation_request_is_refused(space, capsys):
    authority, folder, did = space
    config_path = folder / "participant.toml"
    assert run(capsys, "connector", "rotate-key", "--config", config_path)[0] == 0
    path = folder / REQUEST_NAME
    request = json.loads(path.read_text())
    request["participant"] = "did:key:z6MkhaXgBZDvotDkL5257faiztiGiC2QtKLGpbnnEGta2doK"
    path.write_text(json.dumps(request))
    registry = digest(authority.directory / "registry.json")
    code, _, err = run(capsys, "authority", "rotate-key", "--dir", authority.directory,
                       "--request", path)
    assert code != 0 and "credential_request.bad_signature" in err
    assert digest(authority.directory / "registry.json") == registry


def test_account_key_rotation_commands_write_a_user_of_the_new_key(space, capsys, tmp_path):
    """Without a running server the changes stay pending (serve pushes them); the user
    written is signed by the account's new signing key. The server's view:
    tests/e2e/test_key_rotation.py."""
    from trust import nats_jwt

    authority, folder, did = space
    old = nats_jwt.parse_creds((folder / "nats.creds").read_text())
    new_creds = tmp_path / "new.creds"
    code, out, err = run(capsys, "authority", "rotate-account-key", "--dir",
                         authority.directory, "--participant", did, "--nats-creds", new_creds)
    assert code == 0, err
    assert new_creds.stat().st_mode & 0o777 == 0o600
    new = nats_jwt.decode(nats_jwt.parse_creds(new_creds.read_text()).jwt)
    account = nats_jwt.decode(old.jwt)["iss"]
    assert new["nats"]["issuer_account"] == account and new["iss"] != account
    assert f"account     {account}" in out
    code, out, err = run(capsys, "authority", "retire-account-keys", "--dir",
                         authority.directory, "--participant", did)
    assert code == 0, err
    assert "retired     1 user(s)" in out
    # Refused the second time round the same way: nothing to overwrite.
    code, _, err = run(capsys, "authority", "rotate-account-key", "--dir",
                       authority.directory, "--participant", did, "--nats-creds", new_creds)
    assert code != 0 and "input.invalid" in err
