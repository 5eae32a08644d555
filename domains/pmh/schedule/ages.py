"""Age expressions of the schedule table: how a window edge is written in the data file,
compiled once into a function of the birth date.

    "birth"            the day of birth
    "6w0d"             出生6週0日後 (a count of days)
    "2m", "1y"         the day the child reaches 2 months / 1 year (生後2月に至った日: the day
                       before the anniversary, legal_age.reaches_months)
    "<13y", "<7m"      the day before that: the last day of "13歳未満"
    "school_entry-1y"  April 1 a year before elementary school entry (MR 2期 from)
    "school_entry-1d"  March 31 before entry (MR 2期 to)
    "fy_start@12y"     April 1 of the school year (年度) in which the child reaches 12
    "fy_end@16y"       March 31 closing the school year in which the child reaches 16

Both edges of a window are inclusive days: a "to" of "24m" is 生後24月に至るまで (through the
day the child reaches 24 months), "<13y" is 13歳未満.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, timedelta

from domains.pmh.schedule import legal_age

_SYNTAX = re.compile(
    r"(?P<birth>birth)"
    r"|(?P<w>\d{1,3})w(?P<d>\d)d"
    r"|(?P<lt><)?(?P<n>\d{1,3})(?P<unit>[my])"
    r"|school_entry-(?P<entry>1y|1d)"
    r"|fy_(?P<fy>start|end)@(?P<fyn>\d{1,2})y")
_ONE_DAY = timedelta(days=1)


@dataclass(frozen=True, slots=True, eq=False)  # identity hash: a key of the engine's cache
class AgeExpr:
    text: str
    at: Callable[[date], date]  # birth -> the day
    ja: str
    en: str


def _reaches(months: int) -> Callable[[date], date]:
    def at(birth: date) -> date:
        return legal_age.reaches_months(birth, months)
    return at


def _before(inner: Callable[[date], date]) -> Callable[[date], date]:
    def at(birth: date) -> date:
        return inner(birth) - _ONE_DAY
    return at


def _entry_minus_year(birth: date) -> date:
    entry = legal_age.school_entry(birth)
    return entry.replace(year=entry.year - 1)


def _entry_minus_day(birth: date) -> date:
    return legal_age.school_entry(birth) - _ONE_DAY


def _fy(start: bool, years: int) -> Callable[[date], date]:
    def at(birth: date) -> date:
        first = legal_age.school_year_start(legal_age.reaches_age(birth, years))
        return first if start else date(first.year + 1, 3, 31)
    return at


def parse(text: str) -> AgeExpr:
    """Compile one expression; ``ValueError`` (with the accepted forms) if it is not one."""
    m = _SYNTAX.fullmatch(text.strip()) if isinstance(text, str) else None
    if m is None:
        raise ValueError(f"{text!r} is not an age expression (birth, 6w0d, 2m, 1y, <13y, "
                         "school_entry-1y, school_entry-1d, fy_start@12y, fy_end@16y)")
    if m["birth"]:
        return AgeExpr(text, lambda birth: birth, "出生日", "the day of birth")
    if m["w"]:
        weeks, days = int(m["w"]), int(m["d"])
        return AgeExpr(text, lambda birth: legal_age.weeks_after(birth, weeks, days),
                       f"出生{m['w']}週{m['d']}日後", f"{m['w']} weeks {m['d']} days after birth")
    if m["n"]:
        n, unit = int(m["n"]), m["unit"]
        months = n * 12 if unit == "y" else n
        ja = f"{n}歳" if unit == "y" else f"生後{n}月"
        en = f"{n} years" if unit == "y" else f"{n} months"
        if m["lt"]:
            return AgeExpr(text, _before(_reaches(months)), f"{ja}未満の最終日",
                           f"the last day under {en} of age")
        return AgeExpr(text, _reaches(months), f"{ja}に至った日",
                       f"the day the child reaches {en} of age")
    if m["entry"] == "1y":
        return AgeExpr(text, _entry_minus_year, "小学校就学の始期の1年前の日",
                       "April 1 one year before elementary school entry")
    if m["entry"] == "1d":
        return AgeExpr(text, _entry_minus_day, "小学校就学の始期の前日",
                       "the day before elementary school entry")
    start, n = m["fy"] == "start", int(m["fyn"])
    return AgeExpr(text, _fy(start, n),
                   f"{n}歳となる日の属する年度の{'初日' if start else '末日'}",
                   f"the {'first' if start else 'last'} day of the school year in which the "
                   f"child turns {n}")
