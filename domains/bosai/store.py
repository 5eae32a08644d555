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
import tempfile
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from connector.errors import ConnectorCode
from connector.store.database import Connection, Row, Store, StoreError, dumps, loads, open_sqlite
from connector.store.database import Error as DbError
from domains.bosai.importers.report import ImportReport
from domains.bosai.importers.shelters import Site
from domains.bosai.importers.status import StatusEntry
from trust.errors import TsunaguError

SCHEMA_VERSION = 2
RAW_DIR = "imports"
# A shelter that has not reported for this long is flagged on the dashboard, unless the
# municipality set its own limit (``BosaiStore.set_stale_after``, ``tsunagu bosai
# stale-after``): status files come every few hours in a disaster.
DEFAULT_STALE_AFTER = timedelta(hours=6)


@dataclass(frozen=True)
class ReportAge:
    shelter_id: str
    reported_at: datetime  # aware, UTC: when its latest reported status was observed
    age: timedelta  # at the time asked; negative when reported for a time still ahead
    stale: bool  # older than the municipality's limit

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

-- Open-shelter timeline: one row per observed status. An observation is identified by
-- shelter, time and source file name; importing it again (a corrected mapping) adds the new
-- version and points the old one at it (superseded_by): kept, never counted twice.
CREATE TABLE IF NOT EXISTS status_history (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    shelter_id TEXT NOT NULL,
    observed_at TEXT NOT NULL,         -- UTC, YYYY-MM-DDTHH:MM:SSZ (sorts as text)
    source TEXT NOT NULL,              -- the file name as given (import_runs.source)
    open INTEGER,                      -- NULL: the open cell could not be read (flagged)
    parsed BLOB NOT NULL,              -- StatusEntry.parsed()
    raw BLOB NOT NULL,
    run_id INTEGER NOT NULL REFERENCES import_runs(id),
    line INTEGER NOT NULL,             -- 0: not a row of the file (inferred)
    digest TEXT NOT NULL,              -- of parsed: importing the same file twice adds nothing
    inferred TEXT,                     -- why the importer wrote it; NULL: the file reported it
    superseded_by INTEGER              -- seq of the later import of this observation
);
CREATE INDEX IF NOT EXISTS status_by_shelter ON status_history(shelter_id, observed_at);
CREATE UNIQUE INDEX IF NOT EXISTS status_observation
    ON status_history(shelter_id, observed_at, source) WHERE superseded_by IS NULL;
"""

# Upgrades of an existing store, by the version it has: each runs in one transaction with
# the version bump, so a store is never left half-upgraded. SQLite cannot drop NOT NULL or
# add a partial unique index over a new column in place, hence the copy into a new table.
MIGRATIONS: dict[int, str] = {
    # 1 -> 2 (issue 12): open may be unknown (NULL); an observation is shelter, time and
    # source file, one current version of it (superseded_by); inferred rows (closed because
    # absent from a complete snapshot). Re-imports the old schema doubled (same shelter, time
    # and file, different parse) become superseded by the latest, as a re-import now does.
    1: """
CREATE TABLE status_history_v2 (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    shelter_id TEXT NOT NULL,
    observed_at TEXT NOT NULL,
    source TEXT NOT NULL,
    open INTEGER,
    parsed BLOB NOT NULL,
    raw BLOB NOT NULL,
    run_id INTEGER NOT NULL REFERENCES import_runs(id),
    line INTEGER NOT NULL,
    digest TEXT NOT NULL,
    inferred TEXT,
    superseded_by INTEGER
);
INSERT INTO status_history_v2 (seq, shelter_id, observed_at, source, open, parsed, raw, run_id,
                               line, digest)
    SELECT h.seq, h.shelter_id, h.observed_at, COALESCE(r.source, ''), h.open, h.parsed, h.raw,
           h.run_id, h.line, h.digest
    FROM status_history h LEFT JOIN import_runs r ON r.id = h.run_id;
UPDATE status_history_v2 SET superseded_by = (
    SELECT max(l.seq) FROM status_history_v2 l WHERE l.shelter_id = status_history_v2.shelter_id
    AND l.observed_at = status_history_v2.observed_at AND l.source = status_history_v2.source)
WHERE seq < (
    SELECT max(l.seq) FROM status_history_v2 l WHERE l.shelter_id = status_history_v2.shelter_id
    AND l.observed_at = status_history_v2.observed_at AND l.source = status_history_v2.source);
DROP TABLE status_history;
ALTER TABLE status_history_v2 RENAME TO status_history;
""",
}

_SAFE_SUFFIX = re.compile(r"\.[A-Za-z0-9]{1,8}")


def _now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


class BosaiStore(Store):
    """The hub's SQLite file. ``transaction()``, ``query()`` and ``close()`` are
    ``connector.store.database.Store``'s; only the schema differs (so ``__init__`` is its own)."""

    def __init__(self, path: Path, key: bytes | None = None) -> None:
        self.path = Path(path)
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self.db = open_sqlite(self.path, key)
            self.db.row_factory = Row
            self._prepare_schema()
        except (DbError, OSError) as exc:
            raise StoreError(f"cannot open bosai store {self.path}: {exc}") from exc

    def _prepare_schema(self) -> None:
        """Create a new store, or upgrade an older one (``MIGRATIONS``) before the schema's
        indexes over new columns are created."""
        self.db.execute("CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY,"
                        " value TEXT NOT NULL)")
        row = self.db.execute(
            "SELECT value FROM meta WHERE key='bosai_schema_version'").fetchone()
        if row is None:
            self.db.executescript(SCHEMA)
            self.db.execute("INSERT INTO meta VALUES ('bosai_schema_version', ?)",
                            (SCHEMA_VERSION,))
            return
        version = int(row[0])
        if version > SCHEMA_VERSION:
            raise StoreError(f"bosai store {self.path} has schema version {version}, "
                             f"this version needs {SCHEMA_VERSION} (a newer tsunagu made it)",
                             code=ConnectorCode.STORE_VERSION)
        for step in range(version, SCHEMA_VERSION):
            self._migrate(step)
        self.db.executescript(SCHEMA)

    def _migrate(self, version: int) -> None:
        """Upgrade from ``version`` to the next, in one transaction with the version bump."""
        try:
            self.db.executescript(
                f"BEGIN IMMEDIATE;\n{MIGRATIONS[version]}\nUPDATE meta SET value='{version + 1}'"
                " WHERE key='bosai_schema_version';\nCOMMIT;")
        except DbError as exc:
            if self.db.in_transaction:
                self.db.execute("ROLLBACK")
            raise StoreError(f"cannot upgrade bosai store {self.path} from schema version "
                             f"{version} to {version + 1}: {exc}",
                             code=ConnectorCode.STORE_MIGRATION_FAILED) from exc

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

    def _insert_run(self, db: Connection, report: ImportReport, started: str,
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
    def _update_run(db: Connection, report: ImportReport) -> None:
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
        """The run and its entries in one transaction. An entry is an observation (shelter,
        time, ``report.source``): held exactly so, it is unchanged; held otherwise, the new
        version is added and the old one marked superseded by it (kept, not shown as current)."""
        by_line = {r.line: r for r in report.rows}
        with self.transaction() as db:
            run_id = self._insert_run(db, report, started, mapping_sha256)
            for e in entries:
                row = by_line.get(e.line) if e.line else None
                replaced = self._save_entry(db, e, report.source, run_id)
                if replaced is None and row is not None:
                    row.unchanged = True
                elif replaced and row is not None:
                    row.note(None, f"replaces this observation as imported by run "
                             f"{replaced} (kept in the timeline as superseded)")
            self._update_run(db, report)
        return run_id

    @staticmethod
    def _save_entry(db: Connection, e: StatusEntry, source: str, run_id: int
                    ) -> int | None:
        """Add ``e`` unless held exactly so. None: unchanged; 0: new; else the run of the
        version it supersedes."""
        parsed = dumps(e.parsed())
        digest = hashlib.sha256(parsed).hexdigest()
        current = db.execute(
            "SELECT seq, digest, run_id FROM status_history WHERE shelter_id=? AND"
            " observed_at=? AND source=? AND superseded_by IS NULL",
            (e.shelter_id, e.observed_utc(), source)).fetchone()
        if current is not None and current["digest"] == digest:
            return None
        if current is not None:  # out of the unique index first; pointed at the new one below
            db.execute("UPDATE status_history SET superseded_by=0 WHERE seq=?", (current["seq"],))
        seq = db.execute(
            "INSERT INTO status_history (shelter_id, observed_at, source, open, parsed, raw,"
            " run_id, line, digest, inferred) VALUES (?,?,?,?,?,?,?,?,?,?)",
            (e.shelter_id, e.observed_utc(), source, None if e.open is None else int(e.open),
             parsed, dumps(e.raw), run_id, e.line, digest, e.inferred)).lastrowid
        if current is None:
            return 0
        db.execute("UPDATE status_history SET superseded_by=? WHERE seq=?", (seq, current["seq"]))
        return int(current["run_id"])

    def runs(self) -> list[dict[str, Any]]:
        return [{k: r[k] for k in r.keys() if k != "report"}
                for r in self.query("SELECT * FROM import_runs ORDER BY id")]

    def run_report(self, run_id: int) -> dict[str, Any] | None:
        rows = self.query("SELECT report FROM import_runs WHERE id=?", (run_id,))
        return loads(rows[0]["report"]) if rows else None

    # --- reading -------------------------------------------------------------------------

    @staticmethod
    def _site(row: Row) -> dict[str, Any]:
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
    def _status(row: Row) -> dict[str, Any]:
        out = {**loads(row["parsed"]), "raw": loads(row["raw"]), "runId": row["run_id"],
               "line": row["line"], "source": row["source"]}
        if row["superseded_by"] is not None:
            out["supersededBy"] = row["superseded_by"]
        return out

    def timeline(self, shelter_id: str, superseded: bool = False) -> list[dict[str, Any]]:
        """A shelter's dated history, oldest first (a later import of the same moment from
        another file after the earlier one). A status that opened or closed the shelter (the
        first known state, or a change of it) has ``change``: "opened" / "closed".
        ``superseded``: also the earlier imports of an observation imported again, each
        with ``supersededBy`` (the seq of the version that replaced it), unmarked."""
        rows = self.query(
            "SELECT * FROM status_history WHERE shelter_id=? AND (? OR superseded_by IS NULL)"
            " ORDER BY observed_at, seq", (shelter_id, superseded))
        out, state = [], None
        for row in rows:
            status = self._status(row)
            if row["superseded_by"] is None and row["open"] is not None:
                if bool(row["open"]) != state:
                    status["change"] = "opened" if row["open"] else "closed"
                state = bool(row["open"])
            out.append(status)
        return out

    def open_periods(self, shelter_id: str) -> list[dict[str, str | None]]:
        """When the shelter opened and closed, by its timeline: ``{"opened": t, "closed": t}``
        per period, oldest first (``closed`` None while open; a first status that is
        closed opens no period)."""
        periods: list[dict[str, str | None]] = []
        for status in self.timeline(shelter_id):
            if status.get("change") == "opened":
                periods.append({"opened": status["observedAt"], "closed": None})
            elif status.get("change") == "closed" and periods:
                periods[-1]["closed"] = status["observedAt"]
        return periods

    def current_status(self, at: datetime | None = None) -> list[dict[str, Any]]:
        """Each shelter's latest status at ``at`` (default: the latest known); superseded
        imports left out."""
        limit = (at or datetime.max.replace(tzinfo=UTC)).astimezone(UTC)
        rows = self.query(
            "SELECT * FROM status_history h WHERE seq = (SELECT seq FROM status_history"
            " WHERE shelter_id=h.shelter_id AND observed_at<=? AND superseded_by IS NULL"
            " ORDER BY observed_at DESC, seq DESC LIMIT 1) ORDER BY shelter_id",
            (limit.strftime("%Y-%m-%dT%H:%M:%SZ"),))
        return [self._status(r) for r in rows]

    # --- how old each shelter's last report is ----------------------------------------------

    def stale_after(self) -> timedelta:
        """How old a shelter's last report may be before the dashboard flags it: the
        municipality's setting (``set_stale_after``), else ``DEFAULT_STALE_AFTER``."""
        rows = self.query("SELECT value FROM meta WHERE key='stale_after_minutes'")
        return timedelta(minutes=int(rows[0][0])) if rows else DEFAULT_STALE_AFTER

    def set_stale_after(self, after: timedelta) -> None:
        minutes = int(after.total_seconds() // 60)
        if minutes < 1:
            raise ValueError(f"a report can only be stale after a minute or more, not {after}")
        with self.transaction() as db:
            db.execute("INSERT OR REPLACE INTO meta VALUES ('stale_after_minutes', ?)",
                       (str(minutes),))

    def last_reports(self, now: datetime | None = None) -> dict[str, ReportAge]:
        """Each shelter's last report (the latest status a file gave for it; closed-by-
        absence entries and superseded imports do not count), its age at ``now`` and whether
        it is older than ``stale_after()``."""
        now = (now or datetime.now(UTC)).astimezone(UTC)
        limit = self.stale_after()
        out = {}
        for shelter_id, last in self.query(
                "SELECT shelter_id, max(observed_at) FROM status_history WHERE inferred IS NULL"
                " AND superseded_by IS NULL GROUP BY shelter_id"):
            reported = datetime.strptime(last, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC)
            age = now - reported
            out[shelter_id] = ReportAge(shelter_id, reported, age, age > limit)
        return out
