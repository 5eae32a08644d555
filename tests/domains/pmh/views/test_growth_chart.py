"""The growth chart's reference bands and the table's band column (pure markup)."""

from __future__ import annotations

from domains.pmh import growth_reference as ref
from domains.pmh.views import growth

POINTS = [(1.08, 4.2, "2026-09-05"), (3.58, 6.1, "2026-11-20")]


def test_the_bands_are_drawn_behind_the_points_for_the_childs_sex() -> None:
    curves = growth.reference_curves("female", "weight", 12.0)
    assert curves[0] == (0.0, ref.curves_at("female", "weight", 0.0))
    assert len(curves) == growth.SAMPLES + 1  # the reference covers 0-12 months
    svg = str(growth.growth_svg(POINTS, "en", what="Weight (kg)", chart_id="w0",
                                curves=curves))
    assert svg.index('class="band-outer"') < svg.index('class="dots"')  # behind
    assert "50th percentile line" in svg  # said in the text alternative too


def test_no_bands_for_a_sex_the_reference_lacks_nor_past_its_ages() -> None:
    assert growth.reference_curves("unknown", "weight", 12.0) == []
    head = growth.reference_curves("male", "head", 48.0)  # head to 2y9m only
    assert max(a for a, _ in head) <= 33.0
    svg = str(growth.growth_svg(POINTS, "ja", what="体重", chart_id="w0"))
    assert "band-outer" not in svg and "パーセンタイル" not in svg


def test_the_table_says_each_band_and_marks_one_outside_p3_p97() -> None:
    placed = [ref.place("female", "weight", 1.08, 4.2), ref.place("female", "weight", 3.58,
                                                                  3.0)]
    table = str(growth.growth_table(POINTS, "ja", "体重", placed))
    assert "P50–P75（推定P" in table
    assert '<span class="follow">&lt;P3 （確認）</span>' in table
    english = str(growth.growth_table(POINTS, "en", "Weight", [None, ref.place(
        "female", "weight", 80.0, 20.0)]))
    assert "<td>—</td>" in english and "outside the reference&#x27;s ages" in english
