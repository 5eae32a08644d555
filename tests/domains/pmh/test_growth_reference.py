"""The growth reference file (令和5年乳幼児身体発育調査, transcribed) and the placement of a
measurement against it."""

from __future__ import annotations

import json
from datetime import date
from importlib import resources

import pytest

from domains.pmh import growth_reference as g

RAW = json.loads(resources.files("domains.pmh").joinpath("growth_reference.json")
                 .read_text(encoding="utf-8"))


def _bands():
    for measure, bands in RAW["measures"].items():
        for band in bands:
            for sex in ("male", "female"):
                yield measure, band["key"], sex, band[sex]


def test_each_band_and_sex_has_seven_increasing_values() -> None:
    seen = 0
    for measure, key, sex, values in _bands():
        assert len(values) == 7, (measure, key, sex)
        assert all(a < b for a, b in zip(values, values[1:], strict=False)), \
            (measure, key, sex, values)
        seen += 1
    # weight and height: birth, day 30, 1-12 months, 1y-6y6m by half years; head to 3y
    assert seen == 2 * (24 + 24 + 17)


def test_the_file_names_its_source_licence_and_transcription() -> None:
    assert RAW["survey"]["year"] == 2023 and RAW["survey"]["published"] == "2024-12-25"
    assert RAW["survey"]["page"] == "https://www.mhlw.go.jp/toukei/list/73-22b.html"
    assert {t["id"] for t in RAW["tables"].values()} == {
        "000040240361", "000040240362", "000040240363"}
    assert RAW["licence"]["attribution"] == (
        "出典：厚生労働省「令和5年乳幼児身体発育調査」（e-Stat）")
    assert "2.0" in RAW["licence"]["terms"] and "CC BY 4.0" in RAW["licence"]["terms"]
    assert RAW["transcription"]["commit"] == "1a6c59f18fb593e37501601b2e25960df364e748"
    assert RAW["percentiles"] == [3, 10, 25, 50, 75, 90, 97]


@pytest.mark.parametrize(("measure", "key", "sex", "index", "value"), [
    ("weight", "birth", "male", 3, 3.06),        # boys' birth weight P50
    ("weight", "y1_00_06", "female", 3, 9.12),   # girls 1歳0〜6か月未満 P50
    ("weight", "d30", "female", 0, 3.05),
    ("weight", "y6_00_06", "female", 6, 27.01),
    ("height", "birth", "female", 6, 52.0),
    ("height", "m05_06", "female", 2, 63.2),
    ("height", "y3_00_06", "male", 6, 100.8),
    ("head", "birth", "male", 0, 31.1),
    ("head", "y2_06_12", "female", 3, 48.7),
])
def test_spot_checks_against_the_transcription(measure: str, key: str, sex: str, index: int,
                                               value: float) -> None:
    band = next(b for b in RAW["measures"][measure] if b["key"] == key)
    assert band[sex][index] == value


def test_a_value_on_a_curve_is_that_percentile() -> None:
    assert g.place("male", "weight", 0, 3.06) == g.Placement("P50–P75", 50.0, False, "r5-2023")
    # 1歳0〜6か月未満 stands at 15 months
    assert g.place("female", "weight", 15, 9.12).estimate == 50.0
    assert g.place("female", "weight", 15, 7.49).band == "P3–P10"


def test_between_curves_the_estimate_is_linear() -> None:
    # birth, boys: P25 2.80, P50 3.06 -> 2.93 is halfway
    placed = g.place("male", "weight", 0, 2.93)
    assert placed.band == "P25–P50" and placed.estimate == pytest.approx(37.5)


def test_between_band_mid_ages_the_curves_are_linear() -> None:
    # 1-2か月未満 at 1.5 months (P50 4.80), 2-3か月未満 at 2.5 (P50 5.80): 2.0 -> 5.30
    assert g.curves_at("male", "weight", 2.0)[3] == pytest.approx(5.30)


def test_outside_p3_p97_is_marked_for_follow_up_without_estimate() -> None:
    low = g.place("female", "height", 0, 44.4)
    high = g.place("female", "height", 0, 52.1)
    assert (low.band, low.estimate, low.follow_up) == ("<P3", None, True)
    assert (high.band, high.estimate, high.follow_up) == (">P97", None, True)
    assert not g.place("female", "height", 0, 44.5).follow_up  # P3 itself is inside


def test_ages_the_reference_does_not_cover_are_not_guessed() -> None:
    assert g.place("male", "weight", -0.1, 3.0).band == g.OUTSIDE
    assert g.place("male", "weight", 75.1, 20.0).band == g.OUTSIDE  # last anchor 6y0-6m
    assert g.place("male", "head", 34, 50.0) == g.Placement(g.OUTSIDE, None, False, "r5-2023")
    assert g.place("male", "head", 33, 49.5).band == "P50–P75"


def test_age_in_months_from_dates() -> None:
    assert g.age_months(date(2026, 1, 1), date(2026, 1, 31)) == pytest.approx(30 / 30.4375)
    # day 30 is the reference's own point
    months = g.age_months(date(2026, 1, 1), date(2026, 1, 31))
    assert g.place("male", "weight", months, 4.15).estimate == 50.0


def test_bad_sex_or_measure_is_refused_by_name() -> None:
    with pytest.raises(ValueError, match="sex must be 'male' or 'female', not 'unknown'"):
        g.place("unknown", "weight", 3, 6.0)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="no measure 'bmi'"):
        g.place("male", "bmi", 3, 6.0)
