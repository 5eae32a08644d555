"""A municipality's registration publishes: the registry row and the person's records commit in
one transaction; the medical part goes to its own dataset, which only medical institutions
and the municipality's health department can agree to; CSV registration leaves the event
loop free between batches."""

from __future__ import annotations

import asyncio
import json

import pytest

from domains.bosai.publishing import medical_id
from domains.bosai.registry.card import CardIssuer
from domains.bosai.setup import EVACUEE, MEDICAL, STATUS
from tests.domains.bosai.dashboard_support import (
    SITES,
    STATUS_MAPPING,
    load_sites,
    person,
    status_csv,
)
from tests.domains.bosai.flows.support import (
    CHIYODA,
    HOSPITAL_NUMBER,
    OPERATOR_NUMBER,
)
from trust.errors import TsunaguError


@pytest.fixture
async def city(start_bosai):
    node = await start_bosai(name="千代田区", legal_id=CHIYODA.code, role="municipality")
    await node.hub.setup_municipality(CHIYODA, operators=[OPERATOR_NUMBER])
    return node


def with_medical(form: dict) -> dict:
    return {**form, "careNeeds": {"careCategory": ["elderly"], "medicalNeed": ["dialysis"],
                                  "careNotes": "週3回の人工透析"}}


HANAKO = person("山田", "花子", ("ヤマダ", "ハナコ"), "1950-04-01", stay="home")


async def test_a_registration_publishes_the_person_without_the_medical_part(city):
    hub = city.hub
    result = await hub.register(with_medical(HANAKO), source="reception:form", by="staff-1")
    (evacuee,) = city.records(hub.setup.dataset(EVACUEE))
    assert evacuee["id"] == result.person_id and evacuee["id"].startswith("urn:uuid:")
    assert evacuee["familyName"] == "山田" and evacuee["careNeeds"] == {
        "careCategory": ["elderly"]}  # no medicalNeed, no careNotes
    (medical,) = city.records(hub.setup.dataset(MEDICAL))
    assert medical["id"] == medical_id(result.person_id) and medical["type"] == "MedicalNeeds"
    assert medical["evacuee"] == result.person_id
    assert medical["careNeeds"]["medicalNeed"] == ["dialysis"]
    for record in (evacuee, medical):  # ids and every version carry no personal data
        assert "山田" not in record["id"] and "1950" not in record["id"]
    # Sent to JetStream, not only committed.
    assert city.connector.store.query(
        "SELECT count(*) FROM record_versions WHERE published = 0")[0][0] == 0


async def test_an_address_without_the_prefecture_is_the_same_person(city):
    hub = city.hub
    first = await hub.register(HANAKO, source="reception:1")
    again = await hub.register({**HANAKO, "address": "千代田区九段南１丁目２番１号"},
                               source="reception:2")
    assert (again.outcome, again.person_id) == ("merged", first.person_id)
    assert [r["version"] for r in city.records(hub.setup.dataset(EVACUEE))] == [2]


async def test_registry_and_records_commit_together_or_not_at_all(city, monkeypatch):
    hub = city.hub
    records = hub.publisher.records

    def refuse(*args, **kwargs):
        raise TsunaguError("refused for the test", code="record.invalid")

    monkeypatch.setattr(records, "stage", refuse)
    with pytest.raises(TsunaguError):
        await hub.register(HANAKO, source="reception:form")
    assert hub.registry.count() == 0 and city.records(hub.setup.dataset(EVACUEE)) == []
    monkeypatch.undo()
    await hub.register(HANAKO, source="reception:form")
    assert hub.registry.count() == 1 and len(city.records(hub.setup.dataset(EVACUEE))) == 1


async def test_csv_registration_publishes_and_leaves_the_loop_free(city):
    lines = ["氏,名,氏カナ,名カナ,生年月日,性別,住所,安否情報の開示"]
    lines += [f"佐藤,{n}郎,サトウ,ジロウ,1980-01-{n % 28 + 1:02d},男,千代田区九段南1-{n},はい"
              for n in range(450)]
    lines.append("鈴木,一,スズキ,ハジメ,2999-01-01,男,千代田区九段南2,はい")  # impossible date
    ticks = 0
    done = False

    async def ticker() -> None:
        nonlocal ticks
        while not done:
            ticks += 1
            await asyncio.sleep(0)

    task = asyncio.create_task(ticker())
    report = await city.hub.register_csv("\n".join(lines).encode(), source="list.csv",
                                         by="staff-2")
    done = True
    await task
    assert report.count("refused") == 1 and len(report.lines) == 451
    assert len(city.records(city.hub.setup.dataset(EVACUEE))) == 450
    assert ticks >= 3  # the loop ran between the batches of 200 (and the outbox sends)


async def test_a_card_registration_publishes_the_4_items_it_verified(city):
    issuer = CardIssuer()
    card = issuer.issue(family_name="髙橋", given_name="一郎", birth_date="1985-07-12",
                        sex="male", address="東京都千代田区九段南1-2-3")
    result = await city.hub.register_card(card, trusted_issuers=[issuer.did],
                                          consent_to_disclose=True, source="reception:card",
                                          stay_location={"stayType": "shelter",
                                                         "shelterId": SITES[0].id})
    (record,) = city.records(city.hub.setup.dataset(EVACUEE))
    assert record["id"] == result.person_id and record["familyName"] == "髙橋"
    assert record["stayLocation"] == {"stayType": "shelter", "shelterId": SITES[0].id}


async def test_a_review_merge_leaves_one_record_and_a_tombstone(city):
    hub = city.hub
    first = await hub.register(HANAKO, source="reception:1")
    near = await hub.register({**HANAKO, "address": "千代田区九段南9-9-9"}, source="r:2")
    assert near.outcome == "review"
    hub.registry.decide(near.reviews[0].review_id, "merge", by="staff-3")
    await hub.flush()
    alive = city.records(hub.setup.dataset(EVACUEE))
    assert [r["id"] for r in alive] == [first.person_id]
    assert hub.publisher.records.get(near.person_id)["deleted"] is True


async def test_people_registered_before_the_setup_are_published_by_it(start_bosai):
    city = await start_bosai(name="千代田区", legal_id=CHIYODA.code, role="municipality")
    city.hub.registry.register(HANAKO, source="before")
    await city.hub.setup_municipality(CHIYODA)
    assert len(city.records(city.hub.setup.dataset(EVACUEE))) == 1


async def test_shelter_status_is_published_as_public_records(city, tmp_path):
    load_sites(city.hub, tmp_path, SITES)
    path = tmp_path / "status.csv"
    path.write_bytes(status_csv([
        {"shelter_id": SITES[0].id, "open": "開設", "count": "3",
         "timestamp": "令和6年4月30日午前6時"},
        {"shelter_id": SITES[0].id, "open": "閉鎖", "timestamp": "2024/4/30 18:00"},
        {"shelter_id": "no-such-site", "open": "開設", "timestamp": "2024/4/30 6:00"}]))
    mapping = tmp_path / "mapping.json"
    mapping.write_text(json.dumps(STATUS_MAPPING), encoding="utf-8")
    report, published = await city.hub.import_status(path, mapping)
    assert (published.published, published.skipped) == (2, 1)  # no name for the ad-hoc one
    (record,) = city.records(city.hub.setup.dataset(STATUS))
    assert record["version"] == 2 and record["open"] is False
    assert record["observedAt"] == "2024-04-30T09:00:00Z"  # 18:00 JST
    versions = city.hub.publisher.records.versions(record["id"])
    assert [v["open"] for v in versions] == [True, False]


async def test_only_medical_institutions_and_the_health_department_get_medical_needs(
        city, start_bosai):
    await city.hub.register(with_medical(HANAKO), source="reception:form")
    dataset = city.hub.setup.dataset(MEDICAL)
    hospital = await start_bosai(name="市立病院", legal_id=HOSPITAL_NUMBER,
                                 role="medical_institution")
    health = await start_bosai(name="千代田保健所", legal_id=CHIYODA.code,
                               role="health_department")
    operator = await start_bosai(name="避難所運営", legal_id=OPERATOR_NUMBER,
                                 role="shelter_operator")
    other_health = await start_bosai(name="他市の保健所", legal_id="041009",
                                     role="health_department")
    for node in (hospital, health):
        done = await node.agree(city, dataset, purpose="medical_care")
        assert done["state"] == "FINALIZED", done
        got = await node.held(medical_id(city.records(city.hub.setup.dataset(EVACUEE))[0]["id"]))
        assert got is not None and got["careNeeds"]["medicalNeed"] == ["dialysis"]
    for node in (operator, other_health):
        done = await node.agree(city, dataset, purpose="medical_care")
        assert done["state"] == "TERMINATED", done
