"""Check-in and check-out across connectors: a shelter operator's app calls its own connector,
which contributes stayLocation to the municipality's Evacuee record; the municipality's hub
puts it into the registry in the same transaction. Refusals: outside the policy (phase over,
another field, an operator outside the region) and against the domain's rules (unknown or
closed shelter, checking out of a shelter the person is not in)."""

from __future__ import annotations

import pytest

from connector.data.contributions import ContributionError
from domains.bosai.api import CHECKIN
from domains.bosai.setup import EVACUEE
from tests.domains.bosai.dashboard_support import SITES, load_sites, load_status, person
from tests.domains.bosai.flows.support import (
    CHIYODA,
    OPERATOR_NUMBER,
    OTHER_OPERATOR_NUMBER,
    BosaiNode,
)

OPEN, OTHER, CLOSED = SITES  # 番町小学校, 九段ホール, 富士見中学校 (closed below)


@pytest.fixture
async def space(start_bosai, tmp_path) -> dict[str, BosaiNode]:
    city = await start_bosai(name="千代田区", legal_id=CHIYODA.code, role="municipality")
    await city.hub.setup_municipality(CHIYODA, operators=[OPERATOR_NUMBER])
    load_sites(city.hub, tmp_path, SITES)
    load_status(city.hub, tmp_path, [
        {"shelter_id": OPEN.id, "open": "開設", "timestamp": "2024/4/30 6:00"},
        {"shelter_id": OTHER.id, "open": "開設", "timestamp": "2024/4/30 6:00"},
        {"shelter_id": CLOSED.id, "open": "閉鎖", "timestamp": "2024/4/30 6:00"}])
    operator = await start_bosai(name="避難所運営", legal_id=OPERATOR_NUMBER,
                                 role="shelter_operator")
    done = await operator.agree(city, city.hub.setup.dataset(EVACUEE))
    assert done["state"] == "FINALIZED", done
    return {"city": city, "operator": operator}


async def registered(city: BosaiNode, operator: BosaiNode) -> str:
    result = await city.hub.register(
        person("山田", "花子", ("ヤマダ", "ハナコ"), "1950-04-01", stay="home"),
        source="reception:form", by="staff-1")
    assert await operator.held(result.person_id) is not None
    return result.person_id


async def check(operator: BosaiNode, record: str, action: str, shelter: str,
                **extra: str) -> tuple[int, dict]:
    return await operator.post("checkins", {"record": record, "action": action,
                                            "shelterId": shelter, **extra}, CHECKIN)


async def test_a_check_in_reaches_the_registry_with_who_and_when(space):
    city, operator = space["city"], space["operator"]
    pid = await registered(city, operator)
    seq = city.hub.feed.seq
    status, body = await check(operator, pid, "check_in", OPEN.id,
                               at="2024-04-30T06:10:00+09:00")
    assert status == 200, body
    assert body["version"] == 2 and body["record"] == pid

    person = city.hub.registry.get_person(pid)
    assert person.stay.stay_type == "shelter" and person.stay.shelter_id == OPEN.id
    assert person.stay.checked_in == "2024-04-29T21:10:00Z"
    assert person.stay_updated_by == operator.did
    assert city.hub.feed.seq > seq  # open dashboards re-render
    record = city.hub.publisher.records.get(pid)
    assert record["wasAttributedTo"] == operator.did and record["wasDerivedFrom"] == f"{pid}#v1"
    history = city.hub.registry.stay_history(pid)
    assert [(h["stayType"], h["shelterId"], h["by"]) for h in history] == [
        ("home", None, "staff-1"), ("shelter", OPEN.id, operator.did)]
    # The operator's copy follows (its transfer delivers the version it made).
    assert (await operator.held(pid, 2))["stayLocation"]["shelterId"] == OPEN.id


async def test_moving_between_shelters_keeps_one_person_and_check_out_ends_the_stay(space):
    city, operator = space["city"], space["operator"]
    pid = await registered(city, operator)
    assert (await check(operator, pid, "check_in", OPEN.id))[0] == 200
    assert (await check(operator, pid, "check_in", OTHER.id))[0] == 200  # a move
    status, body = await check(operator, pid, "check_out", OTHER.id, goingTo="relatives")
    assert status == 200, body
    assert city.hub.registry.count() == 1
    stay = city.hub.registry.get_person(pid).stay
    assert (stay.stay_type, stay.checked_out_of) == ("relatives", OTHER.id)
    assert [h["shelterId"] for h in city.hub.registry.stay_history(pid)] == [
        None, OPEN.id, OTHER.id, None]
    assert len(city.hub.publisher.records.versions(pid)) == 4


@pytest.mark.parametrize("shelter, action, rule", [
    (CLOSED.id, "check_in", "bosai.shelter_closed"),
    ("131016-999", "check_in", "bosai.shelter_unknown"),
    (OTHER.id, "check_out", "bosai.not_checked_in"),
])
async def test_domain_rules_refuse_with_their_reason(space, shelter, action, rule):
    city, operator = space["city"], space["operator"]
    pid = await registered(city, operator)
    if action == "check_out":
        assert (await check(operator, pid, "check_in", OPEN.id))[0] == 200
    before = city.hub.publisher.records.get(pid)["version"]
    status, body = await check(operator, pid, action, shelter)
    assert (status, body["code"], body["rule"]) == (403, "contribution.rule_violated", rule)
    assert city.hub.publisher.records.get(pid)["version"] == before  # nothing written
    assert "山田" not in body["detail"]


async def test_outside_the_disaster_phase_the_check_in_is_refused_with_the_reason(space):
    city, operator = space["city"], space["operator"]
    pid = await registered(city, operator)
    city.connector.facts.set("disasterPhase", "recovery")  # the municipality's word counts
    status, body = await check(operator, pid, "check_in", OPEN.id)
    assert (status, body["code"]) == (403, "contribution.denied")
    assert "disasterPhase" in body["detail"]
    assert city.hub.registry.get_person(pid).stay.stay_type == "home"


async def test_only_stay_location_may_be_contributed(space):
    city, operator = space["city"], space["operator"]
    pid = await registered(city, operator)
    copy = await operator.held(pid)
    agreement = operator.connector.store.query(
        "SELECT agreement_id FROM held_records WHERE id = ?", (pid,))[0][0]
    with pytest.raises(ContributionError) as caught:
        await operator.connector.contributions.contribute(
            city.did, agreement, pid, copy["version"], {"address": "どこか"}, "shelter_operation")
    assert caught.value.code == "contribution.field_not_allowed"
    with pytest.raises(ContributionError) as caught:  # a stay that is not a check-in
        await operator.connector.contributions.contribute(
            city.did, agreement, pid, copy["version"], {"stayLocation": {"stayType": "vehicle"}},
            "shelter_operation")
    assert (caught.value.code, caught.value.details["rule"]) == (
        "contribution.rule_violated", "bosai.not_a_check_in")


async def test_an_operator_outside_the_region_cannot_agree(space, start_bosai):
    city = space["city"]
    stranger = await start_bosai(name="他地域の運営者", legal_id=OTHER_OPERATOR_NUMBER,
                                 role="shelter_operator")
    done = await stranger.agree(city, city.hub.setup.dataset(EVACUEE))
    assert done["state"] == "TERMINATED"


async def test_the_check_in_route_needs_its_scope_and_a_held_record(space):
    operator = space["operator"]
    status, body = await operator.post("checkins", {"record": "urn:uuid:x", "action":
                                                    "check_in", "shelterId": OPEN.id})
    assert (status, body["code"]) == (401, "auth.missing")
    status, body = await check(operator, "urn:uuid:00000000-0000-7000-8000-000000000000",
                               "check_in", OPEN.id)
    assert (status, body["code"]) == (404, "bosai.record_not_held")


async def test_the_operator_finds_the_person_by_name_and_birth_date(space):
    city, operator = space["city"], space["operator"]
    pid = await registered(city, operator)
    status, body = await operator.post("evacuees:find", {"name": "やまだ はなこ",
                                                         "birthDate": "昭和25年4月1日"}, CHECKIN)
    assert status == 200 and [p["record"] for p in body["people"]] == [pid]
    assert "address" not in body["people"][0]
    status, body = await operator.post("evacuees:find", {"name": "山田花子",
                                                         "birthDate": "1950-04-02"}, CHECKIN)
    assert body["people"] == []
