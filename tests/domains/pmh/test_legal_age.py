"""年齢計算ニ関スル法律 + 民法第143条 arithmetic: hand-checked month ends, 2/29 and the
April 1 / April 2 school-year edge, and properties over many birth dates."""

from __future__ import annotations

import calendar
from datetime import date, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from domains.pmh.schedule import ages
from domains.pmh.schedule.legal_age import (
    reaches_age,
    reaches_months,
    same_day_months_later,
    school_entry,
    school_year_start,
    weeks_after,
)

D = date


@pytest.mark.parametrize(("birth", "months", "reached"), [
    (D(2026, 1, 15), 2, D(2026, 3, 14)),  # the day before the corresponding day
    (D(2026, 1, 31), 1, D(2026, 2, 28)),  # no 2/31: the end of February
    (D(2026, 1, 31), 2, D(2026, 3, 30)),  # 3/31 exists: the day before it
    (D(2026, 1, 30), 1, D(2026, 2, 28)),  # no 2/30
    (D(2026, 1, 29), 1, D(2026, 2, 28)),  # no 2/29 in 2026
    (D(2024, 1, 29), 1, D(2024, 2, 28)),  # 2/29/2024 exists: the day before it
    (D(2024, 1, 30), 1, D(2024, 2, 29)),  # no 2/30: the end of February (leap)
    (D(2024, 3, 31), 1, D(2024, 4, 30)),  # no 4/31
    (D(2024, 3, 30), 1, D(2024, 4, 29)),
    (D(2024, 3, 1), 1, D(2024, 3, 31)),  # born on the 1st: the month's last day
    (D(2024, 2, 1), 1, D(2024, 2, 29)),
    (D(2023, 2, 1), 1, D(2023, 2, 28)),
    (D(2025, 12, 1), 1, D(2025, 12, 31)),
    (D(2025, 12, 31), 2, D(2026, 2, 28)),  # across the year end, no 2/31
    (D(2024, 8, 31), 90, D(2032, 2, 29)),  # 生後90月 of an August 31 birth: leap February
    (D(2024, 8, 31), 8, D(2025, 4, 30)),
    (D(2024, 8, 31), 6, D(2025, 2, 28)),
])
def test_reaches_months(birth, months, reached):
    assert reaches_months(birth, months) == reached


@pytest.mark.parametrize(("birth", "years", "reached"), [
    (D(2024, 2, 29), 1, D(2025, 2, 28)),  # no 2/29 in 2025: the end of February
    (D(2024, 2, 29), 4, D(2028, 2, 28)),  # 2/29/2028 exists: the day before it
    (D(2023, 3, 1), 1, D(2024, 2, 29)),  # the day before 3/1 in a leap year
    (D(2024, 3, 1), 1, D(2025, 2, 28)),
    (D(2020, 4, 1), 6, D(2026, 3, 31)),
    (D(2020, 4, 2), 6, D(2026, 4, 1)),
    (D(2025, 1, 1), 1, D(2025, 12, 31)),
])
def test_reaches_age(birth, years, reached):
    assert reaches_age(birth, years) == reached


def test_mr_stage_1_is_the_day_before_the_first_birthday_to_the_day_before_the_second():
    expr_from, expr_to = ages.parse("12m"), ages.parse("24m")
    assert (expr_from.at(D(2025, 6, 10)), expr_to.at(D(2025, 6, 10))) == \
        (D(2026, 6, 9), D(2027, 6, 9))


def test_under_13_ends_two_days_before_the_13th_birthday():
    assert ages.parse("<13y").at(D(2013, 6, 10)) == D(2026, 6, 8)  # 誕生日の前々日
    assert ages.parse("<13y").at(D(2012, 2, 29)) == D(2025, 2, 27)


def test_weeks_after_birth_count_days_from_day_zero():
    assert weeks_after(D(2026, 1, 1), 6, 0) == D(2026, 2, 12)
    assert weeks_after(D(2026, 1, 1), 14, 6) == D(2026, 4, 15)
    assert weeks_after(D(2026, 1, 1), 24) == D(2026, 6, 18)
    assert ages.parse("32w0d").at(D(2026, 1, 1)) == D(2026, 8, 13)


@pytest.mark.parametrize(("birth", "entry"), [
    (D(2019, 4, 1), D(2025, 4, 1)),  # 早生まれ: reaches 6 on 2025-03-31
    (D(2019, 4, 2), D(2026, 4, 1)),  # reaches 6 on 2025-04-01: the next year
    (D(2019, 3, 31), D(2025, 4, 1)),
    (D(2018, 4, 2), D(2025, 4, 1)),
    (D(2020, 2, 29), D(2026, 4, 1)),
    (D(2019, 12, 31), D(2026, 4, 1)),
    (D(2020, 1, 1), D(2026, 4, 1)),
])
def test_school_entry(birth, entry):
    assert school_entry(birth) == entry


def test_mr_stage_2_and_hpv_school_year_windows_for_april_1_and_april_2_births():
    mr_from, mr_to = ages.parse("school_entry-1y"), ages.parse("school_entry-1d")
    assert (mr_from.at(D(2019, 4, 1)), mr_to.at(D(2019, 4, 1))) == (D(2024, 4, 1), D(2025, 3, 31))
    assert (mr_from.at(D(2019, 4, 2)), mr_to.at(D(2019, 4, 2))) == (D(2025, 4, 1), D(2026, 3, 31))
    hpv_from, hpv_to = ages.parse("fy_start@12y"), ages.parse("fy_end@16y")
    # Born 2013-04-01: reaches 12 on 2025-03-31, in school year 2024 (小学6年 with those born
    # from 2012-04-02); born 2013-04-02 reaches 12 on 2025-04-01, school year 2025.
    assert (hpv_from.at(D(2013, 4, 1)), hpv_to.at(D(2013, 4, 1))) == (D(2024, 4, 1), D(2029, 3, 31))
    assert (hpv_from.at(D(2013, 4, 2)), hpv_to.at(D(2013, 4, 2))) == (D(2025, 4, 1), D(2030, 3, 31))


@pytest.mark.parametrize(("given_on", "months", "next_on"), [
    (D(2026, 1, 10), 6, D(2026, 7, 10)),
    (D(2025, 8, 31), 6, D(2026, 2, 28)),
    (D(2027, 8, 31), 6, D(2028, 2, 29)),
    (D(2026, 10, 31), 1, D(2026, 11, 30)),
])
def test_same_day_months_later(given_on, months, next_on):
    assert same_day_months_later(given_on, months) == next_on


def test_bad_age_expressions_are_refused_with_the_forms():
    for text in ("2 months", "13", "<birth", "fy_start@y", "school_entry+1y", ""):
        with pytest.raises(ValueError, match="not an age expression"):
            ages.parse(text)


# ---------------------------------------------------------------- properties

births = st.dates(min_value=D(1996, 1, 1), max_value=D(2040, 12, 31))


def _reference(birth: date, months: int) -> date:
    """民法第143条 read literally, day by day: the period starts on the day of birth; it ends
    the day before the day numbered like the birth day in the last month, or at the end of
    that month when it has no such day."""
    index = birth.month - 1 + months
    year, month = birth.year + index // 12, index % 12 + 1
    last = calendar.monthrange(year, month)[1]
    if birth.day > last:
        return D(year, month, last)
    return D(year, month, birth.day) - timedelta(days=1)


@given(births, st.integers(min_value=0, max_value=200))
def test_reaches_months_matches_the_civil_code_read_literally(birth, months):
    assert reaches_months(birth, months) == _reference(birth, months)


@given(births, st.integers(min_value=1, max_value=199))
def test_reaching_is_monotone_and_about_a_month_apart(birth, months):
    a, b = reaches_months(birth, months), reaches_months(birth, months + 1)
    assert 28 <= (b - a).days <= 31


@given(births, st.integers(min_value=1, max_value=20))
def test_age_is_reached_the_day_before_the_birthday_where_it_exists(birth, years):
    reached = reaches_age(birth, years)
    if not (birth.month == 2 and birth.day == 29):
        assert reached == birth.replace(year=birth.year + years) - timedelta(days=1)
    else:
        leap = calendar.isleap(birth.year + years)
        assert reached == D(birth.year + years, 2, 28)
        assert leap or reached.month == 2


@given(births)
def test_school_entry_is_april_1_after_reaching_6_and_april_1_births_go_a_year_early(birth):
    entry = school_entry(birth)
    assert (entry.month, entry.day) == (4, 1)
    assert reaches_age(birth, 6) < entry <= reaches_age(birth, 6) + timedelta(days=366)
    expected = birth.year + 6 + (0 if (birth.month, birth.day) <= (4, 1) else 1)
    assert entry.year == expected
    assert school_year_start(entry - timedelta(days=1)).year == entry.year - 1
