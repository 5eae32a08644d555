"""Shelter status snapshots (a municipality's CSV or .xlsx + a column mapping) to dated entries.

Each data row becomes one entry of a shelter's timeline: when (an aware datetime, 和暦 and
full-width digits accepted), open or closed, types, capacity, people now / by day / by
night, needs. The same shelter twice at the same time in one file is refused (the second
one, naming the first).

Only what identifies an entry refuses its row: the shelter id and the time (issue 12). A
cell of any other column that cannot be read (an open cell saying "調整中", a count of
"3世帯", a type or capacity in prose no reader understands) costs that cell, not the row:
the entry is imported without it (``open`` None when it is the open cell), the column is
in ``flagged`` with why, the row is corrected, and the cell stays in ``raw`` as written.
Counts and capacities written as approximate ("約30") are read as the number and listed in
``approximate``; a capacity written as more than a number keeps its indoor / outdoor
parts, notes and text in ``capacity_detail``.

A cell holding a My Number (個人番号) is withheld by ``table.rows`` (see there) before this
module reads the row, and the row keeps importing without it: a needs or notes cell with a
number in it, or a count, is read as an empty cell, with a correction naming the column;
an open cell so withheld is flagged unknown (never filled by the mapping's default, which
could contradict what was written). Only in the columns the entry is identified and dated
by (``shelter_id``, the ``timestamp`` columns) is the row refused
(``personal_number.refused``). The cell is in neither ``StatusEntry.raw`` nor anything
parsed or published.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from domains.bosai.errors import BosaiCode
from domains.bosai.importers import cells, table
from domains.bosai.importers.mapping import StatusMapping, open_key
from domains.bosai.importers.report import CellError, ImportReport, RowReport
from domains.bosai.importers.source import (
    ENCODINGS,
    SourceError,
    SourceText,
    decode,
    has_undecodable,
)
from domains.bosai.importers.table import Progress
from domains.japanese import JapaneseDateError, normalize_width, parse_datetime

MAX_ID = 64
# U+2028 is how a line break inside a workbook cell reaches us (``source.read_workbook``).
_NEED_SEPARATORS = re.compile(r"[、，,;；/／\n\u2028・]+")
_NOT_PUBLISHED = ("capacityDetail", "approximate", "flagged", "inferred")
_TYPE_WORDS = {"designated_shelter", "designated_emergency_evacuation_site", "welfare_shelter"}


@dataclass
class StatusEntry:
    shelter_id: str
    observed_at: datetime  # aware
    open: bool | None  # None: the file's open cell could not be read (flagged)
    line: int
    raw: dict[str, str]
    types: list[str] = field(default_factory=list)
    name: str | None = None
    capacity: int | None = None
    count: int | None = None  # people there now
    day: int | None = None
    night: int | None = None
    needs: list[str] = field(default_factory=list)
    capacity_detail: dict[str, Any] | None = None  # indoor/outdoor/notes/raw, when written so
    approximate: list[str] = field(default_factory=list)  # "count", "day", "night": 約N
    flagged: dict[str, str] = field(default_factory=dict)  # column -> why it was not read
    inferred: str | None = None  # why the importer wrote this entry (no row of the file)

    def observed_utc(self) -> str:
        return self.observed_at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")

    def parsed(self) -> dict[str, Any]:
        out = {"shelterId": self.shelter_id, "observedAt": self.observed_utc(),
               "open": self.open, "shelterType": self.types, "name": self.name,
               "capacity": self.capacity, "count": self.count, "needs": self.needs}
        population = {k: v for k, v in (("day", self.day), ("night", self.night))
                      if v is not None}
        if population:
            out["population"] = population
        extra = (("capacityDetail", self.capacity_detail), ("approximate", self.approximate),
                 ("flagged", self.flagged), ("inferred", self.inferred))
        out.update({k: v for k, v in extra if v})
        return {k: v for k, v in out.items() if v is not None}

    def record_fields(self) -> dict[str, Any]:
        """The fields of a ``shelter-status`` record (shelter-status.schema.json) this entry
        fills; ``modified`` is when the status was observed."""
        out = {k: v for k, v in self.parsed().items() if k not in (
            "observedAt", "count", *_NOT_PUBLISHED)}
        out["modified"] = self.observed_utc()
        if not out.get("shelterType"):
            out.pop("shelterType", None)
        return out


def shelter_types(text: str) -> list[str]:
    """指定避難所 / 指定緊急避難場所 / 福祉避難所 (several may be written in one cell); the
    English tokens of the bosai vocabulary too. Empty list when none is named."""
    value = normalize_width(text).strip()
    tokens = [t for t in re.split(r"[\s,;、・/／]+", value) if t in _TYPE_WORDS]
    if tokens:
        return list(dict.fromkeys(tokens))
    found = []
    if "福祉" in value:
        found.append("welfare_shelter")
        value = value.replace("福祉避難所", "")
    if "避難場所" in value:
        found.append("designated_emergency_evacuation_site")
        value = value.replace("緊急避難場所", "").replace("避難場所", "")
    if "避難所" in value:
        found.append("designated_shelter")
    return found


class _Row:
    def __init__(self, index: dict[str, int], values: list[str], row: RowReport) -> None:
        self.index, self.values, self.row = index, values, row
        self.flagged: dict[str, str] = {}
        self.approximate: list[str] = []

    def get(self, column: str | None) -> str:
        return self.values[self.index[column]] if column else ""

    def flag(self, column: str, message: str, code: str) -> None:
        """A cell that cannot be read: the row imports without it, the column flagged (a
        correction) and the cell kept as written in ``raw``. Only identity refuses a row."""
        self.flagged[column] = message
        self.row.correct(column, f"{message}: imported without it, kept as written", code)

    def number(self, column: str | None, key: str = "") -> int | None:
        if not column:
            return None
        try:
            value = cells.count(self.row, column, self.get(column))
        except CellError as exc:
            self.flag(column, exc.message, exc.code)
            return None
        if key and value is not None and cells.approximate(self.get(column)):
            self.approximate.append(key)
        return value

    def capacity(self, column: str | None) -> cells.Capacity | None:
        if not column:
            return None
        try:
            read = cells.capacity(self.row, column, self.get(column))
        except CellError as exc:
            self.flag(column, exc.message, exc.code)
            return None
        if read is not None and read.approximate:
            self.approximate.append("capacity")
        return read

    def withheld(self, column: str | None) -> bool:
        """Whether the cell held a My Number and was emptied by ``table.rows``."""
        return bool(column) and self.index[column or ""] in self.row.withheld


def _timestamp(r: _Row, m: StatusMapping) -> datetime | None:
    text = " ".join(r.get(c).strip() for c in m.timestamp).strip()
    label = "+".join(m.timestamp) or "timestamp"
    if not text:
        if m.default_timestamp is None:
            r.row.refuse(label, f"{label} is empty", BosaiCode.IMPORT_TIMESTAMP)
        return m.default_timestamp
    try:
        return parse_datetime(text)
    except JapaneseDateError as exc:
        r.row.refuse(label, exc.message, exc.code)
        return None


def _open(r: _Row, m: StatusMapping) -> bool | None:
    written = r.get(m.open).strip()
    if m.open and r.withheld(m.open):
        r.flagged[m.open] = "withheld: it held what looks like a My Number (個人番号)"
        return None
    if not written:
        if m.default_open is None:
            r.flag(m.open, f"{m.open} is empty: open or closed?", BosaiCode.IMPORT_OPEN)
        return m.default_open
    key = open_key(written)
    if key in m.open_values:
        return True
    if key in m.closed_values:
        return False
    r.flag(m.open, f"{m.open} {written[:40]!r} is neither open nor closed "
           "(add it to [open_values] in the mapping)", BosaiCode.IMPORT_OPEN)
    return None


def _types(r: _Row, m: StatusMapping) -> list[str]:
    written = r.get(m.type).strip() or (m.default_type or "")
    if not written:
        return []
    found = shelter_types(written)
    if not found and m.type:
        r.flag(m.type, f"{written[:40]!r} is not 指定避難所, 指定緊急避難場所 or 福祉避難所",
               BosaiCode.IMPORT_TYPE)
    return found


def _needs(r: _Row, m: StatusMapping) -> list[str]:
    needs: list[str] = []
    for column in m.needs:
        text = normalize_width(r.get(column))
        needs += [n.strip() for n in _NEED_SEPARATORS.split(text) if n.strip()]
    for column in m.need_flags:
        if cells.flag(r.row, column, r.get(column)):
            needs.append(normalize_width(column).strip())
    return list(dict.fromkeys(needs))


def _entry(r: _Row, m: StatusMapping) -> StatusEntry | None:
    row = r.row
    shelter_id = normalize_width(r.get(m.shelter_id)).strip()
    row.key = shelter_id or None
    if not shelter_id:
        row.refuse(m.shelter_id, f"{m.shelter_id} is empty", BosaiCode.IMPORT_ID)
    elif len(shelter_id) > MAX_ID:
        row.refuse(m.shelter_id, f"id is longer than {MAX_ID} characters", BosaiCode.IMPORT_ID)
    elif shelter_id != r.get(m.shelter_id).strip():
        row.correct(m.shelter_id, f"{r.get(m.shelter_id).strip()!r} read as {shelter_id!r}")
    observed, is_open, types = _timestamp(r, m), _open(r, m), _types(r, m)
    name = (cells.text(row, m.name, r.get(m.name)) or None) if m.name else None
    capacity_read, count = r.capacity(m.capacity), r.number(m.count, "count")
    day, night = r.number(m.day_count, "day"), r.number(m.night_count, "night")
    capacity = capacity_read.total if capacity_read else None
    needs = _needs(r, m)
    if row.problems or observed is None:
        return None
    if is_open is False and any(n for n in (count, day, night)):
        row.note(None, "closed, yet people are counted")
    if capacity is not None and count is not None and count > capacity:
        row.note(m.count, f"{count} people for a capacity of {capacity}")
    detail = capacity_read.to_dict() if capacity_read and capacity_read.raw else None
    return StatusEntry(shelter_id, observed, is_open, row.line, {}, types, name, capacity,
                       count, day, night, needs, detail, r.approximate, r.flagged)


# Japanese read in the wrong encoding: bytes that do not decode (shown as \xNN once the
# header is made printable), or half-width katakana among kanji (UTF-8 read as Shift_JIS).
_MISREAD = re.compile(r"[\uff61-\uff9f]|\\x[89a-f][0-9a-f]")


def _misread(cells_: list[str]) -> bool:
    text = "".join(cells_)
    return has_undecodable(text) or _MISREAD.search(text) is not None


def _find_header(head: list[list[str]], wanted: list[str], encoding: str = "",
                 detected: bool = True) -> tuple[int, dict[str, int]]:
    """The first record naming every mapped column, and where each column is."""
    keys = [[normalize_width(c).strip().lstrip("\ufeff") for c in cells_] for cells_ in head]
    for at, row in enumerate(keys):
        if all(normalize_width(w) in row for w in wanted):
            return at, {w: row.index(normalize_width(w)) for w in wanted}
    first = keys[0] if keys else []
    missing = [w for w in wanted if normalize_width(w) not in first]
    if head and _misread(head[0]):
        how = "detected" if detected else "from the mapping"
        raise SourceError(
            f"the file's encoding looks wrong: read as {encoding} ({how}), its first line is "
            f"not legible text, so no column named in the mapping is found; set encoding in "
            f"the mapping to the file's real one ({', '.join(ENCODINGS[1:])})",
            code=BosaiCode.MAPPING_COLUMNS)
    raise SourceError(f"the file has no column {', '.join(missing)} named in the mapping "
                      f"(its first line has: {', '.join(first[:20])})",
                      code=BosaiCode.MAPPING_COLUMNS)


def read_status(data: bytes, mapping: StatusMapping, source: str = "",
                progress: Progress | None = None, decoded: SourceText | None = None,
                ) -> tuple[ImportReport, list[StatusEntry]]:
    """Parse a status snapshot CSV through ``mapping``; every data row is in the report.
    ``decoded``: ``data`` already decoded with the mapping's encoding."""
    decoded = decoded or decode(data, mapping.encoding)
    report = ImportReport("status", source, decoded.sha256, decoded.encoding, "mapped")
    identity = [c for c in (mapping.shelter_id, *mapping.timestamp) if c]
    index, names, data_rows = table.rows(
        decoded, report, lambda head: _find_header(
            head, mapping.columns(), decoded.encoding, mapping.encoding == "auto"), progress,
        required=lambda found: {found[c] for c in identity})
    entries: list[StatusEntry] = []
    seen: dict[tuple[str, datetime], int] = {}
    for row, values in data_rows:
        entry = _entry(_Row(index, values, row), mapping)
        if row.key:  # named, read or refused: not absent from a complete snapshot
            report.subjects.add(row.key)
        if entry is None:
            continue
        row.key = f"{entry.shelter_id}@{entry.observed_utc()}"
        if (entry.shelter_id, entry.observed_at) in seen:
            first = seen[entry.shelter_id, entry.observed_at]
            row.refuse(mapping.shelter_id, f"duplicate status of {entry.shelter_id!r} at "
                       f"{entry.observed_at.isoformat()}: first on line {first}",
                       BosaiCode.IMPORT_DUPLICATE)
            continue
        seen[entry.shelter_id, entry.observed_at] = row.line
        entry.raw = table.raw_cells(names, values, row)
        entries.append(entry)
    return report, entries
