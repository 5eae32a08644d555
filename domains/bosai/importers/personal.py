"""My Numbers (個人番号) in an imported file: found cell by cell, withheld, blotted in the copy.

No tsunagu hub may hold a My Number (``domains.japanese.mynumber``), and a municipality's
shelter or status file may still carry one: typed into a notes or needs cell, or a column
someone exported by mistake. This module is the one place the importers look for them:

* ``CellCheck.cells(fields)`` - the positions of a record's cells that hold one
  (``contains_my_number``), used by ``table.rows`` on every record it reads (the header
  too); ``table`` drops those cells before any importer, report or store sees them;
* ``my_number_columns(header)`` - columns *named* like one (``is_my_number_field``): every
  cell of them is withheld, whatever it holds (a typo'd number is still someone's number);
* ``redact_file(data, encoding)`` - the copy of the file that ``imports`` keeps: the same
  bytes, except that the digits of those cells are replaced by "＊" (in the decoded text,
  encoded back in the file's own encoding, BOM kept).

What counts as "holds one", beyond the shared detector:

* a decimal fraction is not a My Number: "35.688111802263" (a GSI latitude; one 12-digit
  fraction in ten has a "valid" check digit) is read with its fraction taken off;
* a cell is also read in the other encoding a Japanese CSV comes in (UTF-8 <-> Shift_JIS):
  a Shift_JIS line pasted into a UTF-8 file does not decode, or decodes to other characters,
  yet its bytes are the number's. A cell that holds one only that way is blotted whole.

Nothing here keeps, logs or hashes a value found; callers are told positions and counts.
"""

from __future__ import annotations

import bisect
import functools
import re
import sys
import unicodedata
import weakref
from collections.abc import Iterable
from dataclasses import dataclass

from domains.bosai.errors import BosaiCode
from domains.bosai.importers.source import (
    CsvRow,
    SourceError,
    SourceText,
    csv_rows,
    decode,
    has_undecodable,
)
from domains.japanese.errors import JapaneseCode
from domains.japanese.mynumber import contains_my_number, is_my_number_field

CODE = JapaneseCode.PERSONAL_NUMBER_REFUSED
BLOT = "＊"
HEADER_SEARCH = 5  # as table.HEADER_SEARCH: the header is among the first records
_FRACTION = re.compile(r"(?<=[0-9])\.[0-9]+")
# Twelve digits, not part of a longer run, with at most one separator between any two: a
# superset of what the detector accepts, so records and files without one are passed over
# cheaply.
_LOOSE = re.compile(r"(?<![0-9])[0-9](?:[ \-‐‑−–—ー]?[0-9]){11}(?![0-9])")
_OTHER = {"utf-8": "cp932", "utf-8-sig": "cp932", "cp932": "utf-8"}
_CODEC = {"utf-8": "utf-8", "utf-8-sig": "utf-8", "cp932": "cp932"}
_DECODED_NON_ASCII = re.compile("[^\x00-\x7f\udc80-\udcff]")
_DECODED_NON_ASCII_RUNS = re.compile("[^\x00-\x7f\udc80-\udcff]+")
_UNDECODABLE = re.compile("[\udc00\udc80-\udcff]")  # as source marks them
_LINE_BREAK = re.compile(r"\r\n|\r|\n")


def _folded(text: str) -> str:
    return _FRACTION.sub("", unicodedata.normalize("NFKC", text))


def _as_bytes(text: str, encoding: str) -> bytes | None:
    """``text`` (decoded by ``source.decode`` with ``encoding``) back to the file's bytes."""
    try:
        return text.replace("\udc00", "\x00").encode(_CODEC[encoding], "surrogateescape")
    except (KeyError, UnicodeError):
        return None


def other_reading(text: str, encoding: str) -> str | None:
    """``text``'s bytes read in the other Japanese encoding, when that could show a My
    Number the decoded text does not; else None.

    ASCII digits, spaces and hyphens are the same bytes in both encodings and are never
    part of a multi-byte character in either, so the other reading only matters where a
    digit or a separator is a non-ASCII character of the other encoding. Read as UTF-8, a
    Shift_JIS full-width digit or separator is never valid (a cell holding one has
    undecodable bytes); read as Shift_JIS, UTF-8 bytes only matter where they decode to
    something other than undecodable bytes."""
    if text.isascii() or encoding not in _OTHER:
        return None
    if encoding != "cp932" and not has_undecodable(text):
        return None
    data = _as_bytes(text, encoding)
    if data is None:
        return None
    other = data.decode(_OTHER[encoding], "surrogateescape")
    if encoding == "cp932" and not _DECODED_NON_ASCII.search(other):
        return None
    return other


def holds_my_number(cell: str, encoding: str = "") -> bool:
    """Whether a cell holds a My Number, read as decoded or in the other encoding."""
    if contains_my_number(_folded(cell)):
        return True
    other = other_reading(cell, encoding)
    return other is not None and contains_my_number(_folded(other))


def _lines_of(text: str, positions: Iterable[int]) -> set[int]:
    """The line numbers of ``positions`` in ``text`` (no line table made for none)."""
    found = list(positions)
    if not found:
        return set()
    starts = _line_starts(text)
    return {bisect.bisect_right(starts, p) for p in found}


@functools.cache
def _significant() -> re.Pattern[str]:
    """Non-ASCII characters that NFKC makes a digit or a separator of the detector's runs
    (full-width digits, ①, ¹, "－", "　", "ｰ" ...): only they can make the other reading of a
    line differ from the decoded one where it matters. Each has a decomposition."""
    seps = " -‐‑−–—ー"
    chars = {"‐", "‑", "−", "–", "—", "ー"}
    for code in range(0x80, sys.maxunicode + 1):
        c = chr(code)
        if unicodedata.decomposition(c):
            folded = unicodedata.normalize("NFKC", c)
            if any(d in "0123456789" for d in folded) or folded in seps:
                chars.add(c)
    return re.compile("[" + "".join(re.escape(c) for c in sorted(chars)) + "]")



def candidate_lines(text: str, encoding: str) -> set[int]:
    """The physical lines (1-based, as ``csv_rows`` numbers them) that could hold a My
    Number: one pass over the whole text, so that only their records are read cell by cell.
    Line breaks survive NFKC and either reading, so line numbers carry over."""
    folded = _folded(text)
    lines = _lines_of(folded, (m.start() for m in _LOOSE.finditer(folded)))
    if text.isascii() or encoding not in _OTHER:
        return lines
    if encoding == "cp932":  # where the UTF-8 reading has a digit or separator of its own
        other = other_reading(text, encoding)
        maybe = set()
        # (first over just the decoded non-ASCII runs: the whole text is mostly ASCII and
        # undecodable bytes, and the character class is large)
        if other is not None and _significant().search(
                "".join(_DECODED_NON_ASCII_RUNS.findall(other))):
            maybe = _lines_of(other, (m.start() for m in _significant().finditer(other)))
    else:  # where a line has bytes UTF-8 could not decode
        maybe = _lines_of(text, (m.start() for m in _UNDECODABLE.finditer(text)))
    starts = _line_starts(text)
    for line in maybe - lines:
        segment = text[starts[line - 1]:starts[line] if line < len(starts) else len(text)]
        other = other_reading(segment, encoding)
        if other is not None and _LOOSE.search(_folded(other)):
            lines.add(line)
    return lines


class CellCheck:
    """Finds the cells holding a My Number in the records of one decoded file."""

    def __init__(self, decoded: SourceText) -> None:
        self.encoding = decoded.encoding
        self.lines = candidate_lines(decoded.text, decoded.encoding)

    @classmethod
    def on_lines(cls, encoding: str, lines: set[int]) -> CellCheck:
        """A check of only ``lines`` (already known to be the only candidates)."""
        check = cls.__new__(cls)
        check.encoding, check.lines = encoding, set(lines)
        return check

    @classmethod
    def of(cls, decoded: SourceText) -> CellCheck:
        """The check of ``decoded``, made once (the kept copy and the parser share it)."""
        check = _CHECKS.get(decoded)
        if check is None:
            check = _CHECKS[decoded] = cls(decoded)
        return check

    @property
    def active(self) -> bool:
        return bool(self.lines)

    def cells(self, record: CsvRow) -> set[int]:
        """Positions of the record's cells that hold a My Number."""
        if not self.lines or not record.fields or not any(
                n in self.lines for n in range(record.line, record.end_line + 1)):
            return set()
        return {i for i, cell in enumerate(record.fields) if holds_my_number(cell, self.encoding)}


_CHECKS: weakref.WeakKeyDictionary[SourceText, CellCheck] = weakref.WeakKeyDictionary()


def header_name(cell: str) -> str:
    return cell.strip().lstrip("\ufeff")


def my_number_columns(header: Iterable[str]) -> set[int]:
    """Positions of the columns whose header names a My Number (マイナンバー, 個人番号 ...)."""
    return {i for i, name in enumerate(header) if is_my_number_field(header_name(name))}


def _digitish(c: str) -> bool:
    if c.isascii():
        return c.isdigit()
    return any(d in "0123456789" for d in unicodedata.normalize("NFKC", c))


def blot(text: str, encoding: str = "", keep: str = "") -> str:
    """``text`` with every character that reads as a digit replaced by "＊"; if it still holds
    a My Number (only in the other encoding), everything but the characters in ``keep`` is
    replaced. What a report shows and the kept copy holds in place of a withheld cell."""
    out = "".join(BLOT if _digitish(c) else c for c in text)
    if holds_my_number(out, encoding):
        out = "".join(c if c in keep else BLOT for c in text)
    return out


# --------------------------------------------------------------------------- the kept copy

@dataclass(frozen=True)
class Redacted:
    data: bytes  # what to keep: ``data`` itself when nothing was found
    cells: int  # cells (and unreadable lines) blotted


def _line_starts(text: str) -> list[int]:
    """Offsets of the physical lines as ``csv_rows`` numbers them (\\r\\n, \\r, \\n)."""
    return [0, *(m.end() for m in _LINE_BREAK.finditer(text))]


def _field_spans(text: str, start: int, end: int, delimiter: str) -> list[tuple[int, int]]:
    """Where each field of the record ``text[start:end]`` is, as Python's csv (default
    dialect, not strict) splits it: quotes only open at a field's start, "" is a quote."""
    spans = []
    i = field = start
    quoted = False
    while i < end:
        c = text[i]
        if quoted:
            if c == '"':
                if i + 1 < end and text[i + 1] == '"':
                    i += 2
                    continue
                quoted = False
        elif c == '"' and i == field:
            quoted = True
        elif c == delimiter:
            spans.append((field, i))
            field = i + 1
        elif c in "\r\n":
            break
        i += 1
    spans.append((field, i))
    return spans


def _delimiter(text: str) -> str:
    first = text.split("\n", 1)[0]
    return "\t" if first.count("\t") > first.count(",") else ","


def _find(text: str, encoding: str, check: CellCheck, columns: bool = True,
          ) -> tuple[list[tuple[int, int]], int]:
    """Spans of ``text`` to blot (cells, or whole lines where no cell can be told apart),
    and how many cells or lines they are. ``columns``: also every cell of a column named
    like a My Number."""
    starts = _line_starts(text)
    delimiter = _delimiter(text)
    spans: list[tuple[int, int]] = []
    covered: set[int] = set()
    named: set[int] = set()
    count = 0

    def line_span(line: int) -> tuple[int, int]:
        return starts[line - 1], starts[line] if line < len(starts) else len(text)

    for n, record in enumerate(csv_rows(text)):
        covered.update(range(record.line, record.end_line + 1))
        if record.fields is None:  # not parseable: look at its lines instead
            for line in range(record.line, min(record.end_line, len(starts)) + 1):
                if holds_my_number(text[slice(*line_span(line))], encoding):
                    spans.append(line_span(line))
                    count += 1
            continue
        found = check.cells(record) | {
            i for i in named if i < len(record.fields) and record.fields[i].strip()}
        if columns and n < HEADER_SEARCH:
            named |= my_number_columns(record.fields)  # withheld in the records below
        if not found:
            continue
        start, end = line_span(record.line)[0], line_span(record.end_line)[1]
        fields = _field_spans(text, start, end, delimiter)
        if len(fields) == len(record.fields):
            spans += [fields[i] for i in sorted(found)]
        else:  # cannot tell its cells apart: the record's lines
            spans.append((start, end))
        count += len(found)
    for line in range(1, len(starts) + 1):  # lines after a record that stopped the reading
        if line not in covered and holds_my_number(text[slice(*line_span(line))], encoding):
            spans.append(line_span(line))
            count += 1
    return spans, count


_STRUCTURE = '",\t\r\n'


def _apply(text: str, spans: Iterable[tuple[int, int]], encoding: str) -> str:
    parts, at = [], 0
    for start, end in sorted(set(spans)):
        start = max(start, at)  # overlapping spans: the rest of the later one
        if end > start:
            parts += [text[at:start], blot(text[start:end], encoding, keep=_STRUCTURE)]
            at = end
    parts.append(text[at:])
    return "".join(parts)


def _whole_lines(text: str, spans: Iterable[tuple[int, int]]) -> list[tuple[int, int]]:
    starts = _line_starts(text)
    out = []
    for start, end in spans:
        after = bisect.bisect_left(starts, max(end, start + 1))
        out.append((starts[bisect.bisect_right(starts, start) - 1],
                    starts[after] if after < len(starts) else len(text)))
    return out


def _encode_like(data: bytes, decoded: SourceText, old: str, new: str) -> bytes:
    """``new`` (``old`` with some characters replaced, none added or removed) as bytes in the
    file's encoding: the original bytes of every line that did not change, the BOM kept."""
    if decoded.encoding == "utf-16":
        codec = "utf-16-le" if data[:2] == b"\xff\xfe" else "utf-16-be"
        return data[:2] + new.replace("\udc00", "\x00").encode(codec)
    prefix = data[:3] if decoded.encoding == "utf-8-sig" else b""
    # Line breaks are single-byte and never inside a UTF-8 or Shift_JIS character, so the
    # decoded lines and the byte lines pair up one to one.
    old_parts, new_parts = _SPLIT.split(old), _SPLIT.split(new)
    byte_parts = _SPLIT_BYTES.split(data[len(prefix):])
    if not len(old_parts) == len(new_parts) == len(byte_parts):
        raise SourceError("the kept copy cannot be written line for line",
                          code=BosaiCode.IMPORT_REDACTION)
    out = [prefix]
    for before, after, raw in zip(old_parts, new_parts, byte_parts, strict=True):
        if before != after:
            encoded = _as_bytes(after, decoded.encoding)
            if encoded is None:
                raise SourceError("the kept copy cannot be encoded back",
                                  code=BosaiCode.IMPORT_REDACTION)
            raw = encoded
        out.append(raw)
    return b"".join(out)


_SPLIT = re.compile(r"(\r\n|\r|\n)")
_SPLIT_BYTES = re.compile(rb"(\r\n|\r|\n)")


def _left(text: str, encoding: str, lines: set[int]) -> list[tuple[int, int]]:
    """What a second look at the redacted text still finds: cells holding a number, on the
    lines the first look flagged (blotting digits cannot make a number anywhere else)."""
    return _find(text, encoding, CellCheck.on_lines(encoding, lines), columns=False)[0]


def redact_file(data: bytes, encoding: str = "auto", decoded: SourceText | None = None,
                ) -> Redacted:
    """The copy of ``data`` to keep: ``data`` itself when no cell holds a My Number, else
    with those cells blotted. ``decoded``: ``data`` already decoded (else it is, with
    ``encoding``). Raises SourceError when the file cannot be decoded (it cannot be searched
    then: the caller keeps nothing) or, defensively, not redacted."""
    decoded = decoded or decode(data, encoding)
    check = CellCheck.of(decoded)
    text = decoded.text
    if not check.active and not _named_column(text):
        return Redacted(data, 0)
    spans, count = _find(text, decoded.encoding, check)
    if not spans:
        return Redacted(data, 0)
    redacted = _apply(text, spans, decoded.encoding)
    # Read the copy back as the importers would. Nothing may be left; should a span have
    # missed its cell (csv splitting a record otherwise than _field_spans), the lines of
    # what is left are blotted whole.
    if left := _left(redacted, decoded.encoding, check.lines):
        redacted = _apply(redacted, _whole_lines(redacted, left), decoded.encoding)
        if _left(redacted, decoded.encoding, check.lines):
            raise SourceError("the file could not be redacted", code=BosaiCode.IMPORT_REDACTION)
    return Redacted(_encode_like(data, decoded, text, redacted), count)


def _named_column(text: str) -> bool:
    """Whether one of the first records names a My Number column."""
    for n, record in enumerate(csv_rows(text)):
        if n >= HEADER_SEARCH:
            return False
        if record.fields and my_number_columns(record.fields):
            return True
    return False
