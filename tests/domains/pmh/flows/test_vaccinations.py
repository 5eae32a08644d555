"""Vaccinations across connectors, checked with the routine schedule at the municipality,
and the reminders the municipality raises for the family on the day a dose becomes due."""

from __future__ import annotations

from datetime import date

import pytest

from domains.pmh.hub.api import CLINIC, FAMILY
from tests.domains.pmh import family
from tests.domains.pmh.flows.support import (
    TOKYO_CLINIC,
    TOKYO_CLINIC_NUMBER,
    clinic,
    municipality,
)

# The synthetic child was born 2026-08-03 (female): she reaches 2 months on 2026-10-02.
FIRST = {"subject": family.CHILD, "vaccine": "dpt_ipv_hib", "doseNumber": 1,
         "series": "1期初回", "lotNumber": "AB123C", "occurred": "2026-10-05",
         "clinic": TOKYO_CLINIC}


@pytest.fixture
async def space(start_pmh):
    city = await municipality(start_pmh)
    tokyo = await clinic(start_pmh, city, number=TOKYO_CLINIC_NUMBER, name="つなぐ小児科")
    return city, tokyo


async def vaccinate(node, **dose):
    return await node.call("POST", "vaccinations", {
        "municipality": "131016", "immunization": {**FIRST, **dose}}, CLINIC)


async def test_a_dose_in_its_window_lands_attributed_to_the_clinic(space):
    city, tokyo = space
    status, body = await vaccinate(tokyo)
    assert status == 201, body
    held = city.hub.own(body["immunization"])
    assert held["wasAttributedTo"] == tokyo.did
    assert (held["vaccine"], held["doseNumber"]) == ("dpt_ipv_hib", 1)
    # The second dose 20 days later is too soon (27 clear days), on day 28 it is allowed.
    status, body = await vaccinate(tokyo, doseNumber=2, occurred="2026-10-25")
    assert (status, body["rule"]) == (403, "pmh.dose_too_soon"), body
    status, body = await vaccinate(tokyo, doseNumber=2, occurred="2026-11-02")
    assert status == 201, body
    assert [d["doseNumber"] for d in city.hub.immunizations_of(family.CHILD)] == [1, 2]


@pytest.mark.parametrize("dose, rule", [
    ({"occurred": "2026-09-20"}, "pmh.dose_outside_window"),  # 1 month old
    ({"doseNumber": 2}, "pmh.dose_not_in_series"),  # no first dose yet
    ({"vaccine": "mr", "series": None, "occurred": "2027-08-05"}, "pmh.dose_not_in_series"),
    ({"subject": family.MOTHER}, "pmh.unknown_subject"),  # vaccinations are the child's
])
async def test_doses_the_schedule_refuses_are_not_stored(space, dose, rule):
    city, tokyo = space
    immunization = {k: v for k, v in {**FIRST, **dose}.items() if v is not None}
    status, body = await tokyo.call("POST", "vaccinations", {
        "municipality": "131016", "immunization": immunization}, CLINIC)
    assert (status, body["code"], body["rule"]) == (403, "contribution.rule_violated", rule)
    assert city.hub.immunizations_of(family.CHILD) == []


async def test_reminders_are_raised_once_on_the_day_a_dose_becomes_due(space):
    city, _ = space
    # Nothing is due on an ordinary day; on 2026-10-02 (2 months) the 2-month doses are.
    assert city.hub.remind(date(2026, 9, 30)) == 0
    raised = city.hub.remind(date(2026, 10, 2))
    assert raised >= 3  # 五種混合, 小児用肺炎球菌, B型肝炎 at least
    assert city.hub.remind(date(2026, 10, 2)) == 0  # once per day and dose
    status, body = await city.call("GET", "family/events", None, FAMILY,
                                   subjects=[family.MOTHER, family.CHILD])
    assert status == 200
    due = [e for e in body["events"] if e["type"] == "pmh.vaccination.due"]
    assert len(due) == raised and {e["subject"] for e in due} == {family.CHILD}
    assert {e["day"] for e in due} == {"2026-10-02"} and all(e["text_ja"] for e in due)
    # Another family's token sees none of them; a token without subjects is refused.
    status, other = await city.call("GET", "family/events", None, FAMILY,
                                    subjects=["urn:uuid:someone-else"])
    assert (status, other["events"]) == (200, [])
    status, body = await city.call("GET", "family/events", None, FAMILY)
    assert (status, body["code"]) == (403, "auth.scope")
