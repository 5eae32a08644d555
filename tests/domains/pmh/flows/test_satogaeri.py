"""里帰り出産 across connectors: a clinic in Sapporo records a checkup for a 千代田区 mother;
the municipality receives it under its policy, the voucher is not usable there, and a
reimbursement claim opens with the cap, the deadline and eligibility by residence on the
checkup date; staff approve or reject it with a reason, and the family sees the status."""

from __future__ import annotations

from datetime import date

import pytest

from domains.pmh.hub import vouchers
from domains.pmh.hub.api import CLAIMS, CLINIC, FAMILY
from tests.domains.pmh import family
from tests.domains.pmh.flows.support import (
    SAPPORO_CLINIC,
    SAPPORO_CLINIC_NUMBER,
    clinic,
    municipality,
)

AWAY = {"subject": family.MOTHER, "encounterKind": "pregnancy_checkup",
        "start": "2026-07-20T09:30:00+09:00", "clinic": SAPPORO_CLINIC,
        "payingMunicipality": family.CHIYODA}
FAMILY_PEOPLE = [family.MOTHER, family.CHILD]


@pytest.fixture
async def space(start_pmh):
    city = await municipality(start_pmh)
    sapporo = await clinic(start_pmh, city, number=SAPPORO_CLINIC_NUMBER, name="さっぽろ母子",
                           kinds=("encounters", "observations"))
    return city, sapporo


async def record(node, encounter=AWAY):
    return await node.call("POST", "checkups", {
        "municipality": "131016", "encounter": encounter, "observations": [
            {"measurement": "blood_pressure", "systolic": 112, "diastolic": 70,
             "effective": "2026-07-20T09:40:00+09:00"}]}, CLINIC)


async def family_claims(city):
    status, body = await city.call("GET", "family/claims", None, FAMILY,
                                   subjects=FAMILY_PEOPLE)
    assert status == 200, body
    return body["claims"]


async def test_a_checkup_in_another_prefecture_opens_a_claim_the_municipality_approves(space):
    city, sapporo = space
    status, body = await record(sapporo)
    assert status == 201, body
    visit = city.hub.own(body["encounter"])
    assert visit["wasAttributedTo"] == sapporo.did  # received under the municipality's policy
    assert vouchers.used_by(city.connector.store, family.VOUCHER) is None
    [claim] = await family_claims(city)
    assert (claim["status"], claim["checkup_kind"], claim["checkup_date"]) == (
        "submitted", "pregnancy_checkup", "2026-07-20")
    assert (claim["cap_yen"], claim["deadline"], claim["eligible"]) == (5000, "2027-07-20",
                                                                        True)
    status, decided = await city.call("POST", "claims:decide",
                                      {"claim": claim["id"], "decision": "approve"}, CLAIMS)
    assert (status, decided["status"]) == (200, "approved"), decided
    [seen] = await family_claims(city)
    assert seen["status"] == "approved"
    status, events = await city.call("GET", "family/events", None, FAMILY,
                                     subjects=FAMILY_PEOPLE)
    assert [e["type"] for e in events["events"]] == ["pmh.claim.submitted",
                                                     "pmh.claim.approved"]
    # Decided once: a second decision is refused.
    status, again = await city.call("POST", "claims:decide", {
        "claim": claim["id"], "decision": "reject", "reason": "重複"}, CLAIMS)
    assert (status, again["code"]) == (409, "pmh.claim_decided")


async def test_a_rejection_needs_a_reason_and_the_family_sees_it(space):
    city, sapporo = space
    assert (await record(sapporo))[0] == 201
    [claim] = await family_claims(city)
    status, body = await city.call("POST", "claims:decide",
                                   {"claim": claim["id"], "decision": "reject"}, CLAIMS)
    assert (status, body["code"]) == (400, "input.invalid")
    status, body = await city.call("POST", "claims:decide", {
        "claim": claim["id"], "decision": "reject",
        "reason": "領収書の添付がありません"}, CLAIMS)
    assert (status, body["status"]) == (200, "rejected"), body
    [seen] = await family_claims(city)
    assert (seen["status"], seen["reason"]) == ("rejected", "領収書の添付がありません")
    # Another family sees no claim; the claims route needs its scope.
    status, other = await city.call("GET", "family/claims", None, FAMILY,
                                    subjects=["urn:uuid:someone-else"])
    assert other["claims"] == []
    status, _ = await city.call("GET", "claims", None, FAMILY, subjects=FAMILY_PEOPLE)
    assert status == 403


async def test_eligibility_follows_residence_on_the_checkup_date(space):
    city, sapporo = space
    # The mother moved in on 2025-01-01: a checkup dated before that is not eligible.
    status, _ = await record(sapporo, {**AWAY, "start": "2024-12-20"})
    assert status == 201
    [claim] = await family_claims(city)
    assert claim["eligible"] is False and claim["status"] == "submitted"


async def test_the_home_voucher_is_not_usable_in_another_prefecture(space):
    city, sapporo = space
    status, body = await record(sapporo, {**AWAY, "voucher": family.VOUCHER})
    assert (status, body["rule"]) == (403, "pmh.voucher_invalid"), body
    assert "償還払い" in body["detail"]
    assert await family_claims(city) == []


def test_claim_deadlines_count_as_the_civil_code_does():
    from domains.pmh.hub.claims import deadline

    assert deadline(date(2026, 7, 20), 12) == date(2027, 7, 20)
    assert deadline(date(2026, 8, 31), 6) == date(2027, 2, 28)  # no 31st: the month's end
    assert deadline(date(2027, 8, 31), 6) == date(2028, 2, 29)
