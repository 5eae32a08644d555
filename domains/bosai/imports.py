"""An import from a file into the bosai store: keep the raw bytes, parse, save, record the run.

The order matters: the raw file is copied into the store's ``imports/`` directory before
anything is parsed, so even a file refused as a whole is kept and its run recorded (with
the error) for whoever has to find out what the municipality sent.
"""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime
from pathlib import Path

from domains.bosai.importers.mapping import load_mapping
from domains.bosai.importers.report import ImportReport
from domains.bosai.importers.shelters import read_shelters
from domains.bosai.importers.source import SourceError
from domains.bosai.importers.status import StatusEntry, read_status
from domains.bosai.importers.table import Progress
from domains.bosai.store import BosaiStore
from trust.errors import TsunaguError

MAX_FILE_BYTES = 512 * 1024 * 1024  # the national GSI list is ~30 MB


def _read(path: Path) -> bytes:
    try:
        size = path.stat().st_size
        if size > MAX_FILE_BYTES:
            raise SourceError(f"{path} is {size} bytes; the limit is {MAX_FILE_BYTES}")
        return path.read_bytes()
    except OSError as exc:
        raise SourceError(f"cannot read {path}: {exc.strerror or exc}",
                          code="bosai.import.unreadable") from None


def _started() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def import_shelters(path: Path, store: BosaiStore, format: str = "auto",
                    encoding: str = "auto", progress: Progress | None = None) -> ImportReport:
    """Import a GSI or open-data shelter list into the store's designated-site master."""
    path, started = Path(path), _started()
    data = _read(path)
    raw_path = store.keep_raw(data, path.name)
    try:
        report, sites = read_shelters(data, format=format, encoding=encoding, source=path.name,
                                      progress=progress)
    except TsunaguError as exc:
        failed = ImportReport("shelters", path.name, hashlib.sha256(data).hexdigest(),
                              format=format, raw_path=raw_path)
        store.record_failed_run(failed, started, exc)
        raise
    report.raw_path = raw_path
    store.save_sites(report, sites, started)
    return report


def import_status(path: Path, mapping_path: Path, store: BosaiStore,
                  progress: Progress | None = None,
                  entries_out: list[StatusEntry] | None = None) -> ImportReport:
    """Import a status snapshot CSV through a column mapping into the store's timeline.

    Names and types the file leaves out are taken from the master when the shelter is in it;
    a shelter not in the master is imported with a note (ad-hoc shelters are real).
    ``entries_out`` receives the entries saved (the hub publishes them as records)."""
    path, started = Path(path), _started()
    mapping, mapping_bytes = load_mapping(Path(mapping_path))
    data = _read(path)
    raw_path = store.keep_raw(data, path.name)
    store.keep_raw(mapping_bytes, Path(mapping_path).name)
    mapping_sha256 = hashlib.sha256(mapping_bytes).hexdigest()
    try:
        report, entries = read_status(data, mapping, source=path.name, progress=progress)
    except TsunaguError as exc:
        failed = ImportReport("status", path.name, hashlib.sha256(data).hexdigest(),
                              format="mapped", raw_path=raw_path)
        store.record_failed_run(failed, started, exc, mapping_sha256)
        raise
    report.raw_path = raw_path
    known = store.site_names_and_types()
    rows = {r.line: r for r in report.rows}
    for entry in entries:
        if entry.shelter_id not in known:
            if known:
                rows[entry.line].note(mapping.shelter_id, f"{entry.shelter_id!r} is not in "
                                      "the designated-site master")
            continue
        name, types = known[entry.shelter_id]
        entry.name = entry.name or name
        entry.types = entry.types or list(types)
    store.save_status(report, entries, started, mapping_sha256)
    if entries_out is not None:
        entries_out.extend(entries)
    return report
