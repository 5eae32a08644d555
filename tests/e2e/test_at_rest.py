"""Encryption at rest (trust.at_rest, SQLCipher stores): a copy of a participant's directory
without its at-rest key reveals no personal value and no secret, checked by scanning every
byte of every file; the key's absence, a wrong key and a key others can read are refused by
name; a plain store is encrypted in place keeping its data; backups carry the key."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from connector.runtime.at_rest import NATS_CREDS_ROLE
from connector.runtime.backup import BackupError, restore_backup, write_backup
from connector.runtime.config import AtRestSection, ConnectorConfig
from connector.store.database import Store, StoreError, open_sqlite
from tests.e2e.conftest import DATASET, record
from tests.e2e.test_transfer import delivered, started_transfer
from trust.at_rest import (
    AtRestKey,
    KeySource,
    encode_key,
    generate_key,
    read_secret,
    register_key_source,
    write_key_file,
)
from trust.errors import AtRestError
from trust.keys import load_key
from trust.nats_jwt import parse_creds

# Synthetic person: every form a copy of the store could show.
NAME, KANA, PHONE = "山田花子", "ヤマダハナコ", "090-4321-8765"
N = 20


def with_at_rest(config: ConnectorConfig, key_file: Path) -> ConnectorConfig:
    write_key_file(key_file, generate_key())
    return config.model_copy(update={"at_rest": AtRestSection(key=f"file:{key_file}")})


def every_byte(directory: Path) -> bytes:
    return b"".join(p.read_bytes() for p in sorted(directory.rglob("*")) if p.is_file()
                    and "nats" not in p.relative_to(directory).parts[:1])


def forms(text: str) -> list[bytes]:
    """The encodings a scan must not find: UTF-8, UTF-16 both ways, and (for names, whose
    first two kanji or kana are six bytes) the family name alone."""
    found = [text.encode(), text.encode("utf-16-le"), text.encode("utf-16-be")]
    return found + ([text[:2].encode()] if not text[0].isascii() else [])


def plaintext_of(store: Path, key: bytes) -> bytes:
    """The store decrypted with its key: the scan's positive control."""
    plain = store.with_name("plain-copy.sqlite")
    db = open_sqlite(store, key)
    db.execute(f"ATTACH DATABASE '{plain}' AS plain KEY ''")
    db.execute("SELECT sqlcipher_export('plain')")
    db.execute("DETACH DATABASE plain")
    db.close()
    data = plain.read_bytes()
    plain.unlink()
    return data


async def test_a_copied_directory_reveals_no_personal_value_and_no_secret(
        provider, consumer_config, start_node, tmp_path):
    # The provider runs without a key (as before 0.3); the consumer's key is configured.
    config = with_at_rest(consumer_config, tmp_path / "consumer.at-rest.key")
    consumer = await start_node(config)
    await started_transfer(consumer, provider)
    for n in range(N):
        await provider.records.publish(DATASET, record(n, name=f"{NAME} {KANA} {PHONE} {n}"))
    assert await delivered(consumer, N) == N
    # Received records are read back in the clear through the gate, then the copy is taken.
    held = consumer.connector.store.query("SELECT count(*) FROM held_records")[0][0]
    assert held == N
    key = config.load_at_rest_key()
    assert key is not None
    await consumer.connector.stop()

    copied = every_byte(config.data_dir)
    participant = load_key(config.key_path, key)
    seed = parse_creds(read_secret(config.data_dir / "nats.creds", NATS_CREDS_ROLE, key)
                       .decode()).seed
    secrets = [participant.secret_key_multibase(), seed, encode_key(key.key),
               participant.to_pem().decode().splitlines()[1], "PRIVATE KEY"]
    found = [v for value in (NAME, KANA, PHONE) for v in forms(value) if v in copied]
    assert found == []
    assert [s[:8] for s in secrets if s.encode() in copied] == []
    # Positive control: the values are there, for whoever holds the key.
    decrypted = plaintext_of(config.store_path, key.store_key)
    assert all(value.encode() in decrypted for value in (NAME, KANA, PHONE))
    # The plain provider's own store, for contrast, shows them to anyone.
    assert NAME.encode() in every_byte(provider.config.data_dir)


def test_a_store_opens_only_with_its_key(tmp_path):
    key = AtRestKey(generate_key())
    path = tmp_path / "p" / "connector.sqlite"
    Store(path, key.store_key).close()
    for given, code in ((None, "at_rest.key_needed"),
                        (AtRestKey(generate_key()).store_key, "at_rest.wrong_key")):
        with pytest.raises(StoreError) as info:
            Store(path, given)
        assert info.value.code == code
        assert key.store_key.hex() not in str(info.value)
    Store(path, key.store_key).close()  # nothing was changed by the refused opens


def test_a_plain_store_is_encrypted_in_place_keeping_its_data(tmp_path):
    path = tmp_path / "connector.sqlite"
    plain = Store(path)
    with plain.transaction() as db:
        db.execute("INSERT INTO plugin_settings VALUES ('bosai', 'note', ?)",
                   (f'"{NAME} {PHONE}"',))
    plain.close()
    assert NAME.encode() in every_byte(tmp_path)
    key = AtRestKey(generate_key())
    store = Store(path, key.store_key)
    assert store.query("SELECT value FROM plugin_settings")[0][0] == f'"{NAME} {PHONE}"'
    store.close()
    assert [v for v in forms(NAME) if v in every_byte(tmp_path)] == []
    assert list(tmp_path.glob("*.encrypting*")) == []


def test_key_sources_refuse_by_name(tmp_path, monkeypatch):
    exposed = tmp_path / "exposed.key"
    write_key_file(exposed, generate_key())
    os.chmod(exposed, 0o644)
    cases = [("file:" + str(exposed), "at_rest.key_exposed"),
             ("file:" + str(tmp_path / "missing.key"), "at_rest.key_missing"),
             ("env:TSUNAGU_TEST_AT_REST_UNSET", "at_rest.key_missing"),
             ("kms:nobody-registered", "at_rest.key_invalid")]
    monkeypatch.setenv("TSUNAGU_TEST_SHORT", "c2hvcnQ")
    cases.append(("env:TSUNAGU_TEST_SHORT", "at_rest.key_invalid"))
    for spec, code in cases:
        with pytest.raises(AtRestError) as info:
            KeySource(spec).load()
        assert info.value.code == code, spec
        assert "c2hvcnQ" not in str(info.value)
    with pytest.raises(AtRestError) as info:
        KeySource("s3:bucket/key")
    assert info.value.code == "at_rest.key_invalid"


def test_a_kms_plug_in_and_the_environment_give_the_key(tmp_path, monkeypatch):
    secret = generate_key()
    asked: list[str] = []

    def kms(argument: str) -> bytes:  # what a KMS client does: fetch by key name
        asked.append(argument)
        return secret

    register_key_source("test-kms", kms)
    assert KeySource("kms:test-kms:city-2026").load().key == secret
    assert asked == ["city-2026"]
    monkeypatch.setenv("TSUNAGU_TEST_AT_REST", secret.hex())
    assert KeySource("env:TSUNAGU_TEST_AT_REST").load() == AtRestKey(secret)
    sealed = AtRestKey(secret).seal(b"seed", "nats-user-credentials")
    with pytest.raises(AtRestError) as info:  # a sealed file moved into another role
        AtRestKey(secret).open(sealed, "ed25519-private-key", "participant.pem")
    assert info.value.code == "at_rest.wrong_key"


def init(tmp_path: Path, label: str) -> Path:
    from connector.runtime.setup import init_participant

    init_participant(tmp_path / label, name="仙台市", legal_id="041009", roles=["municipality"],
                     authority_dids=["did:key:z6MkhaXgBZDvotDkL5257faiztiGiC2QtKLGpbnnEGta2doK"],
                     nats_urls=["nats://127.0.0.1:4222"], api_port=18480)
    return tmp_path / label


def test_init_seals_the_key_and_a_backup_restores_with_the_key(tmp_path):
    directory = init(tmp_path, "city")
    key_file = tmp_path / "city.at-rest.key"
    assert key_file.stat().st_mode & 0o777 == 0o600
    assert b"PRIVATE KEY" not in (directory / "participant.pem").read_bytes()
    key = KeySource(f"file:{key_file}").load()
    store = Store(directory / "connector.sqlite", key.store_key)
    with store.transaction() as db:
        db.execute("INSERT INTO plugin_settings VALUES ('bosai', 'person', ?)", (f'"{NAME}"',))
    backup = tmp_path / "city.backup"
    summary = write_backup(directory, backup, "correct horse battery", at_rest=key)
    store.close()
    assert "connector.sqlite" in summary.stores

    # A fresh machine: no key beside the restored directory yet, so the backup's is put there.
    fresh = tmp_path / "fresh"
    fresh.mkdir()
    from connector.cli.backup import participant_key_source

    restore_backup(backup, fresh / "city", "correct horse battery",
                   key_source_of=participant_key_source)
    restored_key = KeySource(f"file:{fresh / 'city.at-rest.key'}").load()
    assert restored_key == key
    again = Store(fresh / "city" / "connector.sqlite", restored_key.store_key)
    assert again.query("SELECT value FROM plugin_settings WHERE key='person'")[0][0] \
        == f'"{NAME}"'
    again.close()

    # Beside another participant's key of the same name: refused, nothing written.
    other = tmp_path / "other"
    write_key_file(other / "city.at-rest.key", generate_key())
    with pytest.raises(BackupError) as info:
        restore_backup(backup, other / "city", "correct horse battery",
                       key_source_of=participant_key_source)
    assert "not the one this backup was made with" in info.value.message
    assert not (other / "city").exists()


def test_the_token_command_finds_the_key_beside_the_store(tmp_path):
    directory = init(tmp_path, "city")
    key = KeySource(f"file:{tmp_path / 'city.at-rest.key'}").load()
    Store(directory / "connector.sqlite", key.store_key).close()
    run = subprocess.run([sys.executable, "-m", "connector.cli.main", "connector", "token",
                          "--store", str(directory / "connector.sqlite"), "--list"],
                         capture_output=True, text=True, timeout=60)
    assert run.returncode == 0, run.stderr
    moved = tmp_path / "elsewhere.sqlite"
    (directory / "connector.sqlite").rename(moved)
    run = subprocess.run([sys.executable, "-m", "connector.cli.main", "connector", "token",
                          "--store", str(moved), "--list"],
                         capture_output=True, text=True, timeout=60)
    assert run.returncode != 0 and "at_rest.key_needed" in run.stderr
    run = subprocess.run([sys.executable, "-m", "connector.cli.main", "connector", "token",
                          "--store", str(moved), "--list", "--at-rest-key",
                          f"file:{tmp_path / 'city.at-rest.key'}"],
                         capture_output=True, text=True, timeout=60)
    assert run.returncode == 0, run.stderr


async def test_the_connector_seals_a_plain_participant_key_and_nats_seed_at_start(
        consumer_config, start_node, tmp_path):
    plain_pem = consumer_config.key_path.read_bytes()
    assert b"PRIVATE KEY" in plain_pem
    config = with_at_rest(consumer_config, tmp_path / "c.at-rest.key")
    node = await start_node(config)
    await asyncio.sleep(0)
    assert b"PRIVATE KEY" not in config.key_path.read_bytes()
    creds = config.data_dir / "nats.creds"
    if creds.exists():  # operator mode
        assert b"USER NKEY SEED" not in creds.read_bytes()
    assert node.connector.store.query("SELECT count(*) FROM audit")[0][0] >= 0
    await node.connector.stop()
    restarted = await start_node(config)  # and starts again from the sealed files
    assert restarted.did == node.did


def test_an_authority_from_before_seals_its_key_once_atRestKey_is_set(tmp_path):
    from authority.state import Authority

    directory = tmp_path / "authority"
    made = Authority.init(directory, name="test authority")
    assert b"PRIVATE KEY" in (directory / "authority.key").read_bytes()
    write_key_file(tmp_path / "authority.at-rest.key", generate_key())
    config = json.loads((directory / "authority.json").read_text())
    config["atRestKey"] = "file:../authority.at-rest.key"
    (directory / "authority.json").write_text(json.dumps(config))
    opened = Authority.open(directory)
    assert opened.did == made.did
    assert b"PRIVATE KEY" not in (directory / "authority.key").read_bytes()
    opened.write_nats_state({"operator": "SOA" + "X" * 53})
    assert b"SOAXXX" not in (directory / "nats.json").read_bytes()
    assert Authority.open(directory).read_nats_state() == {"operator": "SOA" + "X" * 53}


async def test_jetstream_files_are_encrypted_with_the_at_rest_key(tmp_path):
    import nats

    from connector.bus.server import EmbeddedNatsServer

    key = AtRestKey(generate_key())
    server = EmbeddedNatsServer(tmp_path / "nats", jetstream_key=key.jetstream_key)
    await server.start()
    try:
        nc = await nats.connect(server.url)
        js = nc.jetstream()
        await js.add_stream(name="EVACUEES", subjects=["evacuees.>"])
        await js.publish("evacuees.yamada", f"{NAME} {PHONE}".encode(),
                         headers={"Tsunagu-Subject": KANA})
        await nc.close()
    finally:
        await server.stop()
    assert key.jetstream_key.hex() not in server.config_path.read_text()  # env, not config
    copied = b"".join(p.read_bytes() for p in (tmp_path / "nats").rglob("*")
                      if p.is_file() and p.suffix != ".log")
    assert [v for value in (NAME, PHONE, KANA, "evacuees.yamada")
            for v in forms(value) if v in copied] == []


async def test_an_at_rest_authority_runs_the_data_space_with_encrypted_jetstream(tmp_path):
    from authority.space import AuthorityNats
    from authority.state import Authority

    authority = Authority.init(tmp_path / "authority", name="test authority",
                               at_rest_key="file:../authority.at-rest.key")
    space = AuthorityNats(authority)
    await space.start(store_dir=tmp_path / "space-nats")
    try:
        assert space.server is not None
        assert "cipher: chachapoly" in space.server.config_path.read_text()
    finally:
        await space.close()


def test_init_plain_at_rest_writes_no_key_and_plain_files(tmp_path):
    from connector.runtime.config import load_config
    from connector.runtime.setup import init_participant

    result = init_participant(
        tmp_path / "dev", name="仙台市", legal_id="041009", roles=["municipality"],
        authority_dids=["did:key:z6MkhaXgBZDvotDkL5257faiztiGiC2QtKLGpbnnEGta2doK"],
        nats_urls=["nats://127.0.0.1:4222"], api_port=18481, plain_at_rest=True)
    assert result.at_rest_key is None and not list(tmp_path.glob("*.at-rest.key"))
    assert b"PRIVATE KEY" in (tmp_path / "dev" / "participant.pem").read_bytes()
    assert load_config(result.config_path).at_rest is None
    with pytest.raises(Exception, match="not both"):
        init_participant(tmp_path / "x", name="x", legal_id="041009", roles=["municipality"],
                         authority_dids=["did:key:z6MkhaXgBZDvotDkL5257faiztiGiC2QtKLGpbnnEGta2doK"],
                         plain_at_rest=True, at_rest_key="env:X")
