"""Reading a CSV file as municipalities publish it: encoding, delimiter, rows with line numbers.

An Excel workbook (.xlsx) is read too, as clerks save it: its first sheet, every cell as
text, becomes CSV text (``read_workbook``; ``SourceText.encoding`` is "xlsx"), so the
rest of the importers, the My Number checks included, read it exactly as a CSV. Other
binary files (.xls, PDF, images, other zip files) are refused, saying what they look like.

Encodings: UTF-8 with or without BOM, Shift_JIS (as cp932, the Windows superset Excel
writes: it has ①, ㈱, NEC/IBM kanji), UTF-16 with BOM (Excel's "Unicode text"). Detection:
a BOM decides; otherwise UTF-8 if it decodes cleanly or mostly (a few bad bytes), else cp932.
Only the rows with undecodable bytes are refused (with their line numbers): one bad byte
must not cost a whole municipality's list.

Undecodable bytes are kept as surrogate escapes while parsing, so a row knows it has them;
``printable`` turns them into "\\xNN" for reports and JSON.
"""

from __future__ import annotations

import csv
import hashlib
import io
import re
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, datetime, time
from typing import Any

from domains.bosai.errors import BosaiCode
from trust.errors import TsunaguError

ENCODINGS = ("auto", "utf-8", "cp932", "utf-16")
_ALIASES = {"utf8": "utf-8", "utf-8-sig": "utf-8", "shift_jis": "cp932", "sjis": "cp932",
            "shift-jis": "cp932", "ms932": "cp932", "windows-31j": "cp932", "utf16": "utf-16"}
_BAD = re.compile("[\udc00\udc80-\udcff]")  # surrogate escapes, and NUL marked the same way


class SourceError(TsunaguError):
    """The file as a whole cannot be read (not a CSV, unknown encoding, no header)."""

    code = BosaiCode.IMPORT_SOURCE


class FormatError(SourceError):
    """The file as a whole cannot be read (not a CSV, unknown encoding, no header).

    Here it is not in a format the importer understands: no header it knows, or no rows.
    """

    code = BosaiCode.IMPORT_FORMAT


@dataclass(frozen=True)
class SourceText:
    text: str
    encoding: str  # what was used: utf-8, utf-8-sig, cp932, utf-16
    sha256: str
    undecodable: int  # number of bytes that did not decode


# Python's cp932 maps the bytes Shift_JIS leaves undefined (0x80, 0xA0, 0xFD-0xFF) to
# U+0080 and private-use characters instead of failing; no person wrote those, so they are
# treated as undecodable like any other bad byte.
_CP932_UNDEFINED = str.maketrans({"\x80": "\udc80", "\uf8f0": "\udca0", "\uf8f1": "\udcfd",
                                  "\uf8f2": "\udcfe", "\uf8f3": "\udcff"})


def _decode(data: bytes, encoding: str) -> tuple[str, int]:
    text = data.decode(encoding, errors="surrogateescape")
    if encoding == "cp932":
        text = text.translate(_CP932_UNDEFINED)
    return text, len(_BAD.findall(text))


# Files clerks pick by mistake (exported from Excel, scanned): said plainly, instead of the
# "no column ..." and mojibake that decoding them as text would give.
_BINARY_KINDS = ((b"PK\x03\x04", "an Excel workbook (.xlsx) or another zip file"),
                 (b"\xd0\xcf\x11\xe0", "an old Excel workbook (.xls)"),
                 (b"%PDF", "a PDF document"),
                 (b"\x89PNG", "a PNG image"), (b"\xff\xd8\xff", "a JPEG image"))


def refuse_binary(data: bytes) -> None:
    """Raise ``SourceError`` when ``data`` is a known binary format, not text."""
    for magic, kind in _BINARY_KINDS:
        if data.startswith(magic):
            raise SourceError(f"this is not a CSV file: it looks like {kind}; in Excel, "
                              "save it as 'CSV UTF-8 (comma delimited)' and import that")
    head = data[:8192]
    if b"\x00" in head and not head.startswith((b"\xff\xfe", b"\xfe\xff")) \
            and head.count(b"\x00") > len(head) // 10:
        raise SourceError("this is not a CSV file: it holds binary data, not text")


WORKBOOK = "xlsx"  # SourceText.encoding of a workbook read as text


def is_workbook(data: bytes) -> bool:
    """Whether ``data`` is an Office Open XML workbook (.xlsx, .xlsm), not any zip file."""
    if not data.startswith(b"PK\x03\x04"):
        return False
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            return "xl/workbook.xml" in archive.namelist()
    except (zipfile.BadZipFile, OSError):
        return False


def _cell_text(value: Any) -> str:
    """A cell as the text a clerk sees: 450 not 450.0, a date as 2024/04/30 06:00. A line
    break inside a cell becomes U+2028 so that one sheet row stays one line of the CSV
    text, and line numbers in reports are the sheet's row numbers."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, datetime):
        return value.strftime("%Y/%m/%d %H:%M" + (":%S" if value.second else ""))
    if isinstance(value, date):
        return value.strftime("%Y/%m/%d")
    if isinstance(value, time):
        return value.strftime("%H:%M" + (":%S" if value.second else ""))
    return re.sub(r"\r\n|\r|\n", "\u2028", str(value))


def _first_sheet(data: bytes) -> list[list[str]]:
    import openpyxl  # only when a workbook comes: keeps the CLI's start fast

    try:
        book = openpyxl.load_workbook(io.BytesIO(data), read_only=True, data_only=True)
        try:
            sheets = book.worksheets
            return [[_cell_text(v) for v in row]
                    for row in sheets[0].iter_rows(values_only=True)] if sheets else []
        finally:
            book.close()
    except Exception as exc:  # openpyxl raises many kinds on a broken file; none is ours
        raise SourceError(f"this Excel workbook (.xlsx) cannot be read "
                          f"({type(exc).__name__}); open it in Excel and save it again, or "
                          "save it as 'CSV UTF-8 (comma delimited)' and import that") from None


def read_workbook(data: bytes) -> SourceText:
    """The first sheet of a .xlsx workbook as CSV text (cached values of formulas; columns
    up to the rightmost one holding anything, trailing empty rows left out)."""
    rows = _first_sheet(data)
    width = max((max(i for i, v in enumerate(r) if v) + 1 for r in rows if any(r)), default=0)
    while rows and not any(rows[-1]):
        rows.pop()
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    for row in rows:
        writer.writerow(row[:width] + [""] * (width - len(row)))
    return SourceText(out.getvalue(), WORKBOOK, hashlib.sha256(data).hexdigest(), 0)


def decode(data: bytes, encoding: str = "auto") -> SourceText:
    """Decode ``data`` with ``encoding`` ("auto" detects); never raises on bad bytes, but
    refuses a file that is not text at all (``refuse_binary``). A .xlsx workbook is read
    as text whatever ``encoding`` says (``read_workbook``)."""
    if is_workbook(data):
        return read_workbook(data)
    refuse_binary(data)
    digest = hashlib.sha256(data).hexdigest()
    wanted = _ALIASES.get(encoding.lower(), encoding.lower())
    if wanted not in ENCODINGS:
        raise SourceError(f"unknown encoding {encoding[:40]!r}; use one of {', '.join(ENCODINGS)}")
    if wanted == "auto":
        wanted = _detect(data)
    if wanted == "utf-16":
        if data[:2] not in (b"\xff\xfe", b"\xfe\xff"):
            raise SourceError("a UTF-16 file must start with a byte order mark")
        try:
            text, bad = data.decode("utf-16"), 0
        except UnicodeDecodeError as exc:
            raise SourceError(f"UTF-16 file is broken at byte {exc.start}") from None
    elif wanted == "utf-8" and data.startswith(b"\xef\xbb\xbf"):
        text, bad = _decode(data[3:], "utf-8")
        wanted = "utf-8-sig"
    else:
        text, bad = _decode(data, wanted)
    # NUL is legal in Python's csv but never in a cell a person wrote: mark it as undecodable.
    nul = text.count("\x00")
    return SourceText(text.replace("\x00", "\udc00"), wanted, digest, bad + nul)


def _detect(data: bytes) -> str:
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        return "utf-16"
    if data.startswith(b"\xef\xbb\xbf"):
        return "utf-8"
    text, bad = _decode(data, "utf-8")
    if not bad:
        return "utf-8"
    # Not clean UTF-8: still UTF-8 if most of its non-ASCII decodes (Shift_JIS text almost
    # never forms valid UTF-8 sequences), else Shift_JIS, whose few bad bytes are refused.
    good = sum(1 for c in text if ord(c) > 0x7F) - bad
    return "utf-8" if good > bad else "cp932"


def printable(value: str) -> str:
    """``value`` with undecodable bytes written as \\xNN (safe for JSON and terminals)."""
    return _BAD.sub(lambda m: f"\\x{ord(m.group()) - 0xDC00:02x}", value)


def has_undecodable(value: str) -> bool:
    return _BAD.search(value) is not None


def undecodable_bytes(value: str) -> list[str]:
    return [f"0x{ord(c) - 0xDC00:02X}" for c in _BAD.findall(value)]


@dataclass(frozen=True)
class CsvRow:
    line: int  # physical line the record starts on (1-based)
    end_line: int  # physical line it ends on (a quoted field may span lines)
    fields: list[str] | None  # None when the csv module could not parse it
    error: str | None = None


def _delimiter(text: str) -> str:
    first = text.split("\n", 1)[0]
    return "\t" if first.count("\t") > first.count(",") else ","


def count_lines(text: str) -> int:
    return text.count("\n") + (0 if text.endswith("\n") or not text else 1)


def csv_rows(text: str) -> Iterator[CsvRow]:
    """Every record of ``text`` with its line numbers; unparseable records are yielded with
    ``error`` set, and reading goes on with the next line."""
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=_delimiter(text))
    previous = 0
    while True:
        try:
            fields = next(reader)
        except StopIteration:
            return
        except csv.Error as exc:  # e.g. a field over csv.field_size_limit() (128 KiB)
            if reader.line_num == previous:  # nothing consumed: stop rather than spin
                yield CsvRow(previous + 1, previous + 1, None, f"{exc}; reading stopped here")
                return
            yield CsvRow(previous + 1, reader.line_num, None, str(exc))
        else:
            yield CsvRow(previous + 1, reader.line_num, fields)
        previous = reader.line_num
