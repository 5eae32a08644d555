"""Checkups across connectors: a clinic's app calls its own connector, which adds the visit
and its measurements to the municipality's datasets as signed contributions; the
municipality's rules use the voucher once, raise an EPDS follow-up within the day, and refuse
impossible values, a voucher used twice and a person it does not hold."""

from __future__ import annotations

import pytest

from connector.data.contributions import ContributionError
from domains.pmh import vocab
from domains.pmh.hub import growth as hub_growth
from domains.pmh.hub import vouchers
from domains.pmh.hub.api import CLINIC, NURSE
from tests.domains.pmh import family
from tests.domains.pmh.flows.support import (
    TOKYO_CLINIC,
    TOKYO_CLINIC_NUMBER,
    VOUCHER_6,
    clinic,
    municipality,
)

CHECKUP = {"subject": family.MOTHER, "encounterKind": "pregnancy_checkup",
           "start": "2026-06-01T10:00:00+09:00", "clinic": TOKYO_CLINIC,
           "payingMunicipality": family.CHIYODA, "voucher": family.VOUCHER}
MEASURED = [
    {"measurement": "gestational_age", "weeks": 25, "days": 3,
     "effective": "2026-06-01T10:05:00+09:00"},
    {"measurement": "body_weight", "value": 58.4, "effective": "2026-06-01T10:05:00+09:00"},
    {"measurement": "blood_pressure", "systolic": 118, "diastolic": 72,
     "effective": "2026-06-01T10:10:00+09:00"},
    {"measurement": "urine_protein", "grade": "negative",
     "effective": "2026-06-01T10:10:00+09:00"},
    {"measurement": "urine_glucose", "grade": "negative",
     "effective": "2026-06-01T10:10:00+09:00"},
    {"measurement": "oedema", "grade": "trace", "effective": "2026-06-01T10:15:00+09:00"},
    # Optional at some clinics: fundal height and abdominal circumference.
    {"measurement": "fundal_height", "value": 24.5, "effective": "2026-06-01T10:15:00+09:00"},
    {"measurement": "abdominal_circumference", "value": 86,
     "effective": "2026-06-01T10:15:00+09:00"},
    {"measurement": "fetal_heart_rate", "value": 142, "effective": "2026-06-01T10:20:00+09:00"},
]


@pytest.fixture
async def space(start_pmh):
    city = await municipality(start_pmh)
    tokyo = await clinic(start_pmh, city, number=TOKYO_CLINIC_NUMBER, name="つなぐ産婦人科")
    return city, tokyo


async def checkup(node, encounter=None, observations=MEASURED):
    return await node.call("POST", "checkups", {
        "municipality": "131016", "encounter": encounter or CHECKUP,
        "observations": observations}, CLINIC)


async def test_a_checkup_lands_at_the_municipality_attributed_and_the_voucher_used(space):
    city, tokyo = space
    status, body = await checkup(tokyo)
    assert status == 201, body
    visit = city.hub.own(body["encounter"])
    assert visit["wasAttributedTo"] == tokyo.did and visit["version"] == 1
    assert "wasDerivedFrom" not in visit
    assert visit["proof"]["verificationMethod"].startswith(city.did)  # the holder signs
    measured = [city.hub.own(o) for o in body["observations"]]
    assert [m["measurement"] for m in measured] == [m["measurement"] for m in MEASURED]
    assert {m["encounter"] for m in measured} == {visit["id"]}
    assert {m["wasAttributedTo"] for m in measured} == {tokyo.did}
    assert vouchers.used_by(city.connector.store, family.VOUCHER) == visit["id"]
    # The clinic's signed change is kept as evidence at the holder.
    assert city.connector.records.list(city.hub.municipality.dataset("encounters"))


async def test_a_voucher_is_used_once(space):
    city, tokyo = space
    assert (await checkup(tokyo))[0] == 201
    before = len(city.connector.records.list(city.hub.municipality.dataset("encounters")))
    status, body = await checkup(tokyo, observations=[])
    assert (status, body["code"], body["rule"]) == (403, "contribution.rule_violated",
                                                    "pmh.voucher_used")
    assert len(city.connector.records.list(city.hub.municipality.dataset("encounters"))) \
        == before
    status, body = await checkup(tokyo, {**CHECKUP, "voucher": VOUCHER_6}, [])  # the next one
    assert status == 201, body


@pytest.mark.parametrize("change, rule", [
    ({"voucher": None}, "pmh.voucher_required"),
    ({"voucher": "urn:uuid:0b6f4a4e-1c1e-4f0a-9e1a-00000000ffff"}, "pmh.voucher_invalid"),
    ({"encounterKind": "postpartum_checkup"}, "pmh.voucher_invalid"),  # a pregnancy voucher
    ({"start": "2027-02-01"}, "pmh.voucher_invalid"),  # after validUntil
    ({"subject": "urn:uuid:0b6f4a4e-1c1e-4f0a-9e1a-00000000eeee"}, "pmh.unknown_subject"),
])
async def test_the_municipality_refuses_with_the_rule(space, change, rule):
    city, tokyo = space
    encounter = {k: v for k, v in {**CHECKUP, **change}.items() if v is not None}
    status, body = await checkup(tokyo, encounter, [])
    assert (status, body["code"], body["rule"]) == (403, "contribution.rule_violated", rule)
    assert city.connector.records.list(city.hub.municipality.dataset("encounters")) == []
    assert vouchers.used_by(city.connector.store, family.VOUCHER) is None
    assert "山田" not in body["detail"]


@pytest.mark.parametrize("measurement", [
    {"measurement": "blood_pressure", "systolic": 500, "diastolic": 300},
    {"measurement": "gestational_age", "weeks": 60, "days": 0},
    {"measurement": "epds_total", "value": 31},
])
async def test_impossible_values_are_refused_by_the_clinic_and_by_the_holder(space,
                                                                             measurement):
    city, tokyo = space
    observation = {"effective": "2026-06-01T10:10:00+09:00", **measurement}
    status, body = await checkup(tokyo, observations=[observation])
    assert (status, body["code"]) == (422, "pmh.measurement_impossible")  # nothing sent
    assert city.connector.records.list(city.hub.municipality.dataset("encounters")) == []
    # A clinic that skips its own check is refused by the municipality's content rules.
    record = {"@context": list(vocab.RECORD_CONTEXT), "type": "Observation",
              "subject": family.MOTHER, **observation}
    agreement = tokyo.connector.agreements.active_as_consumer(
        city.hub.municipality.dataset("observations"))[0]
    with pytest.raises(ContributionError) as refused:
        await tokyo.connector.contributions.contribute(
            city.did, agreement, "urn:uuid:0b6f4a4e-1c1e-4f0a-9e1a-0000000000aa", 0, record,
            "health_checkup")
    assert (refused.value.code, refused.value.details["rule"]) == (
        "contribution.rule_violated", "pmh.measurement_impossible")
    assert city.connector.records.list(city.hub.municipality.dataset("observations")) == []
    assert refused.value.message.split("$.")[1].split(":")[0] in measurement  # the field
    assert f" {next(iter(v for k, v in measurement.items() if k != 'measurement'))} " \
        not in f" {refused.value.message} "  # never the value


async def test_an_epds_of_9_or_more_raises_a_follow_up_within_the_day(space):
    city, tokyo = space
    status, body = await checkup(
        tokyo, {**CHECKUP, "encounterKind": "pregnancy_checkup"},
        [{"measurement": "epds_total", "value": 12, "effective": "2026-06-01T10:30:00+09:00"}])
    assert status == 201, body
    status, listed = await city.call("GET", "follow-ups", None, NURSE)
    assert status == 200
    [follow] = listed["followUps"]
    assert (follow["subject"], follow["reason"], follow["clinic"]) == (
        family.MOTHER, "epds_total", tokyo.did)
    assert follow["dueBy"] == "2026-06-01T14:59:59Z"  # the end of the day, Japan time
    status, staff = await city.call("GET", "staff/events", None, NURSE)
    assert [e["type"] for e in staff["events"]] == ["pmh.epds.follow_up"]


async def test_an_epds_below_9_raises_nothing(space):
    city, tokyo = space
    status, _ = await checkup(tokyo, observations=[
        {"measurement": "epds_total", "value": 8, "effective": "2026-06-01T10:30:00+09:00"}])
    assert status == 201
    assert city.hub.follow_ups() == []


async def test_a_clinic_without_an_agreement_sends_nothing(space, start_pmh):
    city, _ = space
    stranger = await clinic(start_pmh, city, number="7000012050002", name="契約なし",
                            kinds=())
    status, body = await checkup(stranger)
    assert (status, body["code"]) == (403, "pmh.no_agreement")
    assert city.connector.records.list(city.hub.municipality.dataset("encounters")) == []


async def test_any_answer_on_item_10_raises_a_follow_up_whatever_the_total(space):
    city, tokyo = space
    without = {k: v for k, v in CHECKUP.items() if k != "voucher"}
    status, body = await checkup(tokyo, {**without, "encounterKind": "postpartum_checkup"}, [])
    # A postpartum checkup needs a postpartum voucher: the municipality issues one first.
    assert body["rule"] == "pmh.voucher_required"
    postpartum = "urn:uuid:0b6f4a4e-1c1e-4f0a-9e1a-000000000028"
    await city.hub.register("checkup-vouchers", family.voucher(
        id=postpartum, voucherKind="postpartum_checkup", sequence=1,
        voucherNumber="131016-P1"))
    status, body = await checkup(
        tokyo, {**CHECKUP, "encounterKind": "postpartum_checkup", "voucher": postpartum,
                "start": "2026-09-01T14:00:00+09:00"},
        [{"measurement": "epds_total", "value": 3, "epdsItem10": 1,
          "effective": "2026-09-01T14:20:00+09:00"}])
    assert status == 201, body
    [follow] = city.hub.follow_ups()
    assert (follow["reason"], follow["dueBy"]) == ("epds_item10", "2026-09-01T14:59:59Z")
    assert city.hub.own(body["observations"][0])["epdsItem10"] == 1


async def test_an_infant_checkup_uses_the_childs_voucher(space):
    city, tokyo = space
    one_month = "urn:uuid:0b6f4a4e-1c1e-4f0a-9e1a-000000000038"
    await city.hub.register("checkup-vouchers", family.voucher(
        id=one_month, subject=family.CHILD, voucherKind="infant_checkup_1m", sequence=1,
        voucherNumber="131016-I1", validFrom="2026-08-03", validUntil="2026-10-31"))
    visit = {"subject": family.CHILD, "encounterKind": "infant_checkup",
             "start": "2026-09-05", "clinic": TOKYO_CLINIC, "voucher": one_month}
    growth = [{"measurement": "body_weight", "value": 4.2, "effective": "2026-09-05"},
              {"measurement": "body_height", "value": 54.0, "effective": "2026-09-05"},
              {"measurement": "head_circumference", "value": 37.0,
               "effective": "2026-09-05"}]
    status, body = await checkup(tokyo, visit, growth)
    assert status == 201, body
    assert vouchers.used_by(city.connector.store, one_month) == body["encounter"]
    assert {city.hub.own(o)["subject"] for o in body["observations"]} == {family.CHILD}
    # The mother's pregnancy voucher cannot pay for her child's checkup.
    status, body = await checkup(tokyo, {**visit, "voucher": family.VOUCHER}, [])
    assert body["rule"] == "pmh.voucher_invalid"


async def test_an_infants_growth_is_placed_against_the_reference_with_its_edition(space):
    city, tokyo = space
    one_month = "urn:uuid:0b6f4a4e-1c1e-4f0a-9e1a-000000000039"
    await city.hub.register("checkup-vouchers", family.voucher(
        id=one_month, subject=family.CHILD, voucherKind="infant_checkup_1m", sequence=1,
        voucherNumber="131016-I1", validFrom="2026-08-03", validUntil="2026-10-31"))
    visit = {"subject": family.CHILD, "encounterKind": "infant_checkup",
             "start": "2026-09-05", "clinic": TOKYO_CLINIC, "voucher": one_month}
    # A girl of 33 days: weight between P50 and P75, a small head below P3.
    growth = [{"measurement": "body_weight", "value": 4.2, "effective": "2026-09-05"},
              {"measurement": "head_circumference", "value": 32.0,
               "effective": "2026-09-05"}]
    status, body = await checkup(tokyo, visit, growth)
    assert status == 201, body
    weight, head = body["observations"]
    placed = hub_growth.placements(city.connector.store, [weight, head])
    assert (placed[weight].band, placed[weight].edition) == ("P50–P75", "r5-2023")
    assert 50 < placed[weight].estimate < 75 and not placed[weight].follow_up
    assert (placed[head].band, placed[head].estimate, placed[head].follow_up) == (
        "<P3", None, True)
    # The nurse gets a notice for the head only (no diagnosis: the band and the edition).
    status, notices = await city.call("GET", "staff/events", None, NURSE)
    growth_notices = [e for e in notices["events"] if e["type"] == hub_growth.FOLLOW_UP]
    assert [(e["observation"], e["band"], e["edition"]) for e in growth_notices] == [
        (head, "<P3", "r5-2023")]
    # The clinic's signed record is not changed by it.
    assert "band" not in city.hub.own(head) and "percentile" not in str(city.hub.own(head))
    # Records held from before (or a new edition) are placed at startup, the notice once.
    with city.connector.store.transaction() as db:
        db.execute("DELETE FROM pmh_growth")
    city.hub._place_growth(city.hub.municipality)
    assert hub_growth.placements(city.connector.store, [weight, head]) == placed
    status, again = await city.call("GET", "staff/events", None, NURSE)
    assert len([e for e in again["events"] if e["type"] == hub_growth.FOLLOW_UP]) == 1


async def test_refusals_leave_nothing_of_the_person_in_the_logs(space, caplog):
    city, tokyo = space
    assert (await checkup(tokyo))[0] == 201
    caplog.clear()
    caplog.set_level("DEBUG")
    await checkup(tokyo, observations=[])  # the voucher again
    await checkup(tokyo, observations=[{"measurement": "blood_pressure", "systolic": 500,
                                        "diastolic": 300, "effective": "2026-06-01"}])
    await tokyo.call("POST", "vaccinations", {"municipality": "131016", "immunization": {
        "subject": family.CHILD, "vaccine": "bcg", "doseNumber": 1, "occurred": "2026-08-04",
        "clinic": TOKYO_CLINIC}}, CLINIC)
    logged = caplog.text + " ".join(str(r.__dict__) for r in caplog.records)
    assert "contribution refused" in logged  # the refusals were logged, by code
    for personal in ("山田", "花子", "ヤマダ", "1994-04-01", "2026-08-03", "一番町", "500/300"):
        assert personal not in logged


async def test_two_checkups_racing_for_one_voucher_one_lands(space):
    import asyncio

    city, tokyo = space
    results = await asyncio.gather(checkup(tokyo, observations=[]),
                                   checkup(tokyo, {**CHECKUP, "start": "2026-06-02"}, []))
    statuses = sorted(status for status, _ in results)
    assert statuses == [201, 403], results
    refused = next(body for status, body in results if status == 403)
    assert "pmh.voucher_used" in (refused.get("rule"), refused.get("cause")), refused
    assert len(city.connector.records.list(city.hub.municipality.dataset("encounters"))) == 1


async def test_a_clinic_reads_nothing_of_the_municipality(space):
    """The clinic's agreements are write-only: a transfer under one is refused, so no record
    of the municipality ever reaches the clinic."""
    city, tokyo = space
    assert (await checkup(tokyo))[0] == 201
    agreement = tokyo.connector.agreements.active_as_consumer(
        city.hub.municipality.dataset("encounters"))[0]
    started = await tokyo.connector.transfers.start(agreement)
    ended = await tokyo.connector.transfers.wait(started["pid"], "STARTED", "TERMINATED")
    assert (ended["state"], ended["code"]) == ("TERMINATED", "transfer.write_only"), ended
    assert tokyo.connector.store.query("SELECT count(*) FROM held_records")[0][0] == 0
