"""Grade checks: each result against its limit with the JIS clause, heat numbers, unit slips.
Failures flag; they do not refuse."""

from __future__ import annotations

import pytest

from domains.steel.certificate import to_record
from domains.steel.grades import grades
from tests.domains.steel.certs import example, jis


def failures(document):
    record = to_record(document)
    return record["flagged"], {c["path"].rsplit("/", 1)[1]: c for c in record["checks"]
                               if c["status"] == "fail"}


def test_a_good_ss400_plate_passes_every_check():
    flagged, failed = failures(jis())
    assert not flagged and failed == {}


def test_the_six_jis_grades_are_held_with_japanese_labels():
    held = grades()
    for name, standard in (("SS400", "JIS G 3101"), ("SM490A", "JIS G 3106"),
                           ("SPHC", "JIS G 3131"), ("SPCC", "JIS G 3141"),
                           ("SN400B", "JIS G 3136"), ("STK400", "JIS G 3444")):
        assert held[name].standard == standard and name in held[name].label_ja


def test_phosphorus_over_the_limit_fails_with_limit_and_clause():
    flagged, failed = failures(jis(chemistry={"C": "0.15", "P": "0.060", "S": "0.010"}))
    assert flagged
    assert failed["C72"]["limit"] == "<= 0.05" and failed["C72"]["clause"].startswith(
        "JIS G 3101") and failed["C72"]["code"] == "steel.grade_limit"


@pytest.mark.parametrize("thickness, yield_point, ok", [
    (12, 245, True), (12, 240, False), (20, 236, True), (20, 234, False), (50, 215, True),
])
def test_yield_point_by_thickness_band(thickness, yield_point, ok):
    flagged, failed = failures(jis(thickness=thickness, tensile={"C11": {"Value": yield_point}}))
    assert ("C11" not in failed) is ok


def test_tensile_strength_above_the_range_fails():
    _, failed = failures(jis(tensile={"C12": {"Value": 530}}))
    assert failed["C12"]["limit"] == ">= 400 and <= 510"


def test_a_strength_in_kgf_per_mm2_is_a_unit_slip():
    _, failed = failures(jis(tensile={"C12": {"Value": 45}}))
    assert failed["C12"]["code"] == "steel.unit_slip"
    _, failed = failures(jis(tensile={"C12": {"Value": 45, "Unit": "kgf/mm2"}}))
    assert failed["C12"]["code"] == "steel.unit_slip"


def test_the_public_example_with_150_percent_carbon_is_flagged_as_a_unit_slip():
    flagged, failed = failures(example("valid_certificate_1"))
    assert flagged and failed["C71"]["code"] == "steel.unit_slip"


def test_a_heat_number_missing_from_b07_is_flagged():
    document = jis(heat="H1")
    document["Certificate"]["Inspection"]["C00"] = "H2"
    _, failed = failures(document)
    assert failed["C00"]["code"] == "steel.heat_mismatch"


def test_sn400b_requires_charpy_above_12_mm():
    _, failed = failures(jis("SN400B", thickness=20))
    assert failed["C43"]["limit"].startswith(">= 27")
    _, failed = failures(jis("SN400B", thickness=20, charpy=40))
    assert "C43" not in failed


def test_unverified_limits_say_so():
    record = to_record(jis("SM490A"))
    assert all(c["verified"] is False for c in record["checks"] if "clause" in c)


def test_elongation_uses_the_test_piece_the_certificate_names():
    # SS400, 45 mm: the 1A号 band (>= 21) and the 4号 band (>= 23) both apply.
    named = {"C13": {"Value": 22, "Property": "伸び 4号試験片"}}
    _, failed = failures(jis(thickness=45, tensile=named))
    assert failed["C13"]["limit"] == ">= 23"
    _, failed = failures(jis(thickness=45, tensile={"C13": {"Value": 22}}))
    assert "C13" not in failed  # no piece named: the laxest band


def test_without_a_thickness_in_mm_a_banded_limit_is_unchecked_not_passed():
    document = jis()
    document["Certificate"]["ProductDescription"]["B09"]["Unit"] = "in"
    statuses = {c["property"]: c["status"] for c in to_record(document)["checks"]}
    assert statuses["yield_point"] == statuses["elongation"] == "unchecked"
    assert statuses["tensile_strength"] == "pass"  # not banded
