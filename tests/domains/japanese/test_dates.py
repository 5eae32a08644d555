"""domains.japanese.dates: 西暦 and 和暦, era boundaries, times in Japan time."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta, timezone

import pytest
from hypothesis import given
from hypothesis import strategies as st

from domains.japanese import JST, JapaneseDateError, parse_date, parse_datetime, to_wareki
from tests.fuzz.strategies import FUZZ


@pytest.mark.parametrize("text", [
    "1980-03-01", "1980/3/1", "1980.3.1", "1980年3月1日", "19800301", "西暦1980年3月1日",
    "昭和55年3月1日", "S55.3.1", "S55/3/1", "s55-3-1", "昭55.3.1", "㍼55年3月1日",
    "１９８０年３月１日", "昭和５５年　３月　１日", "　1980/03/01　", "1980年3月1日(土)",
    "1980年3月1日（土曜日）",
])
def test_dates_written_many_ways(text):
    assert parse_date(text) == date(1980, 3, 1)


@pytest.mark.parametrize(("text", "expected"), [
    ("令和元年5月1日", date(2019, 5, 1)), ("R1.5.1", date(2019, 5, 1)),
    ("R6.4.30", date(2024, 4, 30)), ("㋿6年4月30日", date(2024, 4, 30)),
    ("平成31年4月30日", date(2019, 4, 30)), ("平成元年1月8日", date(1989, 1, 8)),
    ("昭和64年1月7日", date(1989, 1, 7)), ("昭和元年12月25日", date(1926, 12, 25)),
    ("大正15年12月24日", date(1926, 12, 24)), ("大正元年7月30日", date(1912, 7, 30)),
    ("明治45年7月29日", date(1912, 7, 29)), ("明治6年1月1日", date(1873, 1, 1)),
    ("H12.2.29", date(2000, 2, 29)),
])
def test_era_boundaries_inclusive(text, expected):
    assert parse_date(text) == expected


@pytest.mark.parametrize(("text", "words"), [
    ("平成31年5月1日", ["平成 ended on 2019-04-30", "令和元年5月1日"]),
    ("令和元年4月30日", ["令和 began on 2019-05-01"]),
    ("昭和64年1月8日", ["昭和 ended", "平成元年1月8日"]),
    ("平成元年1月7日", ["平成 began on 1989-01-08"]),
    ("昭和元年12月24日", ["昭和 began on 1926-12-25"]),
    ("大正元年7月29日", ["大正 began"]),
    ("明治5年12月1日", ["lunisolar"]),
    ("昭和0年1月1日", ["昭和0年 does not exist"]),
    ("2023-02-29", ["day 29 does not exist", "28 days"]),
    ("H11.2.29", ["day 29"]),
    ("2024-13-01", ["month 13"]),
    ("2024/4/31", ["30 days"]),
    ("2024年4月30日(月)", ["火曜日", "not 月曜日"]),
    ("80/3/1", ["not a date"]),
    ("S55.3/1", ["not a date"]),
    ("2024/4/30 6:00", ["after the date"]),
    ("", ["not a date"]),
    ("x" * 500, ["too long"]),
])
def test_impossible_dates_are_named(text, words):
    with pytest.raises(JapaneseDateError) as info:
        parse_date(text)
    assert info.value.code == "ja.date_invalid"
    for word in words:
        assert word in info.value.message


@pytest.mark.parametrize(("text", "expected"), [
    ("令和6年4月30日午前6時", datetime(2024, 4, 30, 6, tzinfo=JST)),
    ("令和6年4月30日 18:30", datetime(2024, 4, 30, 18, 30, tzinfo=JST)),
    ("令和６年４月３０日　午後６時半", datetime(2024, 4, 30, 18, 30, tzinfo=JST)),
    ("R6.4.30 18時15分現在", datetime(2024, 4, 30, 18, 15, tzinfo=JST)),
    ("2024/4/30 6:00", datetime(2024, 4, 30, 6, tzinfo=JST)),
    ("2024/4/3 06:00", datetime(2024, 4, 3, 6, tzinfo=JST)),
    ("2024/4/30 正午", datetime(2024, 4, 30, 12, tzinfo=JST)),
    ("2024/4/30 6:00 PM", datetime(2024, 4, 30, 18, tzinfo=JST)),
    ("2024-04-30", datetime(2024, 4, 30, tzinfo=JST)),
    ("2024-04-30T06:00:00+09:00", datetime(2024, 4, 29, 21, tzinfo=UTC)),
    ("2024-04-30T06:00:00Z", datetime(2024, 4, 30, 6, tzinfo=UTC)),
    ("2024-04-30T06:00:00.25-05:30",
     datetime(2024, 4, 30, 6, 0, 0, 250000, tzinfo=timezone(-timedelta(hours=5, minutes=30)))),
])
def test_datetimes(text, expected):
    result = parse_datetime(text)
    assert result == expected
    assert result.tzinfo is not None


def test_naive_time_is_local_to_given_zone():
    assert parse_datetime("2024/4/30 6:00", tz=UTC) == datetime(2024, 4, 30, 6, tzinfo=UTC)
    assert parse_datetime("2024/4/30 6:00 JST", tz=UTC).utcoffset() == timedelta(hours=9)


@pytest.mark.parametrize(("text", "word"), [
    ("令和6年4月30日午前12時", "ambiguous"), ("令和6年4月30日午後12時", "ambiguous"),
    ("2024/4/30 24:00", "hour 24"), ("2024/4/30 6:61", "beyond 59"),
    ("2024/4/30 午後13時", "午後 with hour 13"), ("2024/4/30 夕方", "not a time"),
    ("平成31年5月1日 6:00", "平成 ended"), ("2024-04-30T06:00+24:00", "offset"),
])
def test_impossible_times(text, word):
    with pytest.raises(JapaneseDateError, match=word):
        parse_datetime(text)


@given(st.dates(min_value=date(1873, 1, 1), max_value=date(2200, 12, 31)))
def test_wareki_round_trip(day):
    assert parse_date(to_wareki(day)) == day
    assert parse_date(day.isoformat()) == day


@FUZZ
@given(st.text(max_size=40) | st.from_regex(r"[RHST令平昭]\d{1,2}[./年]\d{1,2}[./月]\d{1,3}日?\s*"
                                             r"(午前|午後)?\d{1,2}[:時]\d{0,2}", fullmatch=True))
def test_only_typed_errors(text):
    for parse in (parse_date, parse_datetime):
        try:
            parse(text)
        except JapaneseDateError:
            pass
