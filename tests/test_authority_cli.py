"""``tsunagu authority``: init, issue, revoke and serve, end to end in a temporary directory."""

from __future__ import annotations

import asyncio
import hashlib
import json
import logging
import os
import re
import signal
import stat
import sys
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta

import aiohttp
import nkeys
import pytest

from authority.state import Authority
from connector.cli.main import main
from trust import nats_jwt
from trust.credentials import verify_credential
from trust.errors import CredentialError, KeyMaterialError, TsunaguError
from trust.keys import KeyPair
from trust.participant_registry import verify_registry
from trust.status_list import StatusListCache, verify_status_list

CHIYODA = "131016"
TOYOTA = "1180301018771"


@pytest.fixture(autouse=True)
def _restore_logging():
    """main() installs its own stderr handler; give pytest's capture back afterwards."""
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    yield
    root.handlers[:] = handlers
    root.setLevel(level)


@pytest.fixture
def authority_dir(tmp_path, capsys):
    directory = tmp_path / "authority"
    assert main(["authority", "init", "--dir", str(directory), "--name", "テスト認証局"]) == 0
    did = capsys.readouterr().out.strip()
    assert did.startswith("did:key:z6Mk")
    return directory


@pytest.fixture
def participant():
    return KeyPair.generate()


def snapshot(directory):
    """Names, modes and content hashes of every file: 'nothing written' means this is equal."""
    result = {}
    for path in sorted(directory.rglob("*")):
        data = path.read_bytes() if path.is_file() else b""
        result[str(path.relative_to(directory))] = (
            stat.S_IMODE(path.stat().st_mode), hashlib.sha256(data).hexdigest())
    return result


def run(capsys, *argv):
    code = main(["authority", *map(str, argv)])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def issue(capsys, directory, participant, *extra, legal_id=CHIYODA, roles=("municipality",)):
    args = ["issue", "--dir", directory, "--did", participant.did, "--name", "千代田区",
            "--legal-id", legal_id]
    for role in roles:
        args += ["--role", role]
    return run(capsys, *args, *extra)


def verifier(directory, now=None):
    """What a relying party holds: the authority's DID as trusted and its fresh status list."""
    authority = Authority.open(directory)
    cache = StatusListCache({authority.did})
    cache.add(authority.status_list_jwt(now=now), now=now, expected_url=authority.status_list_url)
    return authority.did, cache


# ------------------------------------------------------------------ init


def test_init_creates_private_state(authority_dir):
    assert sorted(p.name for p in authority_dir.iterdir()) == [
        ".lock", "authority.json", "authority.key", "registry.json"]
    assert stat.S_IMODE(authority_dir.stat().st_mode) == 0o700
    for path in authority_dir.iterdir():
        assert stat.S_IMODE(path.stat().st_mode) == 0o600, path.name
    config = json.loads((authority_dir / "authority.json").read_text())
    assert config["name"] == "テスト認証局"
    assert config["statusListLength"] == 131072
    assert json.loads((authority_dir / "registry.json").read_text())["credentials"] == []
    authority = Authority.open(authority_dir)
    assert authority.did == config["did"]
    assert not any(authority.status_list().set_indices())


def test_init_refuses_existing_authority(authority_dir, capsys):
    before = snapshot(authority_dir)
    code, _, err = run(capsys, "init", "--dir", authority_dir, "--name", "other")
    assert code == 2 and "authority.exists" in err
    assert snapshot(authority_dir) == before


@pytest.mark.parametrize(("argv", "fragment"), [
    (["--name", "  "], "name"),
    (["--name", "ok", "--public-url", "ftp://x"], "http(s)"),
    (["--name", "ok", "--status-ttl-minutes", "0"], "ttl"),
])
def test_failed_init_writes_nothing(tmp_path, capsys, argv, fragment):
    target = tmp_path / "new"
    code, _, err = run(capsys, "init", "--dir", target, *argv)
    assert code == 2 and fragment in err
    assert not target.exists()


def test_key_readable_by_others_is_refused(authority_dir, participant, capsys):
    os.chmod(authority_dir / "authority.key", 0o644)
    code, _, err = issue(capsys, authority_dir, participant)
    assert code == 2 and "chmod 600" in err
    with pytest.raises(KeyMaterialError):
        Authority.open(authority_dir)


def test_commands_on_a_missing_directory_fail_cleanly(tmp_path, participant, capsys):
    code, _, err = issue(capsys, tmp_path / "nope", participant)
    assert code == 2 and "authority.not_found" in err
    assert not (tmp_path / "nope").exists()


# ------------------------------------------------------------------ issue


def test_issue_prints_a_credential_that_verifies(authority_dir, participant, capsys):
    code, out, err = issue(capsys, authority_dir, participant,
                           roles=("municipality", "shelter_operator"))
    assert code == 0, err
    token = out.strip()
    assert "status index 0" in err
    trusted, cache = verifier(authority_dir)
    verified = verify_credential(token, {trusted}, cache)
    assert verified.did == participant.did
    assert verified.roles == ("municipality", "shelter_operator")
    assert verified.legal_id.value == CHIYODA
    assert verified.valid_until - verified.valid_from == timedelta(days=365)
    [entry] = Authority.open(authority_dir).credentials()
    assert entry["did"] == participant.did and entry["index"] == 0
    assert entry["jwt"] == token and entry["revoked"] is None
    assert entry["legalIdentifier"] == {"type": "local_government_code", "value": CHIYODA}


def test_issue_accepts_full_width_legal_id_and_stores_it_normalised(
        authority_dir, participant, capsys):
    code, _, err = issue(capsys, authority_dir, participant,
                         legal_id="１１８０-３０１０-１８７７１", roles=("steel_mill", "trader"))
    assert code == 0, err
    [entry] = Authority.open(authority_dir).credentials()
    assert entry["legalIdentifier"] == {"type": "corporate_number", "value": TOYOTA}


def test_issue_allocates_consecutive_indices(authority_dir, participant, capsys):
    other = KeyPair.generate()
    assert issue(capsys, authority_dir, participant)[0] == 0
    assert issue(capsys, authority_dir, other, legal_id=TOYOTA, roles=("trader",))[0] == 0
    entries = Authority.open(authority_dir).credentials()
    assert [(e["index"], e["did"]) for e in entries] == [(0, participant.did), (1, other.did)]


def test_issue_to_out_file(authority_dir, participant, tmp_path, capsys):
    out_file = tmp_path / "participant.jwt"
    code, out, err = issue(capsys, authority_dir, participant, "--out", out_file,
                           "--valid-days", 30)
    assert code == 0, err
    assert out == ""
    assert stat.S_IMODE(out_file.stat().st_mode) == 0o600
    token = out_file.read_text().strip()
    trusted, cache = verifier(authority_dir)
    verified = verify_credential(token, {trusted}, cache)
    assert verified.valid_until - verified.valid_from == timedelta(days=30)
    # Beside it, the participant's NATS user for the data space's operator-mode server.
    # (and the authority's at-rest key beside its directory, as init put it)
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        "authority", "authority.at-rest.key", "nats.creds", "participant.jwt"]
    creds = tmp_path / "nats.creds"
    assert stat.S_IMODE(creds.stat().st_mode) == 0o600
    user = nats_jwt.decode(nats_jwt.parse_creds(creds.read_text()).jwt, expected_type="user")
    state = Authority.open(authority_dir).read_nats_state()
    accounts = {a["did"]: a for a in state["manager"]["accounts"]}
    assert user["iss"] == nkeys.from_seed(accounts[participant.did]["seed"].encode()
                                          ).public_key.decode()
    assert "nats.creds" not in err and "pending" in state["manager"]  # no server: pending
    assert accounts[participant.did]["did"] in state["manager"]["pending"]


@pytest.mark.parametrize(("change", "fragment"), [
    ({"legal_id": "131017"}, "expected 6, got 7"),
    ({"legal_id": "13101"}, "131016"),
    ({"legal_id": "１３１０１６号"}, "'号'"),
    ({"legal_id": "118030101877"}, "12 digits"),
    ({"roles": ("mayor",)}, "unknown role 'mayor'"),  # well formed, but no domain has it
    ({"roles": ("Mayor!",)}, "not a role name"),
    ({"did": "did:key:zBroken"}, "did.invalid"),
    ({"did": "did:web:example.com"}, "did.invalid"),
    ({"extra": ("--valid-days", "0")}, "validity"),
    ({"extra": ("--name", "")}, "name"),
])
def test_failed_issue_writes_nothing(authority_dir, participant, tmp_path, capsys,
                                     change, fragment):
    # One good credential first, so the registry is not trivially empty.
    assert issue(capsys, authority_dir, participant)[0] == 0
    before = snapshot(authority_dir)
    outside_before = sorted(p.name for p in tmp_path.iterdir())
    subject = participant
    if "did" in change:
        subject = type("Fake", (), {"did": change["did"]})()
    code, out, err = issue(
        capsys, authority_dir, subject, *change.get("extra", ()),
        "--out", tmp_path / "new.jwt",
        legal_id=change.get("legal_id", CHIYODA), roles=change.get("roles", ("municipality",)))
    assert code == 2
    assert fragment in err
    assert out == ""
    assert snapshot(authority_dir) == before
    assert sorted(p.name for p in tmp_path.iterdir()) == outside_before  # no out, no temp


def test_issue_refuses_to_overwrite_out_file(authority_dir, participant, tmp_path, capsys):
    out_file = tmp_path / "exists.jwt"
    out_file.write_text("keep me")
    before = snapshot(authority_dir)
    code, _, err = issue(capsys, authority_dir, participant, "--out", out_file)
    assert code == 2 and "refusing to overwrite" in err
    assert out_file.read_text() == "keep me"
    assert snapshot(authority_dir) == before


# ------------------------------------------------------------------ revoke


def test_revoke_by_did_then_verification_fails(authority_dir, participant, capsys):
    token = issue(capsys, authority_dir, participant)[1].strip()
    code, _, err = run(capsys, "revoke", "--dir", authority_dir, "--did", participant.did,
                       "--reason", "合併により廃止")
    assert code == 0, err
    assert "revoked status index 0" in err
    trusted, cache = verifier(authority_dir)
    with pytest.raises(CredentialError) as info:
        verify_credential(token, {trusted}, cache)
    assert info.value.code == "credential.revoked"
    [entry] = Authority.open(authority_dir).credentials()
    assert entry["revoked"]["reason"] == "合併により廃止"


def test_revoke_by_index_leaves_the_others(authority_dir, participant, capsys):
    first = issue(capsys, authority_dir, participant)[1].strip()
    second = issue(capsys, authority_dir, participant)[1].strip()
    assert run(capsys, "revoke", "--dir", authority_dir, "--index", 0)[0] == 0
    trusted, cache = verifier(authority_dir)
    with pytest.raises(CredentialError, match="revoked"):
        verify_credential(first, {trusted}, cache)
    assert verify_credential(second, {trusted}, cache).status_index == 1
    # Revoking the DID now revokes only what is still live.
    code, _, err = run(capsys, "revoke", "--dir", authority_dir, "--did", participant.did)
    assert code == 0 and "revoked status index 1" in err
    assert list(Authority.open(authority_dir).status_list().set_indices()) == [0, 1]


@pytest.mark.parametrize(("target", "code_name"), [
    (("--did", "did:key:z6MkhaXgBZDvotDkL5257faiztiGiC2QtKLGpbnnEGta2doK"),
     "authority.unknown_participant"),
    (("--index", "7"), "authority.unknown_participant"),
])
def test_revoke_unknown_writes_nothing(authority_dir, participant, capsys, target, code_name):
    issue(capsys, authority_dir, participant)
    before = snapshot(authority_dir)
    code, _, err = run(capsys, "revoke", "--dir", authority_dir, *target)
    assert code == 2 and code_name in err
    assert snapshot(authority_dir) == before


def test_revoke_twice_reports_already_revoked(authority_dir, participant, capsys):
    issue(capsys, authority_dir, participant)
    assert run(capsys, "revoke", "--dir", authority_dir, "--did", participant.did)[0] == 0
    before = snapshot(authority_dir)
    code, _, err = run(capsys, "revoke", "--dir", authority_dir, "--did", participant.did)
    assert code == 2 and "authority.already_revoked" in err
    assert snapshot(authority_dir) == before


def test_revoke_needs_a_target(authority_dir, capsys):
    with pytest.raises(SystemExit):
        main(["authority", "revoke", "--dir", str(authority_dir)])


# ------------------------------------------------------------------ library-level details


def test_status_list_jwt_is_short_lived(authority_dir):
    authority = Authority.open(authority_dir)
    now = datetime(2026, 4, 1, tzinfo=UTC)
    token = authority.status_list_jwt(now=now)
    verify_status_list(token, {authority.did}, now + timedelta(minutes=14))
    with pytest.raises(CredentialError) as info:
        verify_status_list(token, {authority.did}, now + timedelta(minutes=15))
    assert info.value.code == "status_list.expired"


def test_concurrent_issues_get_distinct_indices(authority_dir):
    authority = Authority.open(authority_dir)
    keys = [KeyPair.generate() for _ in range(8)]

    def one(key):
        return authority.issue(did=key.did, name="病院", legal_id=TOYOTA,
                               roles=["medical_institution"]).index

    with ThreadPoolExecutor(max_workers=8) as pool:
        indices = sorted(pool.map(one, keys))
    assert indices == list(range(8))
    entries = Authority.open(authority_dir).credentials()
    assert sorted(e["did"] for e in entries) == sorted(k.did for k in keys)


def test_public_registry_marks_expiry_and_hides_secrets(authority_dir, participant):
    authority = Authority.open(authority_dir)
    now = datetime(2026, 4, 1, tzinfo=UTC)
    authority.issue(did=participant.did, name="千代田区", legal_id=CHIYODA,
                    roles=["municipality"], valid_days=10, now=now)
    [entry] = authority.public_registry(now=now)
    assert entry["status"] == "active"
    assert set(entry) == {"id", "name", "legalIdentifier", "roles", "credentialId",
                          "statusListIndex", "validFrom", "validUntil", "status"}
    assert authority.public_registry(now=now + timedelta(days=10))[0]["status"] == "expired"


# ------------------------------------------------------------------ serve


async def _start_server(directory):
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "connector.cli.main", "authority", "serve", "--dir", str(directory),
        "--port", "0", stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
    try:
        line = (await asyncio.wait_for(proc.stdout.readline(), timeout=30)).decode()
    except TimeoutError:
        proc.kill()
        raise
    match = re.search(r"serving on (http://127\.0\.0\.1:\d+)", line)
    if match is None:
        proc.kill()
        err = (await proc.stderr.read()).decode()
        pytest.fail(f"server did not start: {line!r} {err}")
    return proc, match.group(1)


async def test_serve_publishes_a_verifiable_status_list(authority_dir, participant, capsys):
    token = issue(capsys, authority_dir, participant)[1].strip()
    authority = Authority.open(authority_dir)
    proc, base = await _start_server(authority_dir)
    try:
        async with aiohttp.ClientSession() as session:
            async with session.get(f"{base}/status-list") as resp:
                assert resp.status == 200
                assert resp.content_type == "application/vc+jwt"
                status_jwt = await resp.text()
            cache = StatusListCache({authority.did})
            cache.add(status_jwt, expected_url=authority.status_list_url)
            verified = verify_credential(token, {authority.did}, cache)
            assert verified.did == participant.did

            async with session.get(f"{base}/participants") as resp:
                assert resp.status == 200
                body = await resp.json()
            # the signed registry of live participants (trust.participant_registry)
            assert body["id"] == authority.did and body["type"] == "ParticipantRegistry"
            verify_registry(body, expected_authority=authority.did)
            [entry] = body["participants"]
            assert entry["id"] == participant.did
            assert entry["legalIdentifier"]["value"] == CHIYODA
            assert "jwt" not in entry

            async with session.get(f"{base}/authority") as resp:
                assert (await resp.json())["id"] == authority.did

            # Revoke from another "shell": the next list served carries the bit.
            assert run(capsys, "revoke", "--dir", authority_dir, "--did", participant.did,
                       "--reason", "secret reason")[0] == 0
            async with session.get(f"{base}/status-list") as resp:
                cache.add(await resp.text(), expected_url=authority.status_list_url)
            with pytest.raises(CredentialError) as info:
                verify_credential(token, {authority.did}, cache)
            assert info.value.code == "credential.revoked"

            async with session.get(f"{base}/participants") as resp:
                text = await resp.text()
            assert "secret reason" not in text
            assert json.loads(text)["participants"] == []  # revoked: gone from the registry
    finally:
        proc.send_signal(signal.SIGTERM)
        rc = await asyncio.wait_for(proc.wait(), timeout=10)
    assert rc == 0


def test_init_under_a_file_is_a_typed_error(tmp_path, capsys):
    (tmp_path / "file").write_text("x")
    assert main(["authority", "init", "--dir", str(tmp_path / "file" / "sub"),
                 "--name", "auth"]) == 2
    assert "authority.directory" in capsys.readouterr().err


def test_authority_backup_and_restore_bring_back_its_key_and_registry(tmp_path, monkeypatch,
                                                                      capsys):
    from trust.keys import KeyPair

    directory = tmp_path / "authority"
    assert main(["authority", "init", "--dir", str(directory), "--name", "テスト認証局"]) == 0
    authority = Authority.open(directory)
    participant = KeyPair.generate()
    authority.issue(did=participant.did, name="千代田区", legal_id="131016",
                    roles=["municipality"])
    monkeypatch.setenv("TSUNAGU_BACKUP_PASSPHRASE", "a passphrase for the drill")
    backup = tmp_path / "authority.backup"
    assert main(["authority", "backup", "--dir", str(directory), "--out", str(backup)]) == 0
    assert "千代田区".encode() not in backup.read_bytes()
    restored = tmp_path / "restored"
    assert main(["authority", "restore", str(backup), "--dir", str(restored)]) == 0
    again = Authority.open(restored)
    assert again.did == authority.did
    assert again.public_registry() == authority.public_registry()
    monkeypatch.setenv("TSUNAGU_BACKUP_PASSPHRASE", "not the passphrase of this one")
    capsys.readouterr()
    assert main(["authority", "restore", str(backup), "--dir", str(tmp_path / "x")]) == 2
    assert "passphrase does not open" in capsys.readouterr().err
    assert not (tmp_path / "x").exists()


# ------------------------------------------------------------------ at rest

def test_the_authority_key_and_account_seeds_are_sealed_at_rest(authority_dir, participant,
                                                                 capsys, tmp_path):
    out_file = tmp_path / "participant.jwt"
    code, _, err = issue(capsys, authority_dir, participant, "--out", out_file)
    assert code == 0, err
    authority = Authority.open(authority_dir)  # the key beside the directory opens both
    state = authority.read_nats_state()
    assert state is not None
    seeds = re.findall(r'"(S[OAU][A-Z2-7]{50,})"', json.dumps(state))
    assert len(seeds) >= 3  # operator, system user, the participant's account
    copied = b"".join(p.read_bytes() for p in authority_dir.rglob("*") if p.is_file())
    assert [s[:6] for s in seeds if s.encode() in copied] == []
    assert b"PRIVATE KEY" not in copied
    assert authority.signing_key.secret_key_multibase().encode() not in copied
    # Without its key the directory opens for nobody, and says why.
    (tmp_path / "authority.at-rest.key").rename(tmp_path / "moved.key")
    with pytest.raises(TsunaguError) as info:
        Authority.open(authority_dir)
    assert info.value.code == "at_rest.key_missing"


def test_catalog_node_makes_the_participants_account_import_every_catalog(
        authority_dir, participant, tmp_path, capsys):
    other = KeyPair.generate()
    for who in (participant, other):  # each with its NATS account (--out writes the creds)
        folder = tmp_path / who.did[-8:]
        folder.mkdir()
        code, _, err = issue(capsys, authority_dir, who, "--out", folder / "p.jwt")
        assert code == 0, err
    code, _, err = run(capsys, "catalog-node", "--dir", authority_dir, "--did", participant.did)
    assert code == 0, err
    assert "of 2 participant(s)" in err  # the other and the authority's own account
    state = Authority.open(authority_dir).read_nats_state()["manager"]
    assert state["catalogNodes"] == [participant.did]
    accounts = {a["did"]: a for a in state["accounts"]}
    feeds = [i["local_subject"] for i in accounts[participant.did]["imports"]
             if i.get("local_subject", "").startswith("tsunagu.catalogfeed.")]
    assert len(feeds) == 2
    assert not [i for i in accounts[other.did]["imports"] if "catalog" in i["subject"]]
    # a DID without an account is refused, naming the problem
    code, _, err = run(capsys, "catalog-node", "--dir", authority_dir, "--did",
                       KeyPair.generate().did)
    assert code != 0 and "not onboarded" in err
