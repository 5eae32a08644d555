"""Residents' rights over the real app API and the SDK: who may act for a person, and what a
refusal leaves behind (nothing changed, the attempt audited). People are synthetic."""

from __future__ import annotations

from urllib.parse import quote

import pytest

from connector.api.sdk import ApiError, TsunaguClient
from connector.plugins.registry import dataset_schema
from connector.protocol.dsp import messages as m
from tests.api.conftest import Api
from trust import jsonld
from trust.errors import ValidationError

EVACUEES = "urn:tsunagu:test:dataset:evacuees"
HANAKO = "urn:example:sendai:evacuee:0001"
TARO = "urn:example:sendai:evacuee:0002"
OFFER = m.offer("urn:tsunagu:test:offer:read", permission=[
    m.rule("use", [m.constraint("odrl:purpose", "eq", "disaster_response")])])


def evacuee(record_id: str, family: str, given: str) -> dict:
    return {"@context": [jsonld.CREDENTIALS_V2, jsonld.TSUNAGU_V1,
                         "https://w3id.org/tsunagu/bosai/v1"],
            "id": record_id, "type": "Evacuee", "familyName": family, "givenName": given,
            "birthDate": "1952-04-01", "sex": "female",
            "address": "宮城県仙台市青葉区一番町1-1", "consentToDisclose": True}


@pytest.fixture
async def city(api: Api) -> Api:
    c = api.connector
    await c.datasets.offer_dataset(EVACUEES, "避難者名簿", [OFFER], dataset_schema("evacuee"))
    await c.records.publish(EVACUEES, evacuee(HANAKO, "山田", "花子"))
    await c.records.publish(EVACUEES, evacuee(TARO, "佐藤", "太郎"))
    return api


def person_token(api: Api, subject: str) -> str:
    return api.tokens.issue(["residents:self"], subjects=[subject]).token


def path(subject: str, what: str) -> str:
    return f"/api/v1/residents/{quote(subject, safe='')}/{what}"


def count(api: Api, table: str) -> int:
    return api.connector.store.query(f"SELECT count(*) FROM {table}")[0][0]


@pytest.fixture
async def clients():
    made: list[TsunaguClient] = []

    def make(api: Api, token: str) -> TsunaguClient:
        made.append(TsunaguClient(api.url, token))
        return made[-1]

    yield make
    for client in made:
        await client.close()


async def test_the_person_corrects_staff_decide_and_the_person_sees_the_outcome(city, clients):
    hanako = clients(city, person_token(city, HANAKO))
    staff = clients(city, city.token("records:write"))
    asked = await hanako.request_correction(HANAKO, HANAKO, "address",
                                            "宮城県仙台市青葉区二番町2-2", "転居しました")
    assert asked.status == "pending"
    assert [c.id for c in await staff.corrections(status="pending")] == [asked.id]
    decided = await staff.decide_correction(asked.id, True)
    assert (decided.status, decided.version) == ("accepted", 2)
    assert city.connector.records.get(HANAKO)["address"] == "宮城県仙台市青葉区二番町2-2"
    with pytest.raises(ApiError) as again:
        await staff.decide_correction(asked.id, False, "二重")
    assert (again.value.status, again.value.code) == (409, "correction.decided")

    second = await hanako.request_correction(HANAKO, HANAKO, "givenName", "華子", "字の誤り")
    with pytest.raises(ApiError) as no_reason:
        await staff.decide_correction(second.id, False)
    assert no_reason.value.code == "input.invalid"
    await staff.decide_correction(second.id, False, "戸籍の記載と一致しています")
    seen = await hanako.corrections(HANAKO)
    assert [(c.status, c.decision_reason) for c in seen] == [
        ("accepted", None), ("refused", "戸籍の記載と一致しています")]


@pytest.mark.parametrize("scopes, subjects", [
    (["residents:self"], [TARO]),  # another person's own app
    (["records:read", "records:write"], None),  # an app, not the person, not assisting
    (["records:read"], [HANAKO]),  # an app reading about the person is not the person
])
async def test_anyone_but_the_person_or_staff_is_refused_changing_nothing_audited(
        city, scopes, subjects):
    token = city.tokens.issue(scopes, subjects=subjects)
    before = (count(city, "corrections"), count(city, "consent_withdrawals"))
    attempts = [
        ("POST", path(HANAKO, "corrections"), {"record": HANAKO, "field": "address",
                                                "value": "どこか", "reason": "なりすまし"}),
        ("POST", path(HANAKO, "consent-withdrawals"), {}),
        ("GET", path(HANAKO, "disclosure"), None),
        ("GET", path(HANAKO, "corrections"), None),
    ]
    for method, route, body in attempts:
        status, _, problem = await city.call(method, route, token.token, json=body)
        assert (status, problem["code"]) == (403, "residents.not_the_subject"), route
        assert HANAKO not in problem["detail"]  # the person is not named back
    assert (count(city, "corrections"), count(city, "consent_withdrawals")) == before
    refused = city.connector.audit.entries("residents_refused")
    assert [(e["by"], e["subjects"], e["code"]) for e in refused] == [
        (token.id, [HANAKO], "residents.not_the_subject")] * len(attempts)
    assert city.connector.records.get(HANAKO)["version"] == 1


def test_a_persons_token_names_the_people_it_acts_for(city):
    with pytest.raises(ValidationError) as refused:
        city.tokens.issue(["residents:self"])
    assert refused.value.details["field"] == "subjects"


async def test_no_token_is_401_before_anything(city):
    status, _, problem = await city.call("GET", path(HANAKO, "disclosure"))
    assert (status, problem["code"]) == (401, "auth.missing")
    assert city.connector.audit.entries("residents_refused") == []


async def test_a_correction_of_a_record_not_about_the_person_is_refused(city, clients):
    hanako = clients(city, person_token(city, HANAKO))
    with pytest.raises(ApiError) as refused:
        await hanako.request_correction(HANAKO, TARO, "address", "どこか", "他人の記録")
    assert (refused.value.status, refused.value.code) == (403, "residents.not_the_subject")
    with pytest.raises(ApiError) as reserved:
        await hanako.request_correction(HANAKO, HANAKO, "proof", {}, "署名を消したい")
    assert reserved.value.code == "correction.field_not_allowed"
    assert count(city, "corrections") == 0
    [attempt] = city.connector.audit.entries("residents_refused")  # the first, not the second
    assert (attempt["action"], attempt["subjects"]) == ("request_correction", [HANAKO])
    assert attempt["by"].startswith("self:tok_")


async def test_staff_withdraw_for_the_person_and_the_person_sees_it_and_their_disclosure(
        city, clients):
    staff = clients(city, city.tokens.issue(["residents:assist"]).token)
    found = await staff.withdraw_consent(HANAKO, "窓口で撤回")
    assert found.subject == HANAKO and found.holders == []  # given to nobody yet
    hanako = clients(city, person_token(city, HANAKO))
    assert [w.id for w in await hanako.consent_withdrawals(HANAKO)] == [found.id]
    shown = await hanako.disclosure(HANAKO)
    [own] = shown.holders
    assert [r["id"] for r in own["records"]] == [HANAKO]
    events = [u["event"] for u in own["uses"]]
    assert "consent_withdrawal" in events and "disclosure" in events
    assert TARO not in str(shown.model_dump())
    [line] = city.connector.audit.entries("consent_withdrawal")
    assert line["by"].startswith("assisted:")


async def test_a_correction_the_schema_refuses_stays_pending_for_staff_to_refuse(city, clients):
    hanako = clients(city, person_token(city, HANAKO))
    staff = clients(city, city.token("records:write"))
    asked = await hanako.request_correction(HANAKO, HANAKO, "sex", "unknown", "性別の訂正")
    with pytest.raises(ApiError) as invalid:
        await staff.decide_correction(asked.id, True)
    assert (invalid.value.status, invalid.value.code) == (400, "record.schema_invalid")
    assert city.connector.records.get(HANAKO)["version"] == 1
    [still] = await staff.corrections(status="pending")
    assert still.id == asked.id
    refused = await staff.decide_correction(asked.id, False, "選択肢にない値です")
    assert refused.status == "refused"


async def test_the_person_registers_their_app_participant(city, clients):
    app_did = "did:key:z6MkjchhfUsD6mmvni8mCdXHw216Xrm9bQe2mBH1P5RDjVJG"
    hanako = clients(city, person_token(city, HANAKO))
    registered = await hanako.register_resident_app(HANAKO, app_did)
    assert registered["participant"] == app_did
    assert registered["registeredBy"].startswith("self:")
    assert city.connector.resident_apps.acts_for(app_did, HANAKO)
    assert not city.connector.resident_apps.acts_for(app_did, TARO)
    with pytest.raises(ApiError) as bad:
        await hanako.register_resident_app(HANAKO, "did:web:example.org")
    assert (bad.value.status, bad.value.code) == (400, "residents.invalid")
    taro = clients(city, person_token(city, TARO))
    with pytest.raises(ApiError) as other:  # nobody registers an app for someone else
        await taro.register_resident_app(HANAKO, app_did)
    assert other.value.code == "residents.not_the_subject"
    status, _, listed = await city.call("GET", path(HANAKO, "apps"),
                                        person_token(city, HANAKO))
    assert status == 200 and [a["participant"] for a in listed["items"]] == [app_did]
