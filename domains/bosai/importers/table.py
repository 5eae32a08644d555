"""A decoded CSV as a header and data rows, every row accounted for in the report.

Shared by the importers: the header may sit below a title line (the first few records are
searched); lines above it, rows with the wrong number of fields, undecodable bytes or
broken quoting are refused here with their line numbers; blank lines are listed in the
report's file notes. What reaches the importer is a row of the right shape.

My Numbers (個人番号) are looked for here, in every cell of every record, the header and
the lines above it included (``personal.CellCheck``), before anything else reads them. A
cell that holds one is *withheld*: the importer gets it as an empty cell, the row's ``raw``
(in the report) has it blotted ("＊" for its digits), ``RowReport.withheld`` lists it so the
importers leave it out of the raw cells they store, and the row notes the column (never the
value) with code ``personal_number.refused``. Every cell of a column whose header names a
My Number (マイナンバー, 個人番号 ...) is withheld the same way, whatever it holds. A header
cell holding one is named "column N" instead. Whether the row is then imported without the
cell (a correction) or refused (a problem) is the importer's rule: ``required`` gives the
positions of the columns a row cannot be imported without.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Iterator
from typing import TypeVar

from domains.bosai.errors import BosaiCode
from domains.bosai.importers import personal
from domains.bosai.importers.report import ImportReport, RowReport
from domains.bosai.importers.source import (
    CsvRow,
    FormatError,
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


def _withhold(row: RowReport, values: list[str], names: list[str], found: set[int],
              required: Collection[int], encoding: str) -> None:
    """Empty the cells at ``found`` (they hold a My Number) and note each on the row."""
    if not found:
        return
    row.raw = [personal.blot(v, encoding) if i in found else v for i, v in enumerate(values)]
    for i in sorted(found):
        column = names[i] if i < len(names) else f"field {i + 1}"
        values[i] = ""
        row.withheld.add(i)
        if i in required:
            row.refuse(column, f"{column} holds what looks like a My Number (個人番号); the "
                       "row cannot be imported without it, and the cell is not kept",
                       personal.CODE)
        else:
            row.correct(column, f"{column} held what looks like a My Number (個人番号): the "
                        "cell is withheld (not imported, blotted in the kept copy)",
                        personal.CODE)


def raw_cells(names: list[str], values: list[str], row: RowReport) -> dict[str, str]:
    """``{header: cell}`` of a row as stored beside what was parsed; withheld cells left out."""
    if not row.withheld:
        return dict(zip(names, values, strict=True))
    return {n: v for i, (n, v) in enumerate(zip(names, values, strict=True))
            if i not in row.withheld}


def _shape_ok(row: RowReport, values: list[str], names: list[str], encoding: str) -> bool:
    width = len(names)
    if len(values) > width and not any(v.strip() or i in row.withheld
                                       for i, v in enumerate(values[width:], width)):
        del values[width:]  # trailing empty fields (a trailing comma) carry nothing
    if len(values) != width:
        row.refuse(None, f"row has {len(values)} fields, the header has {width} "
                   "(an unquoted comma or a missing field?)", BosaiCode.IMPORT_SHAPE)
        return False
    if not any(map(has_undecodable, values)):
        return True
    for name, value in zip(names, values, strict=True):
        if bad := undecodable_bytes(value):
            row.refuse(name, f"{name} has bytes that are not valid {encoding} "
                       f"({', '.join(bad[:5])})", BosaiCode.IMPORT_ENCODING)
    return not row.problems


def rows(decoded: SourceText, report: ImportReport, locate: Callable[[list[list[str]]], H],
         progress: Progress | None = None,
         required: Callable[[H], Collection[int]] | None = None,
         ) -> tuple[H, list[str], Iterator[tuple[RowReport, list[str]]]]:
    """Find the header with ``locate`` (given the first records, printable, cells holding a
    My Number emptied; it returns ``(position, header)`` or raises SourceError) and iterate
    the well-formed data rows.

    Each yielded RowReport is already in ``report``; the importer adds corrections and
    problems to it. A withheld cell at one of the ``required(header)`` positions refuses its
    row; elsewhere the row is yielded with the cell empty. Returns (header, raw header
    names, rows).
    """
    total = count_lines(decoded.text)
    records = csv_rows(decoded.text)
    head = []
    for record in records:
        head.append(record)
        if len(head) == HEADER_SEARCH:
            break
    if not any(r.fields and not _blank(r.fields) for r in head):
        raise FormatError("the file has no rows")
    check = personal.CellCheck.of(decoded)
    shown = []
    for record in head:
        found = check.cells(record)
        shown.append([("" if i in found else printable(f))
                      for i, f in enumerate(record.fields or [])])
    at, header = locate(shown)
    cells = head[at].fields or []
    hidden = check.cells(head[at])
    names = unique_names([f"column {i + 1}" if i in hidden else printable(personal.header_name(c))
                          for i, c in enumerate(cells)])
    columns = personal.my_number_columns(cells) - hidden
    if hidden:
        report.file_notes.append(
            f"header {', '.join(names[i] for i in sorted(hidden))}: held what looks like a My "
            "Number (個人番号), so named by position here and blotted in the kept copy")
    if columns:
        report.file_notes.append(
            f"{', '.join(names[i] for i in sorted(columns))}: a My Number (個人番号) column; "
            "none of its cells is imported, and they are blotted in the kept copy")
    must = set(required(header)) if required else set()

    def found_in(record: CsvRow) -> set[int]:
        found = check.cells(record)
        fields = record.fields or []
        return found | {i for i in columns if i < len(fields) and fields[i].strip()} \
            if columns else found

    def iterate() -> Iterator[tuple[RowReport, list[str]]]:
        blank: list[int] = []
        for before in head[:at]:
            if not _blank(before.fields):
                report.rows.append(row := RowReport(before.line, raw=before.fields))
                if before.fields:
                    _withhold(row, before.fields, [], check.cells(before), (),
                              decoded.encoding)
                row.refuse(None, f"line before the header row (line {head[at].line})",
                           BosaiCode.IMPORT_SHAPE)
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
                row.refuse(None, f"not readable as CSV: {record.error}", BosaiCode.IMPORT_SHAPE)
                continue
            _withhold(row, record.fields, names, found_in(record), must,
                      decoded.encoding)
            if _shape_ok(row, record.fields, names, decoded.encoding) and not row.problems:
                yield row, record.fields
        if blank:
            report.file_notes.append(f"blank lines: {', '.join(map(str, blank[:20]))}"
                                     + (" ..." if len(blank) > 20 else ""))

    return header, names, iterate()
