"""Reading one cell of a municipal CSV, tolerantly but never by guessing.

Each reader returns the parsed value, records on the row what it had to read rather than
take as written (a correction), and raises CellError when the cell cannot be imported.
What counts as "as written" is the published format: "1" or "" for flags, decimal degrees,
6-digit 全国地方公共団体コード, a plain integer for capacities.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from typing import Any

from domains.bosai.errors import BosaiCode
from domains.bosai.importers.report import CellError, RowReport
from domains.japanese import normalize_address, normalize_width, number_spans, parse_int
from domains.japanese.text import JapaneseNumberError
from trust.legal_id import LegalIdError, LegalIdKind, local_government_check_digit, parse_legal_id

_SPACES = re.compile(r"\s+")


def _shown(text: str) -> str:
    return repr(text if len(text) <= 40 else text[:40] + "…")


def text(row: RowReport, column: str, raw: str) -> str:
    """Width-normalised, whitespace collapsed (half-width kana, full-width letters)."""
    value = _SPACES.sub(" ", normalize_width(raw)).strip()
    if value != raw.strip():
        row.correct(column, f"{_shown(raw.strip())} normalised to {_shown(value)}")
    return value


def address(row: RowReport, column: str, raw: str) -> str:
    """As ``text``, and dash look-alikes between digits ("1ー2－3") as "-"."""
    value = normalize_address(raw)
    if value != raw.strip():
        row.correct(column, f"{_shown(raw.strip())} normalised to {_shown(value)}")
    return value


def values(raw: str) -> list[str]:
    """A multi-value cell of the 自治体標準オープンデータセット (";"-separated)."""
    return [v for v in (_SPACES.sub(" ", normalize_width(p)).strip() for p in raw.split(";"))
            if v]


# --- flags ---------------------------------------------------------------------------------

_YES = {"1", "1.0", "○", "◯", "〇", "●", "◎", "有", "有り", "あり", "はい", "可", "y", "yes",
        "true", "t"}
_NO = {"0", "0.0", "×", "✕", "✖", "-", "ー", "無", "無し", "なし", "いいえ", "不可", "n", "no",
       "false", "f"}


def flag(row: RowReport, column: str, raw: str) -> bool | None:
    """"1" yes, "" or "0" no; other common spellings read with a correction. An unknown mark
    (e.g. "△", often "conditionally") is left unknown (None), with a correction."""
    written = raw.strip()
    if written in ("1", ""):
        return written == "1"
    if written == "0":
        return False
    value = normalize_width(written).strip().casefold()
    if value in _YES:
        row.correct(column, f"flag {_shown(written)} read as yes (1)")
        return True
    if value in _NO:
        row.correct(column, f"flag {_shown(written)} read as no (empty)")
        return False
    row.correct(column, f"{_shown(written)} is neither yes (1) nor no (empty): left unknown")
    return None


# --- coordinates ---------------------------------------------------------------------------

# Japan's extent with a margin: 沖ノ鳥島 20.42N, 択捉島 45.56N, 与那国島 122.93E, 南鳥島 153.99E.
LAT_RANGE = (20.0, 46.0)
LON_RANGE = (122.0, 154.0)
_DECIMAL = re.compile(r"[+-]?(?:\d+(?:\.\d*)?|\.\d+)")
_DMS = re.compile(r"(?:北緯|東経|[NE])?\s*(\d{1,3})\s*[°度]\s*(?:(\d{1,2})\s*[′'分]\s*"
                  r"(?:(\d{1,2}(?:\.\d+)?)\s*(?:′′|''|[″\"”秒])?)?)?\s*[NE]?")


def _in_japan(lat: float, lon: float) -> bool:
    return LAT_RANGE[0] <= lat <= LAT_RANGE[1] and LON_RANGE[0] <= lon <= LON_RANGE[1]


def _degrees(row: RowReport, column: str, raw: str) -> float:
    value = normalize_width(raw).strip()
    if not value:
        raise CellError(f"{column} is empty", code=BosaiCode.IMPORT_COORDINATES)
    if _DECIMAL.fullmatch(value):
        if value != raw.strip():
            row.correct(column, f"{_shown(raw.strip())} read as {value}")
        return float(value)
    if m := _DMS.fullmatch(value):
        if m[2] is None:  # whole degrees are ~100 km: not a site's location
            raise CellError(f"{column} {_shown(raw)} gives whole degrees only",
                            code=BosaiCode.IMPORT_COORDINATES)
        deg, minute, second = int(m[1]), int(m[2]), float(m[3] or 0)
        if minute >= 60 or second >= 60:
            raise CellError(f"{column} {_shown(raw)}: minutes and seconds must be below 60",
                            code=BosaiCode.IMPORT_COORDINATES)
        result = round(deg + minute / 60 + second / 3600, 7)
        row.correct(column, f"{_shown(raw.strip())} (degrees, minutes, seconds) read as {result}")
        return result
    raise CellError(f"{column} {_shown(raw)} is not a coordinate in degrees",
                    code=BosaiCode.IMPORT_COORDINATES)


def coordinates(row: RowReport, lat_raw: str, lon_raw: str,
                columns: tuple[str, str] = ("緯度", "経度")) -> tuple[float, float]:
    """Latitude and longitude inside Japan; swapped columns are put back with a correction."""
    lat, lon = _degrees(row, columns[0], lat_raw), _degrees(row, columns[1], lon_raw)
    if not (math.isfinite(lat) and math.isfinite(lon)):
        raise CellError("coordinates are not finite numbers", code=BosaiCode.IMPORT_COORDINATES)
    if _in_japan(lat, lon):
        return lat, lon
    if _in_japan(lon, lat):
        row.correct(f"{columns[0]}/{columns[1]}",
                    f"latitude and longitude were swapped ({lat}, {lon}); read as ({lon}, {lat})")
        return lon, lat
    raise CellError(
        f"{columns[0]} {lat} / {columns[1]} {lon} is outside Japan "
        f"({LAT_RANGE[0]}-{LAT_RANGE[1]}°N, {LON_RANGE[0]}-{LON_RANGE[1]}°E)",
        code=BosaiCode.IMPORT_COORDINATES)


# --- 全国地方公共団体コード ----------------------------------------------------------------------

def municipality_code(row: RowReport, column: str, raw: str) -> str | None:
    """A 6-digit 全国地方公共団体コード with a valid check digit; None when empty.

    A 5-digit code (the common form without check digit) gets its check digit, a 4-digit
    one (Excel dropped the leading zero of 01-09) its zero, both as corrections. A wrong check
    digit or prefecture is refused: the code says which municipality the site belongs to.
    """
    written = raw.strip()
    if not written:
        return None
    digits = normalize_width(written).replace("-", "").replace(" ", "")
    if digits.endswith(".0") and digits[:-2].isdigit():  # a spreadsheet's number format
        digits = digits[:-2]
    if not (digits.isascii() and digits.isdigit()):
        raise CellError(f"{column} {_shown(written)} is not a 全国地方公共団体コード",
                        code=BosaiCode.IMPORT_MUNICIPALITY_CODE)
    fixes = []
    if len(digits) == 4:
        digits, fixes = "0" + digits, ["restored the leading zero"]
    if len(digits) == 5:
        digits += str(local_government_check_digit(digits))
        fixes.append(f"added the check digit {digits[-1]}")
    try:
        code = parse_legal_id(digits, kind=LegalIdKind.LOCAL_GOVERNMENT_CODE).value
    except LegalIdError as exc:
        raise CellError(f"{column} {_shown(written)}: {exc.message}",
                        code=BosaiCode.IMPORT_MUNICIPALITY_CODE) from None
    if fixes or code != written:
        row.correct(column, f"{_shown(written)} read as {code} ({', '.join(fixes) or 'digits'})")
    return code


# --- capacities and counts -----------------------------------------------------------------

@dataclass(frozen=True)
class Capacity:
    """People a site holds. ``total`` is indoor + outdoor when the text gives both; ``notes``
    are the annotations written beside the numbers ("面積の1/2"), ``raw`` the cell as written
    when it was more than a plain number."""

    total: int | None
    indoor: int | None = None
    outdoor: int | None = None
    notes: tuple[str, ...] = ()
    approximate: bool = False
    raw: str | None = None

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {k: v for k, v in (("total", self.total), ("indoor", self.indoor),
                                                 ("outdoor", self.outdoor)) if v is not None}
        if self.notes:
            out["notes"] = list(self.notes)
        if self.approximate:
            out["approximate"] = True
        if self.raw is not None:
            out["raw"] = self.raw
        return out


_LABELS = re.compile(r"(?P<indoor>屋内|室内|建物内?|施設内|館内)"
                     r"|(?P<outdoor>屋外|グラウンド|グランド|校庭|敷地|広場|野外)")
# A bracketed part is an annotation ("(面積の1/2)", "（うち福祉スペース20人）") unless it is only
# a label ("1700人(屋内)"): annotations are kept as notes and their numbers are not capacities.
_BRACKETED = re.compile(r"[(（【\[［]([^()（）【】\[\]［］]*)[)）】\]］]")


def _labelled_numbers(text: str) -> list[tuple[str, int]]:
    """Each number with the label written before it (since the previous number) or, failing
    that, right after it: "屋内1,700人／屋外2,250人", "1700人(屋内)"."""
    spans = number_spans(text)
    labels = [(m.start(), m.lastgroup or "") for m in _LABELS.finditer(normalize_width(text))]
    out = []
    for i, (start, end, value) in enumerate(spans):
        previous_end = spans[i - 1][1] if i else 0
        next_start = spans[i + 1][0] if i + 1 < len(spans) else len(text) * 4
        before = [name for pos, name in labels if previous_end <= pos < start]
        after = [name for pos, name in labels if end <= pos < next_start]
        out.append(((before or after or ["total"])[-1 if before else 0], value))
    return out


def _annotations(text: str) -> tuple[str, list[str]]:
    """``text`` without its bracketed annotations, and the annotations."""
    notes: list[str] = []

    def take(m: re.Match[str]) -> str:
        inside = m[1].strip()
        if _LABELS.fullmatch(normalize_width(inside)):
            return m[0]
        if inside:
            notes.append(inside)
        return " "

    return _BRACKETED.sub(take, text), notes


def capacity(row: RowReport, column: str, raw: str) -> Capacity | None:
    """"1700", "１，７００人", "約1,700名", "屋内1,700人／屋外2,250人(面積の1/2)"; None when
    empty. The one capacity reader of both importers: indoor and outdoor apart, bracketed
    annotations kept as notes, the cell as written kept in ``raw``."""
    written = raw.strip()
    if not written:
        return None
    if written.isascii() and written.isdigit():
        return Capacity(int(written))
    body, notes = _annotations(written)
    approximate = bool(_APPROX.search(normalize_width(body)))
    parts: dict[str, int] = {}
    for label, value in _labelled_numbers(_APPROX.sub("", normalize_width(body))):
        if label in parts:
            raise CellError(f"{column} {_shown(written)}: cannot tell which number is the "
                            f"{label} capacity", code=BosaiCode.IMPORT_CAPACITY)
        parts[label] = value
    if not parts:
        raise CellError(f"{column} {_shown(written)} has no number of people",
                        code=BosaiCode.IMPORT_CAPACITY)
    if "total" in parts and len(parts) > 1:
        raise CellError(f"{column} {_shown(written)}: a number without 屋内/屋外 next to "
                        "labelled ones", code=BosaiCode.IMPORT_CAPACITY)
    indoor, outdoor = parts.get("indoor"), parts.get("outdoor")
    total = parts.get("total", (indoor or 0) + (outdoor or 0))
    result = Capacity(total, indoor, outdoor, tuple(notes), approximate, written)
    shown = {k: v for k, v in result.to_dict().items() if k != "raw"}
    row.correct(column, f"{_shown(written)} read as {shown}")
    return result


_COUNT_SUFFIX = re.compile(r"\s*(人|名)\s*$")
_APPROX = re.compile(r"^\s*(約|およそ|概ね|おおよそ)\s*")


def approximate(raw: str) -> bool:
    """Whether a count is written as approximate ("約30", "およそ30人")."""
    return bool(_APPROX.search(normalize_width(raw)))


def count(row: RowReport, column: str, raw: str) -> int | None:
    """A number of people: "120", "１２０", "1,200人", "約120名"; None when empty or "-"."""
    written = raw.strip()
    if written in ("", "-", "－", "ー", "―"):
        return None
    if written.isascii() and written.isdigit():
        return int(written)
    value = normalize_width(written)
    approximate = bool(_APPROX.search(value))
    value = _COUNT_SUFFIX.sub("", _APPROX.sub("", value))
    if "世帯" in value:
        raise CellError(f"{column} {_shown(written)} counts households, not people",
                        code=BosaiCode.IMPORT_COUNT)
    try:
        number = parse_int(value)
    except JapaneseNumberError:
        raise CellError(f"{column} {_shown(written)} is not a number of people",
                        code=BosaiCode.IMPORT_COUNT) from None
    row.correct(column, f"{_shown(written)} read as {number}"
                + (" (approximate in the file)" if approximate else ""))
    return number


# --- names ---------------------------------------------------------------------------------

_DESIGNATION = re.compile(
    r"^(?P<name>.*?)\s*(?P<suffix>[(（【\[［〔<＜]\s*(?P<label>[^()（）【】\[\]［］〔〕<>＜＞]*"
    r"(?:避難所|避難場所)[^()（）【】\[\]［］〔〕<>＜＞]*?)\s*[)）】\]］〕>＞])\s*$")


@dataclass(frozen=True)
class Name:
    name: str
    suffix: str | None  # the designation note taken off the name, e.g. "福祉避難所"
    welfare: bool


def site_name(row: RowReport, column: str, raw: str) -> Name:
    """The site's name, with a trailing designation note ("（福祉避難所）", "【指定避難所】")
    taken off into ``suffix``; other bracketed parts ("（旧第三小学校）") are part of the name."""
    value = _SPACES.sub(" ", normalize_width(raw)).strip()
    if not value:
        raise CellError(f"{column} is empty", code=BosaiCode.IMPORT_NAME)
    suffix = None
    if (m := _DESIGNATION.match(value)) and m["name"].strip():
        value, suffix = m["name"].strip(), m["label"].strip()
        row.correct(column, f"designation note {_shown(m['suffix'])} moved out of the name")
    elif value != raw.strip():
        row.correct(column, f"{_shown(raw.strip())} normalised to {_shown(value)}")
    return Name(value, suffix, bool(suffix and "福祉" in suffix))
