"""The per-row import report: every data row ends up imported, corrected or refused.

A row is *corrected* when it was imported but something in it was read rather than taken
as written (a "1.0" flag, full-width digits, a capacity in prose), or a cell of it was
withheld (one holding a My Number, code ``personal_number.refused``: the note names the
column, never the value); each correction says what. A row is *refused* when it cannot be
imported; each problem names the column and the reason. Line numbers are physical lines of
the file (the header is usually line 1), so a person can open the file in an editor and find
the row.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from domains.bosai.errors import BosaiCode
from domains.bosai.importers.source import printable
from trust.errors import ErrorCode, TsunaguError


class Outcome(StrEnum):
    IMPORTED = "imported"
    CORRECTED = "corrected"
    REFUSED = "refused"
    UNCHANGED = "unchanged"  # read fine, and the store already held exactly this


class CellError(TsunaguError):
    """One cell cannot be read; the row is refused with this message."""

    code = BosaiCode.IMPORT_CELL


@dataclass(slots=True)
class Note:
    column: str | None
    message: str
    code: str | None = None

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"column": self.column, "message": self.message}
        if self.code:
            out["code"] = self.code
        return out


@dataclass
class RowReport:
    line: int
    key: str | None = None  # site id, or shelter id @ timestamp
    corrections: list[Note] = field(default_factory=list)
    problems: list[Note] = field(default_factory=list)
    notes: list[Note] = field(default_factory=list)  # worth knowing, changed nothing
    raw: list[str] | None = None  # the fields as read; shown in the report for refused rows
    withheld: set[int] = field(default_factory=set)  # cells dropped (a My Number): not in raw
    unchanged: bool = False  # set by the store: an earlier import already holds this row

    @property
    def outcome(self) -> Outcome:
        if self.problems:
            return Outcome.REFUSED
        if self.unchanged:
            return Outcome.UNCHANGED
        return Outcome.CORRECTED if self.corrections else Outcome.IMPORTED

    def correct(self, column: str | None, message: str, code: str | None = None) -> None:
        self.corrections.append(Note(column, message, code))

    def refuse(self, column: str | None, message: str, code: ErrorCode = CellError.code
               ) -> None:
        self.problems.append(Note(column, message, code))

    def note(self, column: str | None, message: str) -> None:
        self.notes.append(Note(column, message))

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"line": self.line, "outcome": self.outcome.value, "key": self.key}
        for name in ("corrections", "problems", "notes"):
            if notes := getattr(self, name):
                out[name] = [n.to_dict() for n in notes]
        if self.raw is not None and self.problems:
            out["raw"] = [printable(f) for f in self.raw]
        return out


@dataclass
class ImportReport:
    kind: str  # "shelters" | "status"
    source: str  # file name as given
    sha256: str
    encoding: str = ""
    format: str = ""
    rows: list[RowReport] = field(default_factory=list)
    file_notes: list[str] = field(default_factory=list)  # unused columns, blank lines...
    run_id: int | None = None
    raw_path: str | None = None  # the kept copy (None: nothing was kept)
    redacted_cells: int = 0  # cells blotted in the kept copy (a count, never where)
    # Ids the file's rows name, read or refused (status files): a complete snapshot's
    # shelters not among them are absent from it. Not in the report: the rows' keys say it.
    subjects: set[str] = field(default_factory=set)

    def counts(self) -> dict[str, int]:
        counts = dict.fromkeys((o.value for o in Outcome), 0)
        for row in self.rows:
            counts[row.outcome.value] += 1
        return counts

    def summary(self) -> str:
        c = self.counts()
        line = f"imported {c['imported']}, corrected {c['corrected']}, refused {c['refused']}"
        return line + (f", unchanged {c['unchanged']}" if c["unchanged"] else "")

    def refused_lines(self) -> list[int]:
        return [r.line for r in self.rows if r.outcome is Outcome.REFUSED]

    def to_dict(self) -> dict[str, Any]:
        return {"kind": self.kind, "source": self.source, "sha256": self.sha256,
                "encoding": self.encoding, "format": self.format, "runId": self.run_id,
                "rawPath": self.raw_path, "redactedCells": self.redacted_cells,
                "counts": self.counts(), "summary": self.summary(),
                "fileNotes": self.file_notes, "rows": [r.to_dict() for r in self.rows]}
