"""Every operator on every datatype, directly and through a parsed policy."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest

from usage_policies.datatypes import (
    Duration,
    ElapsedTime,
    Iri,
    compare_durations,
    parse_date,
    parse_datetime,
)
from usage_policies.operators import Incomparable, apply

DT = parse_datetime
D = parse_date
P = Duration.parse
E = "error"

# (operator, left, right, expected) -- expected "error" means incomparable (deny).
CASES = [
    # strings
    ("eq", "ja", "ja", True), ("eq", "ja", "en", False), ("neq", "ja", "en", True),
    ("neq", "ja", "ja", False), ("lt", "a", "b", True), ("lteq", "b", "b", True),
    ("gt", "b", "a", True), ("gteq", "a", "b", False),
    ("isAnyOf", "ja", ("en", "ja"), True), ("isAnyOf", "fr", ("en", "ja"), False),
    ("isAllOf", ("en", "ja", "fr"), ("en", "ja"), True), ("isAllOf", ("en",), ("en", "ja"), False),
    ("isNoneOf", "fr", ("en", "ja"), True), ("isNoneOf", "ja", ("en", "ja"), False),
    ("isA", "ja", "ja", True), ("isA", "ja", "en", False),
    ("isPartOf", "ja", "ja", True), ("isPartOf", "ja", "en", False),
    ("hasPart", "ja", "ja", True), ("hasPart", "ja", "en", False),
    # numbers (int, decimal, double mix)
    ("eq", 3, 3, True), ("eq", 3, Decimal("3.0"), True), ("eq", 3.5, 3, False),
    ("neq", 3, 4, True), ("neq", 3, 3, False), ("lt", 2, 3, True), ("lt", 3, 3, False),
    ("lteq", 3, 3, True), ("lteq", 4, 3, False), ("gt", Decimal("3.1"), 3, True),
    ("gt", 3, 3, False), ("gteq", 3, 3.0, True), ("gteq", 2, 3, False),
    ("isAnyOf", 2, (1, 2), True), ("isAnyOf", 3, (1, 2), False),
    ("isAllOf", (1, 2, 3), (1, 2), True), ("isAllOf", (1,), (1, 2), False),
    ("isNoneOf", 3, (1, 2), True), ("isNoneOf", 1, (1, 2), False),
    ("isA", 1, 1, E), ("isPartOf", 1, 1, E), ("hasPart", 1, 1, E),
    # IRIs (compare with IRIs and with their text)
    ("eq", Iri("urn:a"), Iri("urn:a"), True), ("eq", Iri("urn:a"), "urn:a", True),
    ("neq", Iri("urn:a"), Iri("urn:b"), True), ("lt", Iri("urn:a"), Iri("urn:b"), True),
    ("lteq", Iri("urn:a"), Iri("urn:a"), True), ("gt", Iri("urn:b"), Iri("urn:a"), True),
    ("gteq", Iri("urn:a"), Iri("urn:b"), False),
    ("isAnyOf", Iri("urn:a"), (Iri("urn:a"), Iri("urn:b")), True),
    ("isAllOf", (Iri("urn:a"), Iri("urn:b")), (Iri("urn:b"),), True),
    ("isNoneOf", Iri("urn:c"), (Iri("urn:a"),), True),
    ("isA", Iri("urn:a"), Iri("urn:a"), True), ("isPartOf", Iri("urn:a"), Iri("urn:b"), False),
    ("hasPart", Iri("urn:a"), Iri("urn:a"), True),
    # xsd:date
    ("eq", D("2025-01-01"), D("2025-01-01"), True),
    ("neq", D("2025-01-01"), D("2025-01-02"), True),
    ("lt", D("2025-01-01"), D("2025-01-02"), True),
    ("lteq", D("2025-01-02"), D("2025-01-01"), False),
    ("gt", D("2025-01-02"), D("2025-01-01"), True),
    ("gteq", D("2025-01-01"), D("2025-01-01"), True),
    ("isAnyOf", D("2025-01-01"), (D("2025-01-01"),), True),
    ("isAllOf", (D("2025-01-01"),), (D("2025-01-01"), D("2025-01-02")), False),
    ("isNoneOf", D("2025-01-03"), (D("2025-01-01"),), True),
    ("isA", D("2025-01-01"), D("2025-01-01"), E),
    ("isPartOf", D("2025-01-01"), D("2025-01-01"), True),
    ("hasPart", D("2025-01-01"), D("2025-01-02"), False),
    # xsd:dateTime (and against a date: the whole day in Japan time)
    ("eq", DT("2025-01-01T00:00:00Z"), DT("2025-01-01T09:00:00+09:00"), True),
    ("neq", DT("2025-01-01T00:00:00Z"), DT("2025-01-01T00:00:01Z"), True),
    ("lt", DT("2025-01-01T00:00:00Z"), DT("2025-01-01T00:00:01Z"), True),
    ("lteq", DT("2025-01-01T00:00:01Z"), DT("2025-01-01T00:00:00Z"), False),
    ("gt", DT("2025-01-02T00:00:00Z"), DT("2025-01-01T00:00:00Z"), True),
    ("gteq", DT("2025-01-01T00:00:00Z"), DT("2025-01-01T00:00:00Z"), True),
    ("isAnyOf", DT("2025-01-01T00:00:00Z"), (DT("2025-01-01T00:00:00Z"),), True),
    ("isAllOf", (DT("2025-01-01T00:00:00Z"),), (DT("2025-01-01T00:00:00Z"),), True),
    ("isNoneOf", DT("2025-01-01T00:00:00Z"), (DT("2025-01-01T00:00:00Z"),), False),
    ("isA", DT("2025-01-01T00:00:00Z"), DT("2025-01-01T00:00:00Z"), E),
    ("isPartOf", DT("2025-01-01T20:00:00+09:00"), D("2025-01-01"), True),
    ("isPartOf", DT("2025-01-01T20:00:00Z"), D("2025-01-01"), False),  # 2 Jan in Japan
    ("hasPart", D("2025-01-01"), DT("2025-01-01T00:00:00+09:00"), True),
    ("eq", DT("2025-03-31T23:59:00+09:00"), D("2025-03-31"), True),
    ("lt", DT("2025-03-31T23:59:00+09:00"), D("2025-04-01"), True),
    ("lt", DT("2025-03-31T23:59:00+09:00"), D("2025-03-31"), False),
    ("lteq", DT("2025-03-31T23:59:00+09:00"), D("2025-03-31"), True),
    ("gt", DT("2025-04-01T00:00:00+09:00"), D("2025-03-31"), True),
    ("gteq", DT("2025-03-31T00:00:00+09:00"), D("2025-03-31"), True),
    ("gteq", DT("2025-03-30T23:59:59+09:00"), D("2025-03-31"), False),
    ("neq", DT("2025-03-31T12:00:00+09:00"), D("2025-03-31"), False),
    # xsd:duration (partial order per XML Schema)
    ("eq", P("P1D"), P("PT24H"), True), ("neq", P("P1D"), P("PT2H"), True),
    ("lt", P("PT2H"), P("P1D"), True), ("lteq", P("P1Y"), P("P12M"), True),
    ("gt", P("P1Y2M"), P("P1Y"), True), ("gteq", P("P1M"), P("P27D"), True),
    ("lt", P("P1M"), P("P30D"), E),  # indeterminate: 28..31 days
    ("isAnyOf", P("P1D"), (P("PT24H"),), True), ("isAllOf", (P("P1D"),), (P("P2D"),), False),
    ("isNoneOf", P("P1D"), (P("P2D"),), True), ("isA", P("P1D"), P("P1D"), E),
    ("isPartOf", P("P1D"), P("P2D"), E), ("hasPart", P("P1D"), P("P2D"), E),
    # booleans: only equality
    ("eq", True, True, True), ("neq", True, False, True), ("lt", False, True, E),
    ("isAnyOf", True, (False,), False),
    # incomparable families
    ("eq", 1, "1", E), ("neq", 1, "1", E), ("lt", D("2025-01-01"), 3, E),
    ("gt", P("P1D"), DT("2025-01-01T00:00:00Z"), E), ("eq", True, 1, E),
    ("isAnyOf", 1, ("1",), E), ("eq", ("a", "b"), "a", E), ("lt", "a", ("a",), E),
]


@pytest.mark.parametrize(("op", "left", "right", "expected"), CASES)
def test_operator(op, left, right, expected):
    if expected == E:
        with pytest.raises(Incomparable):
            apply(op, left, right)
    else:
        assert apply(op, left, right) is expected


def test_every_operator_is_covered_for_each_family():
    families = {"str": str, "int": int, "Iri": Iri, "date": date, "dur": Duration}
    ops = {"eq", "neq", "gt", "gteq", "lt", "lteq", "isA", "isPartOf", "hasPart", "isAnyOf",
           "isAllOf", "isNoneOf"}
    for name, cls in families.items():
        seen = {op for op, left, _r, _e in CASES
                if isinstance(left, cls) or (isinstance(left, tuple) and left
                                             and isinstance(left[0], cls))}
        assert ops <= seen, (name, ops - seen)


@pytest.mark.parametrize(("text", "months", "seconds"), [
    ("P1D", 0, 86400), ("PT2H", 0, 7200), ("P1Y2M", 14, 0), ("P2W", 0, 1209600),
    ("PT0.5S", 0, Decimal("0.5")), ("-P1DT1H", 0, -90000), ("P1Y2M3DT4H5M6S", 14, 273906),
])
def test_duration_parse(text, months, seconds):
    d = Duration.parse(text)
    assert (d.months, d.seconds) == (months, seconds)
    assert Duration.parse(str(d)) == d


@pytest.mark.parametrize("text", ["P", "PT", "1D", "P1H", "PT1D", "P-1D", "P1.5D", ""])
def test_duration_rejects(text):
    with pytest.raises(ValueError):
        Duration.parse(text)


def test_duration_order_indeterminate_and_calendar_months():
    assert compare_durations(P("P1M"), P("P30D")) is None
    assert compare_durations(P("P1M"), P("P32D")) == -1
    start = DT("2025-01-31T00:00:00Z")
    # one month after 31 January is 28 February (clamped), so 1 March is past it
    assert ElapsedTime(start, DT("2025-02-28T00:00:00Z")).compare(P("P1M")) == 0
    assert ElapsedTime(start, DT("2025-03-01T00:00:00Z")).compare(P("P1M")) == 1
    assert apply("lteq", ElapsedTime(start, DT("2025-02-10T00:00:00Z")), P("P30D"))
