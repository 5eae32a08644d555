"""The store's migrations: one path from an empty file, and stores written before the core
redesign (tests/fixtures/stores) upgrade without losing a row; a failing migration leaves the
store as it was and the connector refuses to start, saying why."""

from __future__ import annotations

import shutil
import sqlite3
from pathlib import Path

import pytest

from connector.api.tokens import TokenStore
from connector.control.audit import AuditLog, verify_chain
from connector.control.facts import WorldFacts
from connector.plugins.registry import PluginSettings
from connector.store.database import Store, StoreError
from connector.store.migrations import LATEST, MIGRATIONS

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "stores"
BEFORE = ("municipality.sqlite", "shelter_operator.sqlite")


def tables(path: Path) -> dict[str, str]:
    db = sqlite3.connect(path)
    try:
        return {name: sql for name, sql in db.execute(
            "SELECT name, sql FROM sqlite_master WHERE type IN ('table', 'index') "
            "AND name NOT LIKE 'sqlite_%' ORDER BY name")}
    finally:
        db.close()


def counts(path: Path) -> dict[str, int]:
    db = sqlite3.connect(path)
    try:
        names = [r[0] for r in db.execute(
            "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'")]
        return {n: db.execute(f'SELECT count(*) FROM "{n}"').fetchone()[0] for n in names}
    finally:
        db.close()


def test_migrations_are_numbered_in_order_from_one():
    assert [m.version for m in MIGRATIONS] == list(range(1, LATEST + 1))
    assert all(m.summary and m.statements for m in MIGRATIONS)


def test_an_empty_store_is_built_by_the_migrations(tmp_path):
    store = Store(tmp_path / "new.sqlite")
    assert store.version == LATEST
    assert store.query("SELECT value FROM meta")[0][0] == str(LATEST)
    made = set(tables(tmp_path / "new.sqlite"))
    assert {"records", "record_versions", "held_records", "deliveries", "agreements",
            "contributions", "record_refusals", "facts", "plugin_settings", "tokens",
            "audit"} <= made
    store.close()
    assert Store(tmp_path / "new.sqlite").version == LATEST  # opening again changes nothing


@pytest.mark.parametrize("name", BEFORE)
def test_a_store_from_before_the_redesign_upgrades_without_loss(tmp_path, name):
    path = tmp_path / name
    shutil.copy(FIXTURES / name, path)
    before = counts(path)
    store = Store(path)
    assert store.version == LATEST
    after = counts(path)
    for table, n in before.items():
        if table == "meta":
            continue
        assert after[table] == n, table  # every row is still there
    moved = before["meta"] - 1  # all but the schema version left meta
    assert after["meta"] == 1
    assert after["facts"] + after["plugin_settings"] == moved
    facts = WorldFacts(store, AuditLog(store), {})
    assert facts.as_json() == {"https://w3id.org/tsunagu/ns#disasterPhase": "response"}
    bosai = PluginSettings(store, "bosai")
    assert bosai.get("registry_schema_version") == 1 and bosai.get("offers")
    assert (bosai.get("municipality") or bosai.get("shelter_operator")) is not None
    assert all(t["role"] is None for t in TokenStore(store).list())
    assert verify_chain(AuditLog(store).lines()).ok
    # The new columns are there, empty for old rows.
    assert store.query("SELECT count(*) FROM held_records WHERE record_type IS NULL")[0][0] \
        == after["held_records"]


def test_a_failing_migration_leaves_the_store_as_it_was(tmp_path):
    path = tmp_path / "broken.sqlite"
    shutil.copy(FIXTURES / "municipality.sqlite", path)
    db = sqlite3.connect(path)  # something in the way of migration 3
    db.execute("CREATE TABLE facts (x)")
    db.commit()
    db.close()
    shape, rows = tables(path), counts(path)
    with pytest.raises(StoreError) as failed:
        Store(path)
    assert failed.value.code == "store.migration_failed"
    message = failed.value.message
    assert "from version 2 to" in message and "migration 3" in message
    assert "left as it was" in message
    assert tables(path) == shape and counts(path) == rows
    db = sqlite3.connect(path)
    assert db.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchone() == ("2",)
    db.close()


def test_a_store_newer_than_the_connector_is_refused(tmp_path):
    path = tmp_path / "future.sqlite"
    Store(path).close()
    db = sqlite3.connect(path)
    db.execute("UPDATE meta SET value = ? WHERE key = 'schema_version'", (str(LATEST + 1),))
    db.commit()
    db.close()
    with pytest.raises(StoreError, match="newer than this connector knows") as refused:
        Store(path)
    assert refused.value.code == "store.version"
