"""The connector's SQLite store: one file, WAL, one transaction per protocol step.

Everything a connector must not lose lives here: its own records and their versions,
negotiations, agreements, transfers, records held under agreements, the app-facing delivery
log (exactly once: a record version enters it at most once), dead letters and the audit log.

SQLite calls are short and synchronous; the connector runs them on its event loop thread, so
there is one writer and no lock contention. Bodies are stored as orjson bytes.
"""

from __future__ import annotations

import contextlib
import logging
import os
import sqlite3
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import orjson

from trust.errors import TsunaguError

log = logging.getLogger(__name__)

SCHEMA_VERSION = 2

# Migrations: ``MIGRATIONS[n]`` brings a store at version n-1 to n, in one transaction. SCHEMA
# is always the newest shape (a new store gets it and the newest version at once); a column
# added later is in both SCHEMA and its migration (ALTER TABLE for stores made before it).
MIGRATIONS: dict[int, tuple[str, ...]] = {
    # Erasure of deleted records' earlier versions (connector/erasure.py).
    2: ("ALTER TABLE record_versions ADD COLUMN stream_seq INTEGER",
        "ALTER TABLE record_versions ADD COLUMN erased TEXT",
        "ALTER TABLE record_versions ADD COLUMN msg_erased INTEGER NOT NULL DEFAULT 0"),
}

SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);

CREATE TABLE IF NOT EXISTS datasets (
    id TEXT PRIMARY KEY,
    body BLOB NOT NULL,              -- DCAT Dataset with its offers (DSP shape)
    schema_id TEXT,                  -- JSON schema records of this dataset must satisfy
    stream TEXT NOT NULL,            -- JetStream stream name
    subject TEXT NOT NULL,           -- subject prefix of its events
    created TEXT NOT NULL
);

-- JSON schemas records of a dataset must satisfy, content-addressed (datasets.schema_id).
CREATE TABLE IF NOT EXISTS json_schemas (
    id TEXT PRIMARY KEY,             -- urn:tsunagu:schema:sha256:<hex of canonical JSON>
    body BLOB NOT NULL
);

-- Records this participant holds as their source (latest version) and all versions.
CREATE TABLE IF NOT EXISTS records (
    id TEXT PRIMARY KEY,
    dataset_id TEXT NOT NULL REFERENCES datasets(id),
    version INTEGER NOT NULL,
    deleted INTEGER NOT NULL DEFAULT 0,
    body BLOB NOT NULL,
    modified TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS record_versions (
    id TEXT NOT NULL,
    version INTEGER NOT NULL,
    event TEXT NOT NULL,             -- created | updated | deleted
    body BLOB NOT NULL,
    published INTEGER NOT NULL DEFAULT 0,  -- 1 once JetStream acknowledged it
    stream_seq INTEGER,              -- its stream sequence, from JetStream's ack
    erased TEXT,                     -- when its body was erased (a later tombstone), else NULL
    msg_erased INTEGER NOT NULL DEFAULT 0,  -- 1: not in the stream (any more); 2: the stream
                                     -- refuses deletes (made with deny_delete)
    PRIMARY KEY (id, version)
);

CREATE TABLE IF NOT EXISTS negotiations (
    pid TEXT PRIMARY KEY,            -- our own process id (consumerPid or providerPid)
    role TEXT NOT NULL,
    state TEXT NOT NULL,
    counterparty TEXT NOT NULL,
    body BLOB NOT NULL,              -- the serialised state-machine record
    updated TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS agreements (
    id TEXT PRIMARY KEY,
    role TEXT NOT NULL,              -- provider | consumer
    provider TEXT NOT NULL,
    consumer TEXT NOT NULL,
    dataset_id TEXT NOT NULL,
    body BLOB NOT NULL,              -- signed ODRL Agreement
    status TEXT NOT NULL,            -- active | terminated | expired
    created TEXT NOT NULL,
    ended TEXT
);
CREATE TABLE IF NOT EXISTS transfers (
    pid TEXT PRIMARY KEY,
    role TEXT NOT NULL,
    state TEXT NOT NULL,
    agreement_id TEXT NOT NULL,
    counterparty TEXT NOT NULL,
    body BLOB NOT NULL,
    updated TEXT NOT NULL
);

-- Records received under an agreement (consumer side); purged with the agreement.
CREATE TABLE IF NOT EXISTS held_records (
    id TEXT NOT NULL,
    version INTEGER NOT NULL,
    agreement_id TEXT NOT NULL,
    dataset_id TEXT NOT NULL,
    provider TEXT NOT NULL,
    event TEXT NOT NULL,
    body BLOB NOT NULL,
    received TEXT NOT NULL,
    PRIMARY KEY (id, version)
);
CREATE INDEX IF NOT EXISTS held_by_agreement ON held_records(agreement_id);

-- What apps see, in order; (record_id, version) unique = exactly once at the app.
CREATE TABLE IF NOT EXISTS deliveries (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    dataset_id TEXT NOT NULL,
    agreement_id TEXT,
    record_id TEXT NOT NULL,
    version INTEGER NOT NULL,
    event TEXT NOT NULL,
    at TEXT NOT NULL,
    UNIQUE (record_id, version)
);

CREATE TABLE IF NOT EXISTS dead_letters (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    transfer_pid TEXT NOT NULL,
    stream_seq INTEGER,
    code TEXT NOT NULL,
    reason TEXT NOT NULL,
    at TEXT NOT NULL
);

-- Provider side: what consumers told us they refused of our records (connector/refusals.py).
CREATE TABLE IF NOT EXISTS record_refusals (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    record_id TEXT NOT NULL,
    version INTEGER NOT NULL,
    agreement_id TEXT NOT NULL,
    consumer TEXT NOT NULL,
    code TEXT NOT NULL,
    field TEXT,                      -- the JSON path the consumer named; never a value
    at TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS record_refusals_by_record ON record_refusals(record_id);

CREATE TABLE IF NOT EXISTS audit (
    seq INTEGER PRIMARY KEY,
    line TEXT NOT NULL               -- canonical JSON with prev and hash, see connector/audit.py
);

CREATE TABLE IF NOT EXISTS tokens (
    id TEXT PRIMARY KEY,
    digest TEXT NOT NULL UNIQUE,     -- SHA-256 of the token; the token itself is never stored
    scopes TEXT NOT NULL,
    expires TEXT NOT NULL,
    revoked INTEGER NOT NULL DEFAULT 0
);
"""


class StoreError(TsunaguError):
    """The store cannot be opened or written (disk full, read-only, corrupt)."""

    code = "store.unavailable"
    http_status = 503


# What an operator should look at, by SQLite result code (prefix of the extended name).
_HINTS = {
    "SQLITE_IOERR": "the disk refused a write: full, over a file-size limit, or failing",
    "SQLITE_READONLY": "the store became read-only",
}


def _why(exc: sqlite3.Error) -> str:
    name = getattr(exc, "sqlite_errorname", "") or ""
    hint = next((h for prefix, h in _HINTS.items() if name.startswith(prefix)), None)
    return f"{exc} ({hint})" if hint else str(exc)


def _read_only(path: Path) -> str | None:
    """Why the store cannot be written, or None.

    Checked before SQLite opens it: after a crash (its -wal and -shm left behind) SQLite opens
    a read-only store for reading and fails only at the first write, so a connector would
    start and run half-working; a cleanly closed one fails with "unable to open database
    file", which says nothing about why."""
    files = [path.parent] + [p for p in (path, path.with_name(path.name + "-wal"),
                                         path.with_name(path.name + "-shm")) if p.exists()]
    for target in files:
        if not os.access(target, os.W_OK):
            if os.statvfs(target).f_flag & os.ST_RDONLY:
                return f"{target} is on a read-only file system"
            return f"{target} is not writable by this user"
    return None


def dumps(value: Any) -> bytes:
    return orjson.dumps(value)


def loads(data: bytes | str) -> Any:
    return orjson.loads(data)


def open_sqlite(path: Path) -> sqlite3.Connection:
    """A SQLite connection as every tsunagu store opens one: WAL, ``synchronous=FULL`` (a crash
    must not lose an acknowledged step), foreign keys, and ``secure_delete``: deleted or
    replaced content is overwritten with zeros in the file, so an erased record body does not
    linger in free pages (``Store.erased`` takes care of the WAL)."""
    db = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
    db.execute("PRAGMA journal_mode=WAL")
    db.execute("PRAGMA synchronous=FULL")
    db.execute("PRAGMA foreign_keys=ON")
    db.execute("PRAGMA secure_delete=ON")
    return db


class Store:
    """A connector's SQLite file. Use ``transaction()`` for every multi-statement step.

    Erasure: a step that erases personal data (a deleted record's earlier versions, what is
    held under an ended agreement) calls ``erased()`` inside its transaction; once it commits,
    the WAL is checkpointed and truncated, so the erased bodies are left neither in the
    database file (``secure_delete`` zeroes them) nor in old WAL frames.
    """

    _erasing = False

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            reason = _read_only(self.path)
            if reason is not None:
                raise StoreError(f"store {self.path} is read-only: {reason}; the connector "
                                 "must be able to write its store (nothing was changed)")
            self.db = open_sqlite(self.path)
            self.db.executescript(SCHEMA)
            self._check_version()
        except (sqlite3.Error, OSError) as exc:
            raise StoreError(f"cannot open store {self.path}: {exc}") from exc

    def _check_version(self) -> None:
        row = self.db.execute("SELECT value FROM meta WHERE key='schema_version'").fetchone()
        if row is None:
            self.db.execute("INSERT INTO meta VALUES ('schema_version', ?)", (SCHEMA_VERSION,))
        elif int(row[0]) < SCHEMA_VERSION and all(
                v in MIGRATIONS for v in range(int(row[0]) + 1, SCHEMA_VERSION + 1)):
            self._migrate(int(row[0]))
        elif int(row[0]) != SCHEMA_VERSION:
            raise StoreError(f"store {self.path} has schema version {row[0]}, "
                             f"this connector needs {SCHEMA_VERSION}", code="store.version")

    def _migrate(self, at: int) -> None:
        """Apply MIGRATIONS after version ``at``; all of them commit or none (a crash leaves
        the store at its old version, migrated again at the next start)."""
        with self.transaction() as db:
            for version in range(at + 1, SCHEMA_VERSION + 1):
                for statement in MIGRATIONS[version]:
                    db.execute(statement)
            db.execute("UPDATE meta SET value = ? WHERE key = 'schema_version'",
                       (str(SCHEMA_VERSION),))

    @contextlib.contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        """BEGIN IMMEDIATE ... COMMIT, or ROLLBACK on any error: no half-written step."""
        try:
            self.db.execute("BEGIN IMMEDIATE")
        except sqlite3.Error as exc:
            raise StoreError(f"store {self.path} refuses writes: {_why(exc)}") from exc
        try:
            yield self.db
        except sqlite3.Error as exc:
            self._rollback()
            raise StoreError(f"store {self.path} refused the write: {_why(exc)}") from exc
        except BaseException:
            self._rollback()
            raise
        try:
            self.db.execute("COMMIT")
        except sqlite3.Error as exc:
            self._rollback()
            raise StoreError(f"store {self.path} could not commit: {_why(exc)}") from exc
        if self._erasing:
            self._erasing = False
            try:
                self.checkpoint()
            except StoreError as exc:  # committed; SQLite's own checkpoints follow later
                log.warning("WAL not truncated after an erasure; retried at the next one",
                            extra={"code": exc.code})

    def erased(self) -> None:
        """Inside a transaction that erases personal data: checkpoint the WAL after commit."""
        self._erasing = True

    def checkpoint(self) -> None:
        """Copy the WAL into the database and truncate it to zero bytes (no old frames)."""
        try:
            self.db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        except sqlite3.Error as exc:  # the erasure is committed; the next one retries
            raise StoreError(f"store {self.path} could not checkpoint after an erasure: "
                             f"{_why(exc)}") from exc

    def _rollback(self) -> None:
        self._erasing = False
        with contextlib.suppress(sqlite3.Error):
            self.db.execute("ROLLBACK")

    def query(self, sql: str, params: tuple[Any, ...] = ()) -> list[sqlite3.Row]:
        try:
            return self.db.execute(sql, params).fetchall()
        except sqlite3.Error as exc:
            raise StoreError(f"store {self.path} query failed: {exc}") from exc

    def close(self) -> None:
        self.db.close()
