"""妊婦健診の血液検査等: the standard gestational periods of each test, read from
``blood_tests.toml`` (告示第226号, with its source), and where a test taken at a gestational
age falls. Pure: the hub records the outcome (``hub/blood_tests.py``)."""

from __future__ import annotations

import tomllib
from dataclasses import dataclass
from functools import cache
from pathlib import Path

from domains.pmh import vocab
from domains.pmh.errors import PmhCode

TESTS_FILE = vocab.HERE / "blood_tests.toml"


@dataclass(frozen=True)
class Standard:
    test: str
    ja: str
    periods: tuple[tuple[int, int], ...]  # completed weeks, inclusive
    text: str  # the standard as the 告示 words it

    def period_of(self, weeks: int) -> tuple[int, int] | None:
        """The standard period a test taken at ``weeks`` completed weeks falls in, or
        None (outside every period: accepted, and marked so)."""
        return next((p for p in self.periods if p[0] <= weeks <= p[1]), None)


@cache
def standards(path: Path = TESTS_FILE) -> dict[str, Standard]:
    """test (a pregnancy-test measurement) -> its standard. A test pmh does not measure, a
    pregnancy test without a standard, or a period out of order is the file's fault."""
    data = tomllib.loads(path.read_text(encoding="utf-8"))
    out: dict[str, Standard] = {}
    for test, spec in (data.get("tests") or {}).items():
        m = vocab.MEASUREMENTS.get(test)
        if m is None or not m.pregnancy_test:
            raise ValueError(f"{path.name}: tests.{test} is not a pregnancy test of pmh")
        periods = tuple((int(a), int(b)) for a, b in spec["periods"])
        if any(not 0 <= a <= b <= vocab.GESTATIONAL_WEEKS.high for a, b in periods):
            raise ValueError(f"{path.name}: tests.{test}.periods are [from, to] weeks, "
                             f"0 <= from <= to <= {vocab.GESTATIONAL_WEEKS.high:g}")
        out[test] = Standard(test, spec["ja"], periods, spec["standard"])
    missing = {k for k, m in vocab.MEASUREMENTS.items() if m.pregnancy_test} - set(out)
    if missing:
        raise ValueError(f"{path.name}: no standard for {', '.join(sorted(missing))}")
    return out


def period_label(period: tuple[int, int]) -> str:
    a, b = period
    return f"{a}w-{b}w6d" if b < vocab.GESTATIONAL_WEEKS.high else f"{a}w-"


def assess(record: dict) -> tuple[Standard, tuple[int, int] | None] | None:
    """A pregnancy test record's standard and the period its gestational age falls in
    (None: outside every period); None when the record is not a pregnancy test."""
    m = vocab.MEASUREMENTS.get(record.get("measurement", ""))
    if m is None or not m.pregnancy_test or not isinstance(record.get("weeks"), int):
        return None
    standard = standards()[m.kind]
    return standard, standard.period_of(record["weeks"])


def notice(record: dict) -> dict | None:
    """What the clinic is told of a test taken outside its standard periods (accepted)."""
    found = assess(record)
    if found is None or found[1] is not None:
        return None
    standard, _ = found
    return {"observation": record["id"], "code": PmhCode.BLOOD_TEST_OUTSIDE_PERIOD,
            "measurement": standard.test,
            "standardPeriods": [period_label(p) for p in standard.periods],
            "standard": standard.text}
