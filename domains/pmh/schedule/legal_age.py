"""Ages and periods as Japanese law counts them, for vaccination windows.

* 年齢計算ニ関スル法律 (明治35年法律第50号) counts age from the day of birth (初日算入) and
  applies 民法第143条: a period of months or years ends at the end of the day before the
  corresponding day (応当日) of the last month; with no corresponding day (born on the 31st,
  a month of 30 days; born 2/29, a common year) it ends at the end of that month.
* So a child *reaches* N months (生後N月に至る) at the end of the day before the N-month
  anniversary. That day is "the day the child reaches N months": 予防接種法施行令 windows
  written "生後N月に至った日から" open on it, and "生後M月に至るまで" windows close at its end.
  Municipal pages write MR 1期 (生後12月から生後24月に至るまで) as "1歳の誕生日の前日から
  2歳の誕生日の前日まで".
* "N歳以上" holds from that same day (as for elections: one whose 18th birthday is the day
  after an election votes in it), so "M歳未満" ends the day before it: DT 2期 "11歳以上13歳
  未満" is "11歳の誕生日の前日から13歳の誕生日の前々日まで".
* 出生N週D日後 (rotavirus) is a plain count of days: the day of birth is 0週0日.
* The school year (学年, 学校教育法第17条・第59条) runs April 1 to March 31; a child enters
  elementary school at the first April 1 after the day it reaches 6, so one born on April 1
  reaches 6 on March 31 and enters with the children born in the previous year's April 2
  onwards (早生まれ).

Everything here is plain integer and ``date`` arithmetic: the schedule engine calls it for
every child and every rule.
"""

from __future__ import annotations

from datetime import date, timedelta

_ONE_DAY = timedelta(days=1)
# Days in each month of a common year; February of a leap year is handled in _month_end.
_DAYS = (31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31)


def _is_leap(year: int) -> bool:
    return year % 4 == 0 and (year % 100 != 0 or year % 400 == 0)


def _month_end(year: int, month: int) -> int:
    return 29 if month == 2 and _is_leap(year) else _DAYS[month - 1]


def reaches_months(birth: date, months: int) -> date:
    """The day on which a child born on ``birth`` reaches ``months`` months of age (at its
    end): the day before the corresponding day, or the last day of the month that has none.

    Born 2026-01-31: 1 month on 2026-02-28 (no 2/31: end of February), 2 months on
    2026-03-30. Born 2024-02-29: 12 months on 2025-02-28.
    """
    index = birth.month - 1 + months
    year, month = birth.year + index // 12, index % 12 + 1
    last = _month_end(year, month)
    if birth.day > last:  # no corresponding day: the period ends at the end of the month
        return date(year, month, last)
    if birth.day > 1:
        return date(year, month, birth.day - 1)
    return date(year, month, 1) - _ONE_DAY


def reaches_age(birth: date, years: int) -> date:
    """The day a child reaches ``years`` years of age: the day before the birthday (for a
    2/29 birth in a common year, February 28)."""
    return reaches_months(birth, 12 * years)


def weeks_after(birth: date, weeks: int, days: int = 0) -> date:
    """出生W週D日後: the day of birth is 0週0日."""
    return birth + timedelta(days=7 * weeks + days)


def same_day_months_later(day: date, months: int) -> date:
    """The same day ``months`` calendar months after ``day`` (the month's last day when it has
    none): the earliest next dose after an interval of "N月以上"."""
    index = day.month - 1 + months
    year, month = day.year + index // 12, index % 12 + 1
    return date(year, month, min(day.day, _month_end(year, month)))


def school_year_start(day: date) -> date:
    """April 1 of the school year (年度) that holds ``day``."""
    return date(day.year if day.month >= 4 else day.year - 1, 4, 1)


def school_entry(birth: date) -> date:
    """The first day of elementary school (小学校就学の始期): the first April 1 after the day
    the child reaches 6 (学校教育法第17条: 満6歳に達した日の翌日以後における最初の学年の初め)."""
    return date(school_year_start(reaches_age(birth, 6)).year + 1, 4, 1)
