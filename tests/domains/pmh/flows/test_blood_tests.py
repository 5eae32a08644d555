"""Pregnancy blood tests through real connectors: a clinic records them with the checkup
they were taken at; the municipality stores each, a test outside its standard periods (告示
第226号) too, but marked: the clinic is told (a notice) and the dashboard counts it.
Impossible values are refused naming the field, nothing stored."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest

from domains.pmh.hub.api import CLINIC
from domains.pmh.views.pages import dashboard_sections
from domains.pmh.views.queries import overview
from tests.domains.pmh import family
from tests.domains.pmh.flows.support import (
    TOKYO_CLINIC,
    TOKYO_CLINIC_NUMBER,
    clinic,
    municipality,
)

VISIT = {"subject": family.MOTHER, "encounterKind": "pregnancy_checkup",
         "start": "2026-06-01T10:00:00+09:00", "clinic": TOKYO_CLINIC,
         "voucher": family.VOUCHER}
AT = "2026-06-01T10:20:00+09:00"


def taken(kind: str, weeks: int, **fields) -> dict:
    return {"measurement": kind, "weeks": weeks, "days": 0, "effective": AT, **fields}




@pytest.fixture
async def space(start_pmh):
    city = await municipality(start_pmh)
    tokyo = await clinic(start_pmh, city, number=TOKYO_CLINIC_NUMBER, name="つなぐ産婦人科")
    return city, tokyo


async def record(tokyo, observations):
    return await tokyo.call("POST", "checkups", {
        "municipality": "131016", "encounter": VISIT, "observations": observations}, CLINIC)


async def test_a_test_outside_its_period_is_stored_and_marked(space):
    city, tokyo = space
    status, body = await record(tokyo, [
        taken("hemoglobin", 10, value=11.6),
        taken("blood_group", 10, abo="A", rhD="positive"),
        taken("rubella_hi", 10, value=32),
        taken("gbs", 30, result="negative")])  # the standard is 33-37 weeks
    assert status == 201, body
    gbs = body["observations"][3]
    assert body["notices"] == [{
        "observation": gbs, "code": "pmh.blood_test_outside_period", "measurement": "gbs",
        "standardPeriods": ["33w-37w6d"],
        "standard": "B群溶血性レンサ球菌 妊娠33週から37週までの間に1回"}]
    assert city.hub.own(gbs)["result"] == "negative"  # accepted as the clinic wrote it
    seen = overview(city.connector.store, date(2026, 6, 1), datetime(2026, 6, 1, tzinfo=UTC))
    assert seen.blood_tests == [("blood_group", 1, 0), ("gbs", 1, 1), ("hemoglobin", 1, 0),
                                ("rubella_hi", 1, 0)]
    shown = str(dashboard_sections(seen, "ja")["blood_tests"])
    assert "B群溶血性レンサ球菌（腟分泌物）" in shown and 'class="alert">1<' in shown
    assert "Outside the standard period" in str(dashboard_sections(seen, "en")["blood_tests"])


@pytest.mark.parametrize("test, field", [
    (taken("hemoglobin", 10, value=40), "$.value"),
    (taken("rubella_hi", 10, value=20), "$.value"),
    (taken("hbs_antigen", 60, result="negative"), "$.weeks"),
])
async def test_impossible_values_are_refused_and_nothing_is_stored(space, test, field):
    city, tokyo = space
    status, body = await record(tokyo, [test])
    assert (status, body["code"], body["field"]) == (422, "pmh.measurement_impossible",
                                                     field), body
    assert not city.connector.records.list(city.hub.municipality.dataset("encounters"))
