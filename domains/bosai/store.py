"""The bosai hub's SQLite file: designated-site master, shelter status timeline, import runs.

The master (``sites``: what the municipality designated, from the GSI or open data lists)
and the timeline (``status_history``: what is open now, how full, what it needs) are kept
apart on purpose: the master changes by ordinance once a year, the timeline by the hour in
a disaster, and a shelter opened ad hoc (a hotel, a temple) has a timeline but no master
row, so ``status_history.shelter_id`` is deliberately not a foreign key.

Every import is a run: the raw file is kept next to the store (``imports/<sha256>.<ext>``,
content-addressed, never overwritten) and the run row holds its hash, counts and the
per-row report, so what was imported can always be traced to the bytes it came from.

Same conventions as ``connector.store.database`` (``open_sqlite``: WAL, ``synchronous=FULL``,
``secure_delete``; one transaction per step, ``store.unavailable`` errors): ``BosaiStore``
reuses its transaction and query methods.
"""

from __future__ import annotations

import hashlib
import os
import re
import sqlite3
import tempfile
from collections.abc import Iterable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from connector.errors import ConnectorCode
from connector.store.database import Store, StoreError, dumps, loads, open_sqlite
from domains.bosai.importers.report import ImportReport
from domains.bosai.importers.shelters import Site
from domains.bosai.importers.status import StatusEntry
from trust.errors import TsunaguError

SCHEMA_VERSION = 1
RAW_DIR = "imports"

SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);

CREATE TABLE IF NOT EXISTS import_runs (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    kind TEXT NOT NULL,                -- shelters | status
    source TEXT NOT NULL,              -- the file name as given
    sha256 TEXT NOT NULL,
    raw_path TEXT NOT NULL,            -- the kept copy, relative to the store's directory
    mapping_sha256 TEXT,               -- status imports: the mapping file (kept the same way)
    format TEXT NOT NULL DEFAULT '',
    encoding TEXT NOT NULL DEFAULT '',
    started TEXT NOT NULL,
    finished TEXT NOT NULL,
    imported INTEGER NOT NULL DEFAULT 0,
    corrected INTEGER NOT NULL DEFAULT 0,
    refused INTEGER NOT NULL DEFAULT 0,
    error TEXT,                        -- code and message when the whole file was refused
    report BLOB NOT NULL               -- ImportReport.to_dict()
);

-- Designated-site master: the latest import of each site wins.
CREATE TABLE IF NOT EXISTS sites (
    id TEXT PRIMARY KEY,               -- GSI 共通ID, or <全国地方公共団体コード>-<ID>
    local_id TEXT NOT NULL,
    name TEXT NOT NULL,
    format TEXT NOT NULL,              -- gsi-emergency | gsi-shelter | opendata
    municipality_code TEXT,
    types TEXT NOT NULL,               -- JSON array of bosai shelter type tokens
    lat REAL NOT NULL,
    lon REAL NOT NULL,
    capacity INTEGER,
    parsed BLOB NOT NULL,              -- Site.parsed()
    raw BLOB NOT NULL,                 -- {header: cell} exactly as in the file
    run_id INTEGER NOT NULL REFERENCES import_runs(id),
    line INTEGER NOT NULL,
    updated TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS sites_by_municipality ON sites(municipality_code);

-- Open-shelter timeline: one row per observed status; nothing is updated in place.
CREATE TABLE IF NOT EXISTS status_history (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    shelter_id TEXT NOT NULL,
    observed_at TEXT NOT NULL,         -- UTC, YYYY-MM-DDTHH:MM:SSZ (sorts as text)
    open INTEGER NOT NULL,
    parsed BLOB NOT NULL,              -- StatusEntry.parsed()
    raw BLOB NOT NULL,
    run_id INTEGER NOT NULL REFERENCES import_runs(id),
    line INTEGER NOT NULL,
    digest TEXT NOT NULL,              -- of parsed: importing the same file twice adds nothing
    UNIQUE (shelter_id, observed_at, digest)
);
CREATE INDEX IF NOT EXISTS status_by_shelter ON status_history(shelter_id, observed_at);
"""

_SAFE_SUFFIX = re.compile(r"\.[A-Za-z0-9]{1,8}")


def _now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


class BosaiStore(Store):
    """The hub's SQLite file. ``transaction()``, ``query()`` and ``close()`` are
    ``connector.store.database.Store``'s; only the schema differs (so ``__init__`` is its own)."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self.db = open_sqlite(self.path)
            self.db.row_factory = sqlite3.Row
            self.db.executescript(SCHEMA)
            self._check_version()
        except (sqlite3.Error, OSError) as exc:
            raise StoreError(f"cannot open bosai store {self.path}: {exc}") from exc

    def _check_version(self) -> None:
        row = self.db.execute("SELECT value FROM meta WHERE key='bosai_schema_version'").fetchone()
        if row is None:
            self.db.execute("INSERT INTO meta VALUES ('bosai_schema_version', ?)",
                            (SCHEMA_VERSION,))
        elif int(row[0]) != SCHEMA_VERSION:
            raise StoreError(f"bosai store {self.path} has schema version {row[0]}, "
                             f"this version needs {SCHEMA_VERSION}",
                             code=ConnectorCode.STORE_VERSION)

    # --- raw files -----------------------------------------------------------------------

    @property
    def raw_dir(self) -> Path:
        return self.path.parent / RAW_DIR

    def keep_raw(self, data: bytes, name: str) -> str:
        """Copy ``data`` to ``imports/<sha256><suffix>`` (atomically, once); the relative path."""
        digest = hashlib.sha256(data).hexdigest()
        suffix = Path(name).suffix
        target = self.raw_dir / (digest + (suffix if _SAFE_SUFFIX.fullmatch(suffix) else ".bin"))
        try:
            self.raw_dir.mkdir(parents=True, exist_ok=True)
            if not target.exists():
                fd, tmp = tempfile.mkstemp(dir=self.raw_dir, prefix=".incoming-")
                try:
                    with os.fdopen(fd, "wb") as out:
                        out.write(data)
                        out.flush()
                        os.fsync(out.fileno())
                    os.replace(tmp, target)
                except BaseException:
                    Path(tmp).unlink(missing_ok=True)
                    raise
        except OSError as exc:
            raise StoreError(f"cannot keep the raw file in {self.raw_dir}: {exc}") from exc
        return str(target.relative_to(self.path.parent))

    # --- runs ----------------------------------------------------------------------------

    def _insert_run(self, db: sqlite3.Connection, report: ImportReport, started: str,
                    mapping_sha256: str | None, error: TsunaguError | None = None) -> int:
        counts = report.counts()
        cursor = db.execute(
            "INSERT INTO import_runs (kind, source, sha256, raw_path, mapping_sha256, format,"
            " encoding, started, finished, imported, corrected, refused, error, report)"
            " VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
            (report.kind, report.source, report.sha256, report.raw_path or "", mapping_sha256,
             report.format, report.encoding, started, _now(), counts["imported"],
             counts["corrected"], counts["refused"], str(error) if error else None, b""))
        report.run_id = int(cursor.lastrowid or 0)
        self._update_run(db, report)
        return report.run_id

    @staticmethod
    def _update_run(db: sqlite3.Connection, report: ImportReport) -> None:
        """The run's counts and report as they stand (rows found unchanged while saving)."""
        counts = report.counts()
        db.execute("UPDATE import_runs SET imported=?, corrected=?, refused=?, report=?"
                   " WHERE id=?", (counts["imported"], counts["corrected"], counts["refused"],
                                   dumps(report.to_dict()), report.run_id))

    def record_failed_run(self, report: ImportReport, started: str, error: TsunaguError,
                          mapping_sha256: str | None = None) -> int:
        """A file refused as a whole (not a shelter list, unreadable): still a run."""
        with self.transaction() as db:
            return self._insert_run(db, report, started, mapping_sha256, error)

    def save_sites(self, report: ImportReport, sites: Iterable[Site], started: str) -> int:
        """The run and its sites in one transaction; an existing site id is replaced."""
        now = _now()
        by_line = {r.line: r for r in report.rows}
        with self.transaction() as db:
            run_id = self._insert_run(db, report, started, None)
            for s in sites:
                # A site held exactly as read (parsed and raw) is left alone: unchanged.
                changed = db.execute(
                    "INSERT INTO sites (id, local_id, name, format, municipality_code, types,"
                    " lat, lon, capacity, parsed, raw, run_id, line, updated)"
                    " VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?) ON CONFLICT(id) DO UPDATE SET"
                    " local_id=excluded.local_id, name=excluded.name, format=excluded.format,"
                    " municipality_code=excluded.municipality_code, types=excluded.types,"
                    " lat=excluded.lat, lon=excluded.lon, capacity=excluded.capacity,"
                    " parsed=excluded.parsed, raw=excluded.raw, run_id=excluded.run_id,"
                    " line=excluded.line, updated=excluded.updated"
                    " WHERE sites.parsed IS NOT excluded.parsed OR sites.raw IS NOT excluded.raw",
                    (s.id, s.local_id, s.name, s.format, s.municipality_code,
                     dumps(s.types).decode(), s.lat, s.lon,
                     s.capacity.total if s.capacity else None, dumps(s.parsed()), dumps(s.raw),
                     run_id, s.line, now)).rowcount
                if not changed and s.line in by_line:
                    by_line[s.line].unchanged = True
            self._update_run(db, report)
        return run_id

    def save_status(self, report: ImportReport, entries: Iterable[StatusEntry], started: str,
                    mapping_sha256: str | None) -> int:
        by_line = {r.line: r for r in report.rows}
        with self.transaction() as db:
            run_id = self._insert_run(db, report, started, mapping_sha256)
            for e in entries:
                parsed = dumps(e.parsed())
                added = db.execute(
                    "INSERT OR IGNORE INTO status_history (shelter_id, observed_at, open, parsed,"
                    " raw, run_id, line, digest) VALUES (?,?,?,?,?,?,?,?)",
                    (e.shelter_id, e.observed_utc(), int(e.open), parsed, dumps(e.raw), run_id,
                     e.line, hashlib.sha256(parsed).hexdigest())).rowcount
                if not added and e.line in by_line:
                    by_line[e.line].unchanged = True
            self._update_run(db, report)
        return run_id

    def runs(self) -> list[dict[str, Any]]:
        return [{k: r[k] for k in r.keys() if k != "report"}
                for r in self.query("SELECT * FROM import_runs ORDER BY id")]

    def run_report(self, run_id: int) -> dict[str, Any] | None:
        rows = self.query("SELECT report FROM import_runs WHERE id=?", (run_id,))
        return loads(rows[0]["report"]) if rows else None

    # --- reading -------------------------------------------------------------------------

    @staticmethod
    def _site(row: sqlite3.Row) -> dict[str, Any]:
        return {**loads(row["parsed"]), "raw": loads(row["raw"]), "runId": row["run_id"]}

    def site_names_and_types(self) -> dict[str, tuple[str, list[str]]]:
        """id -> (name, types) of every site: what a status file may leave out."""
        return {r["id"]: (r["name"], loads(r["types"]))
                for r in self.query("SELECT id, name, types FROM sites")}

    def site(self, site_id: str) -> dict[str, Any] | None:
        rows = self.query("SELECT * FROM sites WHERE id=?", (site_id,))
        return self._site(rows[0]) if rows else None

    def sites(self, municipality_code: str | None = None) -> list[dict[str, Any]]:
        if municipality_code is None:
            rows = self.query("SELECT * FROM sites ORDER BY id")
        else:
            rows = self.query("SELECT * FROM sites WHERE municipality_code=? ORDER BY id",
                              (municipality_code,))
        return [self._site(r) for r in rows]

    @staticmethod
    def _status(row: sqlite3.Row) -> dict[str, Any]:
        return {**loads(row["parsed"]), "raw": loads(row["raw"]), "runId": row["run_id"],
                "line": row["line"]}

    def timeline(self, shelter_id: str) -> list[dict[str, Any]]:
        """A shelter's dated history, oldest first (a later import of the same moment after
        the earlier one)."""
        return [self._status(r) for r in self.query(
            "SELECT * FROM status_history WHERE shelter_id=? ORDER BY observed_at, seq",
            (shelter_id,))]

    def current_status(self, at: datetime | None = None) -> list[dict[str, Any]]:
        """Each shelter's latest status at ``at`` (default: the latest known)."""
        limit = (at or datetime.max.replace(tzinfo=UTC)).astimezone(UTC)
        rows = self.query(
            "SELECT * FROM status_history h WHERE seq = (SELECT seq FROM status_history"
            " WHERE shelter_id=h.shelter_id AND observed_at<=? ORDER BY observed_at DESC,"
            " seq DESC LIMIT 1) ORDER BY shelter_id", (limit.strftime("%Y-%m-%dT%H:%M:%SZ"),))
        return [self._status(r) for r in rows]
