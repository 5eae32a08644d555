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
* a source file name holding one is recorded blotted;
* an Excel workbook (.xlsx) is kept as the CSV text of its first sheet, the one read and
  searched (blotted like any CSV): its other sheets were never searched, so are not kept.

A status mapping holding one is refused before anything is kept (``importers.mapping``).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from pathlib import Path

from domains.bosai.errors import BosaiCode
from domains.bosai.importers.mapping import load_mapping
from domains.bosai.importers.personal import blot, holds_my_number, redact_file
from domains.bosai.importers.report import ImportReport
from domains.bosai.importers.shelters import read_shelters
from domains.bosai.importers.source import WORKBOOK, SourceError, SourceText, decode
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
        text, searched = data, decoded
        if decoded.encoding == WORKBOOK:  # its other sheets are never searched: not kept
            text = decoded.text.encode("utf-8")
            searched = replace(decoded, encoding="utf-8")
            name = f"{Path(name).stem}.csv"
        copy = redact_file(text, decoded=searched)
    except SourceError as exc:
        return _Kept(None, "", 0, f"the file was not kept: it could not be searched for My "
                                  f"Numbers (個人番号) ({exc.code})"), None
    raw_path = store.keep_raw(copy.data, name)
    notes = []
    if decoded.encoding == WORKBOOK:
        notes.append("an Excel workbook: its first sheet was read, and is kept as UTF-8 CSV "
                     "text (sha256 is that copy's); other sheets are neither read nor kept")
    if copy.cells:
        notes.append(f"{copy.cells} cell{'s' * (copy.cells > 1)} held what looks like a My "
                     "Number (個人番号): not imported, and blotted (＊) in the kept copy; "
                     "sha256 is the kept copy's")
    return _Kept(raw_path, hashlib.sha256(copy.data).hexdigest(), copy.cells,
                 "; ".join(notes) or None), decoded


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
                  entries_out: list[StatusEntry] | None = None,
                  complete_snapshot: bool = False) -> ImportReport:
    """Import a status snapshot (CSV, or the first sheet of a .xlsx) through a column
    mapping into the store's timeline.

    Names and types the file leaves out are taken from the master when the shelter is in it;
    a shelter not in the master is imported with a note (ad-hoc shelters are real).
    ``complete_snapshot`` (or the mapping's ``complete_snapshot``): the file names every
    open shelter, so one it leaves out is recorded closed (``closed_by_absence``).
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
    if complete_snapshot or mapping.complete_snapshot:
        entries += closed_by_absence(store, report, entries)
    store.save_status(report, entries, started, mapping_sha256)
    if entries_out is not None:
        entries_out.extend(entries)
    return report


def closed_by_absence(store: BosaiStore, report: ImportReport, entries: list[StatusEntry]
                      ) -> list[StatusEntry]:
    """For a complete snapshot: an entry "closed" at the file's latest time for each shelter
    the timeline holds as open or unknown then and no row of the file names (a refused row
    names its shelter too: it is not absent, only unread). A file listing open shelters
    only says nothing of the others otherwise; this is what "complete" adds."""
    if not entries:
        report.file_notes.append("complete snapshot: no status was read, so no shelter is "
                                 "recorded closed")
        return []
    at = max(e.observed_at for e in entries)
    absent = [s for s in store.current_status(at=at)
              if s["shelterId"] not in report.subjects and s.get("open") is not False]
    why = f"absent from the complete snapshot {report.source}"
    closed = [StatusEntry(s["shelterId"], at, False, 0, {}, list(s.get("shelterType", [])),
                          s.get("name"), s.get("capacity"), inferred=why) for s in absent]
    if closed:
        shown = ", ".join(e.shelter_id for e in closed[:20]) + (" ..." * (len(closed) > 20))
        report.file_notes.append(
            f"complete snapshot: {len(closed)} shelter{'s' * (len(closed) > 1)} not in it "
            f"recorded as closed at {closed[0].observed_utc()}: {shown}")
    return closed
