"""An import from a file into the bosai store: keep the raw bytes, parse, save, record the run.

The order matters: the raw file is copied into the store's ``imports/`` directory before
anything is parsed, so even a file refused as a whole is kept and its run recorded (with
the error) for whoever has to find out what the municipality sent.

What is kept is the file as received, except for My Numbers (個人番号), which nothing of
tsunagu may hold (``importers.personal``):

* a cell holding one (or any cell of a column named like one) is *blotted* in the kept copy:
  its digits replaced by "＊" in the decoded text, which is encoded back in the file's own
  encoding (its BOM kept; lines without such a cell are the original bytes). The report
  counts the cells (``redactedCells``, a file note), never where the values were; its rows
  note the row and column of each withheld cell;
* ``report.sha256`` (and the run's ``sha256``, and the kept file's name) is the SHA-256 of
  the bytes actually kept: the file's own hash when nothing was blotted, the blotted copy's
  otherwise. The received file's hash is then recorded nowhere: with the copy in hand, it
  would give the number back to anyone trying every 12-digit number;
* a file that cannot be decoded (a broken UTF-16 file; an unknown encoding asked for)
  cannot be searched, so nothing of it is kept: the run is recorded with an empty
  ``raw_path`` / ``sha256`` and a file note saying so;
* a source file name holding one is recorded blotted.

A status mapping holding one is refused before anything is kept (``importers.mapping``).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from domains.bosai.errors import BosaiCode
from domains.bosai.importers.mapping import load_mapping
from domains.bosai.importers.personal import blot, holds_my_number, redact_file
from domains.bosai.importers.report import ImportReport
from domains.bosai.importers.shelters import read_shelters
from domains.bosai.importers.source import SourceError, SourceText, decode
from domains.bosai.importers.status import StatusEntry, read_status
from domains.bosai.importers.table import Progress
from domains.bosai.store import BosaiStore
from trust.errors import TsunaguError

MAX_FILE_BYTES = 512 * 1024 * 1024  # the national GSI list is ~30 MB


def _read(path: Path) -> bytes:
    try:
        size = path.stat().st_size
        if size > MAX_FILE_BYTES:
            raise SourceError(f"{_shown(path)} is {size} bytes; the limit is {MAX_FILE_BYTES}")
        return path.read_bytes()
    except OSError as exc:
        raise SourceError(f"cannot read {_shown(path)}: {exc.strerror or exc}",
                          code=BosaiCode.IMPORT_UNREADABLE) from None


def _started() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _shown(text: str | Path) -> str:
    """A file name or path as recorded or shown: blotted if it holds a My Number."""
    return blot(str(text)) if holds_my_number(str(text)) else str(text)


def _source(path: Path) -> str:
    return _shown(path.name)


@dataclass(frozen=True)
class _Kept:
    raw_path: str | None  # None: nothing kept
    sha256: str  # of the bytes kept ("" when none)
    redacted_cells: int
    note: str | None

    def apply(self, report: ImportReport) -> ImportReport:
        report.raw_path, report.sha256 = self.raw_path, self.sha256
        report.redacted_cells = self.redacted_cells
        if self.note:
            report.file_notes.append(self.note)
        return report


def _keep(store: BosaiStore, data: bytes, name: str, encoding: str,
          ) -> tuple[_Kept, SourceText | None]:
    """Keep the copy of ``data`` that holds no My Number (before anything is parsed); also
    returns ``data`` decoded, for the parser (None when it cannot be)."""
    try:
        decoded = decode(data, encoding)
        copy = redact_file(data, decoded=decoded)
    except SourceError as exc:
        return _Kept(None, "", 0, f"the file was not kept: it could not be searched for My "
                                  f"Numbers (個人番号) ({exc.code})"), None
    raw_path = store.keep_raw(copy.data, name)
    note = None
    if copy.cells:
        note = (f"{copy.cells} cell{'s' * (copy.cells > 1)} held what looks like a My Number "
                "(個人番号): not imported, and blotted (＊) in the kept copy; sha256 is the "
                "kept copy's")
    return _Kept(raw_path, hashlib.sha256(copy.data).hexdigest(), copy.cells, note), decoded


def import_shelters(path: Path, store: BosaiStore, format: str = "auto",
                    encoding: str = "auto", progress: Progress | None = None) -> ImportReport:
    """Import a GSI or open-data shelter list into the store's designated-site master."""
    path, started = Path(path), _started()
    source = _source(path)
    data = _read(path)
    kept, decoded = _keep(store, data, path.name, encoding)
    try:
        report, sites = read_shelters(data, format=format, encoding=encoding, source=source,
                                      progress=progress, decoded=decoded)
    except TsunaguError as exc:
        failed = kept.apply(ImportReport("shelters", source, "", format=format))
        store.record_failed_run(failed, started, exc)
        raise
    kept.apply(report)
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
    source = _source(path)
    mapping, mapping_bytes = load_mapping(Path(mapping_path))
    data = _read(path)
    kept, decoded = _keep(store, data, path.name, mapping.encoding)
    store.keep_raw(mapping_bytes, Path(mapping_path).name)
    mapping_sha256 = hashlib.sha256(mapping_bytes).hexdigest()
    try:
        report, entries = read_status(data, mapping, source=source, progress=progress,
                                      decoded=decoded)
    except TsunaguError as exc:
        failed = kept.apply(ImportReport("status", source, "", format="mapped"))
        store.record_failed_run(failed, started, exc, mapping_sha256)
        raise
    kept.apply(report)
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
