"""A decoded CSV as a header and data rows, every row accounted for in the report.

Shared by the importers: the header may sit below a title line (the first few records are
searched); lines above it, rows with the wrong number of fields, undecodable bytes or
broken quoting are refused here with their line numbers; blank lines are listed in the
report's file notes. What reaches the importer is a row of the right shape.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import TypeVar

from domains.bosai.importers.report import ImportReport, RowReport
from domains.bosai.importers.source import (
    SourceError,
    SourceText,
    count_lines,
    csv_rows,
    has_undecodable,
    printable,
    undecodable_bytes,
)

H = TypeVar("H")
Progress = Callable[[int, int], None]  # (lines done, lines in the file)
HEADER_SEARCH = 5


def unique_names(names: list[str]) -> list[str]:
    """Header names as raw-row keys; a repeated name gets "#2", "#3" so no cell is lost."""
    seen: dict[str, int] = {}
    out = []
    for name in names:
        seen[name] = seen.get(name, 0) + 1
        out.append(name if seen[name] == 1 else f"{name}#{seen[name]}")
    return out


def _blank(fields: list[str] | None) -> bool:
    return fields is not None and not any(f.strip() for f in fields)


def _shape_ok(row: RowReport, values: list[str], names: list[str], encoding: str) -> bool:
    width = len(names)
    if len(values) > width and not any(v.strip() for v in values[width:]):
        del values[width:]  # trailing empty fields (a trailing comma) carry nothing
    if len(values) != width:
        row.refuse(None, f"row has {len(values)} fields, the header has {width} "
                   "(an unquoted comma or a missing field?)", "bosai.import.shape")
        return False
    if not any(map(has_undecodable, values)):
        return True
    for name, value in zip(names, values, strict=True):
        if bad := undecodable_bytes(value):
            row.refuse(name, f"{name} has bytes that are not valid {encoding} "
                       f"({', '.join(bad[:5])})", "bosai.import.encoding")
    return not row.problems


def rows(decoded: SourceText, report: ImportReport, locate: Callable[[list[list[str]]], H],
         progress: Progress | None = None,
         ) -> tuple[H, list[str], Iterator[tuple[RowReport, list[str]]]]:
    """Find the header with ``locate`` (given the first records, printable; it returns
    ``(position, header)`` or raises SourceError) and iterate the well-formed data rows.

    Each yielded RowReport is already in ``report``; the importer adds corrections and
    problems to it. Returns (header, raw header names, rows).
    """
    total = count_lines(decoded.text)
    records = csv_rows(decoded.text)
    head = []
    for record in records:
        head.append(record)
        if len(head) == HEADER_SEARCH:
            break
    if not any(r.fields and not _blank(r.fields) for r in head):
        raise SourceError("the file has no rows", code="bosai.import.format")
    at, header = locate([[printable(f) for f in r.fields or []] for r in head])
    names = unique_names([printable(c).strip().lstrip("\ufeff") for c in head[at].fields or []])

    def iterate() -> Iterator[tuple[RowReport, list[str]]]:
        blank: list[int] = []
        for before in head[:at]:
            if not _blank(before.fields):
                report.rows.append(row := RowReport(before.line, raw=before.fields))
                row.refuse(None, f"line before the header row (line {head[at].line})",
                           "bosai.import.shape")
        for record in [*head[at + 1:], *records]:
            if progress:
                progress(record.end_line, total)
            if _blank(record.fields):
                blank.append(record.line)
                continue
            row = RowReport(record.line, raw=record.fields)
            report.rows.append(row)
            if record.end_line > record.line:
                row.note(None, f"record spans lines {record.line}-{record.end_line}")
            if record.fields is None:
                row.refuse(None, f"not readable as CSV: {record.error}", "bosai.import.shape")
            elif _shape_ok(row, record.fields, names, decoded.encoding):
                yield row, record.fields
        if blank:
            report.file_notes.append(f"blank lines: {', '.join(map(str, blank[:20]))}"
                                     + (" ..." if len(blank) > 20 else ""))

    return header, names, iterate()
