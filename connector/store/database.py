"""The connector's SQLite store: one file, WAL, one transaction per protocol step.

Everything a connector must not lose lives here: its own records and their versions,
negotiations, agreements, transfers, records held under agreements, the app-facing delivery
log (exactly once: a record version enters it at most once), dead letters and the audit log.

SQLite calls are short and synchronous; the connector runs them on its event loop thread, so
there is one writer and no lock contention. Bodies are stored as orjson bytes.

Encryption at rest: every store is opened through SQLCipher (``sqlcipher3``: SQLite with
each page encrypted, AES-256 and an HMAC per page, WAL included). Given a key
(``trust.at_rest.AtRestKey.store_key``) the file is ciphertext from its first byte; without
one it is a plain SQLite file. A plain store opened with a key is encrypted in place first
(``_encrypt_plain_store``), so a connector upgraded to encryption keeps its data.
"""

from __future__ import annotations

import contextlib
import logging
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import orjson
from sqlcipher3 import dbapi2 as sqlite3  # the stdlib's API; plain SQLite without a key

from connector.errors import ConnectorCode
from connector.store.migrations import LATEST, MIGRATIONS
from trust.errors import TrustCode, TsunaguError

log = logging.getLogger(__name__)

SCHEMA_VERSION = LATEST


class StoreError(TsunaguError):
    """The store cannot be opened or written (disk full, read-only, corrupt)."""

    code = ConnectorCode.STORE_UNAVAILABLE


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


# Errors of the SQLite driver every store uses (its own classes, not the stdlib's).
Error = sqlite3.Error
Row = sqlite3.Row
Connection = sqlite3.Connection
_PLAIN_HEADER = b"SQLite format 3\x00"


def _header(path: Path) -> bytes:
    try:
        with open(path, "rb") as fh:
            return fh.read(16)
    except FileNotFoundError:
        return b""


def _apply_key(db: sqlite3.Connection, key: bytes) -> None:
    # A raw key (x'...'): no passphrase KDF at every open, the key is already random.
    db.execute(f"PRAGMA key = \"x'{key.hex()}'\"")


def _encrypt_plain_store(path: Path, key: bytes) -> None:
    """Replace a plain SQLite store by an encrypted copy (same content), atomically: the
    plain file stays until the copy is complete and synced."""
    tmp = path.with_name(path.name + ".encrypting")
    for leftover in (tmp, tmp.with_name(tmp.name + "-journal")):
        leftover.unlink(missing_ok=True)
    plain = sqlite3.connect(path, isolation_level=None)
    try:
        plain.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        plain.execute(f"ATTACH DATABASE ? AS encrypted KEY \"x'{key.hex()}'\"", (str(tmp),))
        plain.execute("SELECT sqlcipher_export('encrypted')")
        version = plain.execute("PRAGMA user_version").fetchone()[0]
        plain.execute(f"PRAGMA encrypted.user_version = {int(version)}")
        plain.execute("DETACH DATABASE encrypted")
    finally:
        plain.close()
    with open(tmp, "rb") as fh:
        os.fsync(fh.fileno())
    os.replace(tmp, path)
    for side in ("-wal", "-shm"):  # the plain store's, now stale
        path.with_name(path.name + side).unlink(missing_ok=True)
    log.info("store encrypted at rest", extra={"store": path.name})


def open_sqlite(path: Path, key: bytes | None = None) -> sqlite3.Connection:
    """A SQLite connection as every tsunagu store opens one: encrypted with ``key`` if given,
    WAL, ``synchronous=FULL`` (a crash must not lose an acknowledged step), foreign keys,
    and ``secure_delete``: deleted or replaced content is overwritten with zeros in the file,
    so an erased record body does not linger in free pages (``Store.erased`` takes care of
    the WAL).

    An encrypted store opened without its key, or with another key, is refused with a
    ``StoreError`` whose code says which (``at_rest.key_needed`` / ``at_rest.wrong_key``)."""
    path = Path(path)
    header = _header(path)
    if key is not None and header == _PLAIN_HEADER:
        _encrypt_plain_store(path, key)
    db = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
    try:
        # A wrong key is our StoreError below; SQLCipher would also print it on stderr.
        db.execute("PRAGMA cipher_log_level = NONE")
        if key is not None:
            _apply_key(db, key)
        db.execute("SELECT count(*) FROM sqlite_master").fetchone()
    except sqlite3.DatabaseError as exc:
        db.close()
        if getattr(exc, "sqlite_errorname", "") != "SQLITE_NOTADB":
            raise
        if key is None and header and header != _PLAIN_HEADER:
            raise StoreError(f"store {path} is encrypted at rest: give the connector its "
                             "at-rest key (the [at_rest] key setting, or --at-rest-key)",
                             code=TrustCode.AT_REST_KEY_NEEDED) from None
        if key is not None:
            raise StoreError(f"store {path} does not open with this at-rest key (another "
                             "key, or the file is damaged)",
                             code=TrustCode.AT_REST_WRONG_KEY) from None
        raise
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
    _memo: dict[str, Any] | None = None

    def __init__(self, path: Path, key: bytes | None = None) -> None:
        self.path = Path(path)
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            reason = _read_only(self.path)
            if reason is not None:
                raise StoreError(f"store {self.path} is read-only: {reason}; the connector "
                                 "must be able to write its store (nothing was changed)")
            self.db = open_sqlite(self.path, key)
        except (sqlite3.Error, OSError) as exc:
            raise StoreError(f"cannot open store {self.path}: {exc}") from exc
        self.version = self._upgrade()

    def _current_version(self) -> int:
        try:
            has_meta = self.db.execute("SELECT 1 FROM sqlite_master WHERE type = 'table' AND "
                                       "name = 'meta'").fetchone()
            if not has_meta:
                return 0
            row = self.db.execute("SELECT value FROM meta WHERE key = 'schema_version'"
                                  ).fetchone()
        except sqlite3.Error as exc:
            raise StoreError(f"cannot read store {self.path}: {exc}") from exc
        if row is None or not str(row[0]).isdigit():
            raise StoreError(f"store {self.path} has no schema version: it is not a tsunagu "
                             "store, or it is damaged; nothing was changed",
                             code=ConnectorCode.STORE_VERSION)
        return int(row[0])

    def _upgrade(self) -> int:
        """Apply the migrations after the store's version, all in one transaction."""
        at = self._current_version()
        if at > LATEST:
            raise StoreError(f"store {self.path} has schema version {at}, newer than this "
                             f"connector knows ({LATEST}): run the newer tsunagu, or restore "
                             "a backup made by this one; nothing was changed",
                             code=ConnectorCode.STORE_VERSION)
        pending = [m for m in MIGRATIONS if m.version > at]
        if not pending:
            return at
        step = pending[0]
        try:
            with self.transaction() as db:
                for step in pending:
                    for statement in step.statements:
                        db.execute(statement)
                    if step.then is not None:
                        step.then(db)
                db.execute("INSERT OR REPLACE INTO meta (key, value) VALUES "
                           "('schema_version', ?)", (str(LATEST),))
        except (StoreError, sqlite3.Error) as exc:
            why = exc.message if isinstance(exc, StoreError) else str(exc)
            raise StoreError(f"store {self.path} could not be upgraded from version {at} to "
                             f"{LATEST} (migration {step.version}, {step.summary}): {why}; "
                             "the store was left as it was",
                             code=ConnectorCode.STORE_MIGRATION_FAILED
                             ) from exc
        if at:  # a new store is simply built; an upgrade is worth a line in the log
            log.info("store upgraded", extra={"from_version": at, "to_version": LATEST})
        return LATEST

    @contextlib.contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        """BEGIN IMMEDIATE ... COMMIT, or ROLLBACK on any error: no half-written step."""
        try:
            self.db.execute("BEGIN IMMEDIATE")
        except sqlite3.Error as exc:
            raise StoreError(f"store {self.path} refuses writes: {_why(exc)}") from exc
        self._memo = {}
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
        self._memo = None
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

    def transaction_memo(self) -> dict[str, Any] | None:
        """A dict that lives exactly as long as the current ``transaction()`` (None outside
        one): for what a writer derives from rows it wrote in this transaction, such as
        the audit chain's tail. A rollback drops it with the rows."""
        return self._memo if self.db.in_transaction else None

    def _rollback(self) -> None:
        self._erasing = False
        self._memo = None
        with contextlib.suppress(sqlite3.Error):
            self.db.execute("ROLLBACK")

    def query(self, sql: str, params: tuple[Any, ...] = ()) -> list[sqlite3.Row]:
        try:
            return self.db.execute(sql, params).fetchall()
        except sqlite3.Error as exc:
            raise StoreError(f"store {self.path} query failed: {exc}") from exc

    def close(self) -> None:
        self.db.close()
