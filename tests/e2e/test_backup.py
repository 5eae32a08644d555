"""Backup and restore of a participant (connector.runtime.backup): one sealed file taken
while the connector runs; restored into a new directory mid-stream, the consumer loses and
duplicates nothing, and its audit chain verifies."""

from __future__ import annotations

import asyncio

import pytest

from connector.control.audit import verify_chain
from connector.runtime.backup import RESTORED_MARKER, BackupError, restore_backup, write_backup
from tests.e2e.conftest import publish
from tests.e2e.test_transfer import delivered, started_transfer

PASSPHRASE = "correct horse battery staple 防災"
N = 300


async def test_restore_mid_stream_loses_and_duplicates_nothing(provider, consumer, start_node,
                                                               consumer_config, tmp_path):
    await started_transfer(consumer, provider)
    publishing = asyncio.create_task(publish(provider, range(N)))
    while consumer.count("SELECT count(*) FROM deliveries") < N // 4:
        await asyncio.sleep(0.01)
    # Taken while records stream in: the store is copied with SQLite's online backup.
    summary = write_backup(consumer_config.data_dir, tmp_path / "consumer.backup", PASSPHRASE)
    assert "connector.sqlite" in summary.stores and "participant.pem" in summary.files
    await publishing
    assert await delivered(consumer, N) == N  # the lost machine had received everything
    await consumer.connector.stop()

    restored_dir = tmp_path / "restored"
    restore_backup(tmp_path / "consumer.backup", restored_dir, PASSPHRASE)
    assert (restored_dir / RESTORED_MARKER).is_file()
    participant = consumer_config.participant.model_copy(update={"data_dir": restored_dir})
    restored = await start_node(consumer_config.model_copy(update={"participant": participant}))
    before = restored.count("SELECT count(*) FROM deliveries")
    assert before < N  # the backup was really taken mid-stream
    assert await delivered(restored, N) == N  # nothing lost ...
    await asyncio.sleep(0.5)
    rows = restored.connector.store.query("SELECT record_id, version FROM deliveries")
    assert len(rows) == len(set(map(tuple, rows))) == N  # ... nothing twice
    assert verify_chain(restored.connector.audit.lines()).ok
    assert [e["transfers"] for e in restored.connector.audit.entries("restored")] == [1]
    assert not (restored_dir / RESTORED_MARKER).exists()  # renewed once, not at every start


def test_a_backup_opens_only_with_its_passphrase_and_only_into_an_empty_directory(tmp_path):
    source = tmp_path / "participant"
    source.mkdir()
    import sqlite3

    with sqlite3.connect(source / "connector.sqlite") as db:
        db.execute("CREATE TABLE t (v TEXT)")
        db.execute("INSERT INTO t VALUES ('山田花子 1952-04-01')")
    (source / "participant.toml").write_text('[participant]\nname = "x"\n', encoding="utf-8")
    backup = tmp_path / "p.backup"
    write_backup(source, backup, PASSPHRASE)
    sealed = backup.read_bytes()
    assert "山田花子".encode() not in sealed and b"participant" not in sealed[40:]
    assert oct(backup.stat().st_mode & 0o777) == "0o600"

    with pytest.raises(BackupError, match="passphrase does not open"):
        restore_backup(backup, tmp_path / "wrong", "another passphrase!!")
    truncated = tmp_path / "truncated.backup"
    truncated.write_bytes(sealed[:-100])
    with pytest.raises(BackupError, match="damaged or truncated"):
        restore_backup(truncated, tmp_path / "cut", PASSPHRASE)
    occupied = tmp_path / "occupied"
    occupied.mkdir()
    (occupied / "connector.sqlite").write_bytes(b"someone lives here")
    with pytest.raises(BackupError, match="not empty"):
        restore_backup(backup, occupied, PASSPHRASE)
    assert not (tmp_path / "wrong").exists() and not (tmp_path / "cut").exists()
    assert (occupied / "connector.sqlite").read_bytes() == b"someone lives here"
    with pytest.raises(BackupError, match="at least 12"):
        write_backup(source, tmp_path / "weak.backup", "short")

    config = restore_backup(backup, tmp_path / "new", PASSPHRASE)
    assert config.read_text(encoding="utf-8") == '[participant]\nname = "x"\n'
    with sqlite3.connect(tmp_path / "new" / "connector.sqlite") as db:
        assert db.execute("SELECT v FROM t").fetchone()[0] == "山田花子 1952-04-01"
