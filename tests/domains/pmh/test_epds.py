"""EPDS in the model: the total (0-30) and item 10 (0-3, self-harm) on one Observation,
through FHIR and back, and the follow-up rule the municipality's hub applies."""

from __future__ import annotations

import pytest

from domains.pmh.errors import PmhInputError
from domains.pmh.fhir.bundle import export_bundle, import_bundle
from domains.pmh.hub.followups import due_by, needs_follow_up
from domains.pmh.model.checks import check_record
from tests.domains.pmh import family


def epds(**fields) -> dict:
    record = family.observation(**{"measurement": "epds_total", "value": 7, **fields})
    for key in ("systolic", "diastolic"):
        record.pop(key)
    return record


def test_item_10_survives_the_fhir_round_trip_as_a_component():
    records = [family.mother(), family.encounter(), family.voucher(), epds(epdsItem10=2)]
    bundle = export_bundle(records)
    [observation] = [e["resource"] for e in bundle["entry"]
                     if e["resource"]["resourceType"] == "Observation"]
    assert observation["valueInteger"] == 7
    assert observation["component"][0]["valueInteger"] == 2
    assert observation["component"][0]["code"]["coding"][0]["code"] == "epds-item-10"
    back = {r["id"]: r for r in import_bundle(bundle)}
    assert back[epds()["id"]]["epdsItem10"] == 2


@pytest.mark.parametrize("fields, path", [
    ({"epdsItem10": 4}, "$.epdsItem10"),
    ({"epdsItem10": -1}, "$.epdsItem10"),
    ({"value": 31}, "$.value"),
])
def test_impossible_answers_are_refused_naming_the_field(fields, path):
    with pytest.raises(PmhInputError) as refused:
        check_record(epds(**fields))
    assert (refused.value.code, refused.value.field) == ("pmh.measurement_impossible", path)


def test_item_10_belongs_to_an_epds_total_only():
    record = {**family.observation(), "epdsItem10": 1}
    with pytest.raises(PmhInputError) as refused:
        check_record(record)
    assert refused.value.field == "$.epdsItem10"


@pytest.mark.parametrize("total, item10, reason", [
    (8, None, None), (8, 0, None), (9, None, "epds_total"), (30, 0, "epds_total"),
    (0, 1, "epds_item10"), (12, 3, "epds_item10"),
])
def test_the_follow_up_rule(total, item10, reason):
    assert needs_follow_up(total, item10) == reason


def test_a_follow_up_is_due_by_the_end_of_the_day_in_japan():
    from datetime import date

    assert due_by(date(2026, 6, 1)) == "2026-06-01T14:59:59Z"
    assert due_by(date(2026, 12, 31)) == "2026-12-31T14:59:59Z"
