"""西暦 and 和暦 dates and times, as people and municipal files write them.

Accepted dates (full-width digits and spaces too, era ligatures such as "㋿" through NFKC):
"1980-03-01", "1980/3/1", "1980.3.1", "1980年3月1日", "19800301", "昭和55年3月1日",
"S55.3.1", "S55/3/1", "昭55.3.1", "令和元年5月1日", an optional weekday "(火)" (checked).
Times after the date: "6:00", "18:30:15", "6時", "6時30分", "6時半", "午前6時", "午後6時30分",
"正午", ISO 8601 "T06:00:00+09:00" / "Z", an optional "JST", "現在" or "頃".

Era boundaries are exact (first day of each era in the Gregorian calendar): 令和 2019-05-01,
平成 1989-01-08, 昭和 1926-12-25, 大正 1912-07-30, 明治 (1868; Japan used the lunisolar
calendar until 明治5年12月2日, so only 明治6年 onwards converts). A date outside its era
("平成31年5月1日", "昭和64年1月8日") is invalid, not silently moved to the next era: the
message names the date it probably means.

Ambiguous or impossible input is an error (``ja.date_invalid``), never a guess: "午前12時"
(noon by the 1872 decree, midnight in common use), "24時", 2-digit years.
"""

from __future__ import annotations

import calendar
import re
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta, timezone, tzinfo

from domains.japanese.errors import JapaneseCode
from domains.japanese.text import normalize_width
from trust.errors import ValidationError

JST = timezone(timedelta(hours=9), "JST")
_MAX_TEXT = 100


class JapaneseDateError(ValidationError):
    """A date or time that does not exist, is outside its era, or cannot be read."""

    code = JapaneseCode.DATE_INVALID


@dataclass(frozen=True)
class Era:
    name: str  # 令和
    letter: str  # R (as in "R6.4.30")
    romaji: str
    start: date  # first day of the era
    end: date | None  # last day; None for the current era

    @property
    def first_year(self) -> int:
        """The Gregorian year of 元年."""
        return self.start.year


ERAS: tuple[Era, ...] = (
    Era("令和", "R", "Reiwa", date(2019, 5, 1), None),
    Era("平成", "H", "Heisei", date(1989, 1, 8), date(2019, 4, 30)),
    Era("昭和", "S", "Showa", date(1926, 12, 25), date(1989, 1, 7)),
    Era("大正", "T", "Taisho", date(1912, 7, 30), date(1926, 12, 24)),
    Era("明治", "M", "Meiji", date(1868, 10, 23), date(1912, 7, 29)),
)
GREGORIAN_ADOPTED = date(1873, 1, 1)  # 明治6年1月1日
_BY_TOKEN = {t: e for e in ERAS for t in (e.name, e.name[0], e.letter, e.letter.lower())}
_ERA_TOKENS = "|".join(sorted(map(re.escape, _BY_TOKEN), key=len, reverse=True))
_WEEKDAYS = "月火水木金土日"

# Day-style formats share one tail: 年M月D日, or M and D with the same separator twice.
_MD = (r"(?:\s*年\s*(?P<m>\d{1,2})\s*月\s*(?P<d>\d{1,2})\s*日?"
       r"|(?P<sep>[./-])(?P<m2>\d{1,2})(?P=sep)(?P<d2>\d{1,2})(?!\d))")
_WEEKDAY = rf"(?:\s*\((?P<wd>[{_WEEKDAYS}])(?:曜日?)?\))?"
_WAREKI = re.compile(rf"\s*(?P<era>{_ERA_TOKENS})\.?\s*(?P<y>元|\d{{1,3}})(?!\d){_MD}{_WEEKDAY}")
_SEIREKI = re.compile(
    rf"\s*(?:西暦\s*)?(?:(?P<y>\d{{4}})(?!\d){_MD}|(?P<y8>\d{{4}})(?P<m8>\d{{2}})(?P<d8>\d{{2}})"
    rf"(?!\d)){_WEEKDAY}")
_TIME = re.compile(
    r"(?:T|\s*)(?P<ampm>午前|午後|AM|PM|am|pm)?\s*"
    r"(?:(?P<h>\d{1,2}):(?P<mi>\d{2})(?::(?P<s>\d{2})(?:\.(?P<f>\d{1,6}))?)?"
    r"|(?P<hk>\d{1,2})\s*時\s*(?:(?P<mk>\d{1,2})\s*分|(?P<half>半))?\s*(?:(?P<sk>\d{1,2})\s*秒)?"
    r"|(?P<noon>正午))"
    r"\s*(?P<ampm2>AM|PM|am|pm)?"
    r"\s*(?:(?P<z>Z)|(?P<off>[+-]\d{2}):?(?P<offm>\d{2})|\(?(?P<jst>JST)\)?)?"
    r"\s*(?:現在|頃|ごろ)?\s*")


def _shown(text: str) -> str:
    return repr(text if len(text) <= 40 else text[:40] + "…")


def _checked(year: int, month: int, day: int, text: str) -> date:
    if not 1 <= year <= 9999:
        raise JapaneseDateError(f"{_shown(text)}: year {year} is out of range")
    if not 1 <= month <= 12:
        raise JapaneseDateError(f"{_shown(text)}: month {month} does not exist")
    last = calendar.monthrange(year, month)[1]
    if not 1 <= day <= last:
        raise JapaneseDateError(
            f"{_shown(text)}: day {day} does not exist ({year}-{month:02d} has {last} days)")
    return date(year, month, day)


def era_of(day: date) -> Era | None:
    """The era ``day`` falls in; None before 明治6年 (1873), when dates were lunisolar."""
    if day < GREGORIAN_ADOPTED:
        return None
    return next(e for e in ERAS if day >= e.start)


def to_wareki(day: date) -> str:
    """"令和6年4月30日"; "元年" for the first year. Raises before 明治6年 (1873)."""
    era = era_of(day)
    if era is None:
        raise JapaneseDateError(f"{day.isoformat()} is before 1873 and has no 和暦 equivalent")
    year = day.year - era.first_year + 1
    return f"{era.name}{'元' if year == 1 else year}年{day.month}月{day.day}日"


def _wareki(era: Era, year: int, month: int, day: int, text: str) -> date:
    if year < 1:
        raise JapaneseDateError(f"{_shown(text)}: {era.name}{year}年 does not exist")
    result = _checked(era.first_year + year - 1, month, day, text)
    if result < era.start:
        raise JapaneseDateError(
            f"{_shown(text)}: {era.name} began on {era.start.isoformat()}, "
            f"so {result.isoformat()} is not in {era.name}")
    if era is ERAS[-1] and result < GREGORIAN_ADOPTED:
        raise JapaneseDateError(
            f"{_shown(text)}: before 明治6年 Japan used the lunisolar calendar; "
            "this date cannot be converted")
    if era.end is not None and result > era.end:
        raise JapaneseDateError(
            f"{_shown(text)}: {era.name} ended on {era.end.isoformat()}; "
            f"{result.isoformat()} is {to_wareki(result)}")
    return result


def _date_prefix(text: str) -> tuple[date, int]:
    """The date at the start of ``text`` (already width-normalised) and where it ends."""
    if m := _WAREKI.match(text):
        g = m.groupdict()
        year = 1 if g["y"] == "元" else int(g["y"])
        month, day = int(g["m"] or g["m2"]), int(g["d"] or g["d2"])
        result = _wareki(_BY_TOKEN[g["era"]], year, month, day, text)
    elif m := _SEIREKI.match(text):
        g = m.groupdict()
        if g["y8"]:
            result = _checked(int(g["y8"]), int(g["m8"]), int(g["d8"]), text)
        else:
            result = _checked(int(g["y"]), int(g["m"] or g["m2"]), int(g["d"] or g["d2"]), text)
    else:
        raise JapaneseDateError(
            f"{_shown(text)} is not a date (expected e.g. 2024-04-30, 2024/4/30, "
            "2024年4月30日, 20240430, 令和6年4月30日 or R6.4.30)")
    if m.group("wd") and _WEEKDAYS[result.weekday()] != m.group("wd"):
        raise JapaneseDateError(
            f"{_shown(text)}: {result.isoformat()} is a {_WEEKDAYS[result.weekday()]}曜日, "
            f"not {m.group('wd')}曜日")
    return result, m.end()


def _prepared(text: str) -> str:
    if not isinstance(text, str):
        raise JapaneseDateError(f"a date must be text, got {type(text).__name__}")
    if len(text) > _MAX_TEXT:
        raise JapaneseDateError(f"date text is too long ({len(text)} characters)")
    return normalize_width(text).strip()


def parse_date(text: str) -> date:
    """A 西暦 or 和暦 date. Raises JapaneseDateError (``ja.date_invalid``) naming the problem."""
    prepared = _prepared(text)
    result, end = _date_prefix(prepared)
    if prepared[end:].strip():
        raise JapaneseDateError(
            f"{_shown(text)}: unexpected {_shown(prepared[end:].strip())} after the date")
    return result


def _hour(g: dict[str, str | None], text: str) -> tuple[int, int, int, int]:
    if g["noon"]:
        if g["ampm"] or g["ampm2"]:
            raise JapaneseDateError(f"{_shown(text)}: 正午 with 午前/午後 is contradictory")
        return 12, 0, 0, 0
    hour = int(g["h"] or g["hk"] or 0)
    minute = 30 if g["half"] else int(g["mi"] or g["mk"] or 0)
    second = int(g["s"] or g["sk"] or 0)
    micro = int((g["f"] or "0").ljust(6, "0"))
    marker = g["ampm"] or g["ampm2"]
    if g["ampm"] and g["ampm2"]:
        raise JapaneseDateError(f"{_shown(text)}: two AM/PM markers")
    if marker:
        if hour == 12:
            raise JapaneseDateError(
                f"{_shown(text)}: {marker}12時 is ambiguous (noon or midnight); "
                "write 0時, 12時 or 正午 in 24-hour form")
        if hour > 12:
            raise JapaneseDateError(f"{_shown(text)}: {marker} with hour {hour}")
        if marker in ("午後", "PM", "pm"):
            hour += 12
    if hour > 23:
        raise JapaneseDateError(
            f"{_shown(text)}: hour {hour} does not exist (write 0時 of the next day for 24時)")
    if minute > 59 or second > 59:
        raise JapaneseDateError(f"{_shown(text)}: minute or second beyond 59")
    return hour, minute, second, micro


def parse_datetime(text: str, tz: tzinfo = JST) -> datetime:
    """A date with an optional time, as an aware datetime.

    Without a time it is the start of the day. Without an offset in the text it is local
    time in ``tz`` (Japan time, fixed +09:00, by default); "Z", "+09:00" or "JST" in the
    text win over ``tz``. Raises JapaneseDateError (``ja.date_invalid``).
    """
    prepared = _prepared(text)
    day, end = _date_prefix(prepared)
    rest = prepared[end:]
    if not rest.strip():
        return datetime.combine(day, time(), tzinfo=tz)
    m = _TIME.fullmatch(rest)
    if m is None:
        raise JapaneseDateError(
            f"{_shown(text)}: {_shown(rest.strip())} is not a time "
            "(expected e.g. 6:00, 18:30, 6時30分, 午前6時 or T06:00:00+09:00)")
    g = m.groupdict()
    hour, minute, second, micro = _hour(g, text)
    zone = tz
    if g["z"]:
        zone = UTC
    elif g["off"]:
        hours, minutes = int(g["off"]), int(g["offm"])
        if abs(hours) > 23 or minutes > 59:
            raise JapaneseDateError(f"{_shown(text)}: UTC offset out of range")
        sign = -1 if g["off"].startswith("-") else 1
        zone = timezone(timedelta(hours=hours, minutes=sign * minutes))
    elif g["jst"]:
        zone = JST
    return datetime(day.year, day.month, day.day, hour, minute, second, micro, tzinfo=zone)
