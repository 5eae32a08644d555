"""Residents' rights between real connectors on a real nats-server (operator mode): a city
(provider, data controller) gives evacuee records to a shelter operator, whose policy says to
delete a person's records when they withdraw consent, and to a hospital, whose policy says
only to stop. A person withdraws consent, asks what each holder keeps and who used it, and
asks for a correction. People are synthetic."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from typing import Any

import orjson
import pytest

from connector.api.sdk import ApiError, TsunaguClient
from connector.api.tokens import TokenStore
from connector.bus.messaging import RemoteError
from connector.control.decisions import Reader, Use
from connector.control.gate import ConsentWithdrawn, UsageDenied
from connector.data import consent, disclosure
from connector.data.consent import ResidentsError
from connector.data.corrections import CorrectionError
from connector.errors import ConnectorCode
from connector.protocol.dsp import messages as m
from tests.api.conftest import start_api
from tests.e2e.conftest import (
    CITY_CODE,
    FOR_PURPOSE,
    OPERATOR_NUMBER,
    PURPOSE,
    Node,
    operator_participant,
)
from trust import jsonld

EVACUEES = "urn:tsunagu:test:dataset:evacuees"
BOSAI = "https://w3id.org/tsunagu/bosai/v1"
HOSPITAL_NUMBER = "5800001205000"
HANAKO = "urn:example:sendai:evacuee:0001"  # the person exercising their rights
TARO = "urn:example:sendai:evacuee:0002"  # someone else, whose data must never show
READERS = m.constraint("tsunagu:role", "isAnyOf", ["shelter_operator", "medical_institution"])
PURGE_ON_WITHDRAWAL = {"@id": "urn:tsunagu:test:offer:purge#on-withdrawal",
                       "action": "odrl:delete",
                       "constraint": [m.constraint("odrl:event", "eq",
                                                   "tsunagu:consentWithdrawn")]}
PURGING = m.offer("urn:tsunagu:test:offer:purge", permission=[
    {**m.rule("use", [READERS, FOR_PURPOSE]), "duty": [PURGE_ON_WITHDRAWAL]}])
STOPPING = m.offer("urn:tsunagu:test:offer:stop", permission=[
    m.rule("use", [READERS, FOR_PURPOSE])])


def evacuee(record_id: str, family: str, given: str, **fields: Any) -> dict[str, Any]:
    return {"@context": [jsonld.CREDENTIALS_V2, jsonld.TSUNAGU_V1, BOSAI], "id": record_id,
            "type": "Evacuee", "familyName": family, "givenName": given,
            "birthDate": "1952-04-01", "sex": "female",
            "address": "宮城県仙台市青葉区一番町1-1", "consentToDisclose": True, **fields}


def medical_needs(person: str, given: str) -> dict[str, Any]:
    return {"@context": [jsonld.CREDENTIALS_V2, jsonld.TSUNAGU_V1, BOSAI],
            "id": f"{person}:medical", "type": "MedicalNeeds", "evacuee": person,
            "familyName": "山田", "givenName": given, "birthDate": "1952-04-01",
            "careNeeds": {"medicalNeed": ["dialysis"]}}


@pytest.fixture
async def space(tmp_path, authority, e2e_nats, start_node) -> AsyncIterator[dict[str, Node]]:
    nodes: dict[str, Node] = {}
    for key, name, legal_id, role in (
            ("city", "仙台市", CITY_CODE, "municipality"),
            ("shelter", "避難所運営", OPERATOR_NUMBER, "shelter_operator"),
            ("hospital", "病院", HOSPITAL_NUMBER, "medical_institution")):
        config = await operator_participant(tmp_path, authority, e2e_nats, name=name,
                                            legal_id=legal_id, role=role)
        nodes[key] = await start_node(config)
    city = nodes["city"]
    # No schema: the dataset carries evacuee cards and medical needs alike.
    await city.datasets.offer_dataset(EVACUEES, "避難者名簿", [PURGING, STOPPING])
    await city.records.publish(EVACUEES, evacuee(HANAKO, "山田", "花子"))
    await city.records.publish(EVACUEES, evacuee(TARO, "佐藤", "太郎", sex="male"))
    for key, offer in (("shelter", PURGING), ("hospital", STOPPING)):
        node = nodes[key].connector
        started = await node.negotiations.start(city.did, EVACUEES, offer["@id"],
                                                purpose=PURPOSE)
        done = await node.negotiations.wait(started["pid"])
        assert done["state"] == "FINALIZED", done
        transfer = await node.transfers.start(done["agreementId"])
        await node.transfers.wait(transfer["pid"], "STARTED")
    for key in ("shelter", "hospital"):
        await held(nodes[key], HANAKO, 1)
        await held(nodes[key], TARO, 1)
    yield nodes


async def held(node: Node, record_id: str, version: int, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while node.connector.gate.newest_version(record_id) != version:
        assert time.monotonic() < deadline, f"{record_id}@{version} never arrived"
        await asyncio.sleep(0.02)


def read(node: Node, record_id: str) -> dict[str, Any]:
    released = node.connector.gate.read(Reader.app("tok_staff"), Use(PURPOSE), record_id)
    assert released.record is not None
    return released.record


def rows_of(node: Node, record_id: str) -> int:
    return node.count("SELECT count(*) FROM held_records WHERE id = ?", record_id)


async def status_of(city: Node, holder: Node, leaving: str) -> str:
    """What the provider recorded of ``holder``'s answer, once it is no longer ``leaving``."""
    deadline = time.monotonic() + 5
    while True:
        holders = city.connector.consent.status(HANAKO)[0]["holders"]
        found = {h["holder"]: h["status"] for h in holders}.get(holder.did, leaving)
        if found != leaving or time.monotonic() > deadline:
            return found
        await asyncio.sleep(0.05)


async def refused_within(node: Node, record_id: str, started: float) -> float:
    """Seconds from ``started`` until the node's gate refuses ``record_id`` for consent."""
    while True:
        try:
            read(node, record_id)
        except UsageDenied as exc:
            assert exc.code == ConnectorCode.USAGE_CONSENT_WITHDRAWN, exc.code
            return time.monotonic() - started
        assert time.monotonic() - started < 5, "the withdrawal never reached the holder"
        await asyncio.sleep(0.005)


async def test_withdrawal_reaches_every_holder_and_stops_use_within_a_second(space):
    city, shelter, hospital = space["city"], space["shelter"], space["hospital"]
    assert read(shelter, HANAKO)["givenName"] == "花子"
    assert read(hospital, HANAKO)["givenName"] == "花子"
    told: list[tuple[str, ConsentWithdrawn]] = []  # what a domain keeping copies is told
    for key in ("shelter", "hospital"):
        space[key].connector.gate.on_withdrawal(
            lambda db, event, key=key: told.append((key, event)))

    started = time.monotonic()
    withdrawal = asyncio.create_task(city.connector.consent.withdraw(
        HANAKO, requested_by="assisted:tok_counter", reason="同意を撤回します"))
    latencies = await asyncio.gather(refused_within(shelter, HANAKO, started),
                                     refused_within(hospital, HANAKO, started))
    found = await withdrawal
    assert max(latencies) < 1.0, latencies
    assert sorted((k, e.subject, e.record_ids, e.purge, e.provider) for k, e in told) == [
        ("hospital", HANAKO, (HANAKO,), False, city.did),
        ("shelter", HANAKO, (HANAKO,), True, city.did)]

    # Purged where the policy says so (erased: not in the file, not in the WAL), kept (and
    # refused) where it does not.
    assert rows_of(shelter, HANAKO) == 0
    assert rows_of(hospital, HANAKO) == 1
    store = shelter.config.store_path
    kept = b"".join(p.read_bytes() for p in (store, store.with_name(store.name + "-wal"))
                    if p.exists())
    assert "花子".encode() not in kept and "太郎".encode() in kept
    # Every other use is refused too: pages leave the record out, the event stream too.
    for node in (shelter, hospital):
        page = node.connector.gate.page(Reader.app("tok_staff"), Use(PURPOSE))
        assert [i.id for i in page.items] == [TARO]
        assert read(node, TARO)["givenName"] == "太郎"  # nobody else is touched
        stream = node.connector.gate.stream(Reader.app("tok_feed"), Use(PURPOSE))
        events, _, _ = stream.page(0, 100)
        assert {e["id"] for e in events} == {TARO}  # the event stream passes it over
    # The person sees, per holder, that it happened.
    by_holder = {h["holder"]: h for h in found["holders"]}
    assert by_holder[shelter.did]["status"] == "purged"
    assert by_holder[hospital.did]["status"] == "stopped"
    assert all(h["acknowledged"] and h["records"] == 1 for h in found["holders"])
    assert city.connector.consent.status(HANAKO)[0] == found
    # Each holder's audit log says what it did, naming the person (its own log).
    done = shelter.connector.audit.entries("consent_withdrawn")
    assert [(d["subjects"], d["purged"]) for d in done] == [([HANAKO], 1)]
    # Nor is what the provider sends about the person afterwards: a new version, or a new
    # record about them (their medical needs); someone else's still arrives.
    await city.records.publish(EVACUEES, evacuee(HANAKO, "山田", "花子", sex="not_known"))
    await city.records.publish(EVACUEES, medical_needs(HANAKO, "花子"))
    await city.records.publish(EVACUEES, medical_needs(TARO, "太郎"))
    for node in (shelter, hospital):
        await held(node, f"{TARO}:medical", 1)
        assert rows_of(node, f"{HANAKO}:medical") == 0
        assert node.connector.gate.newest_version(HANAKO) in (None, 1)
    assert rows_of(shelter, HANAKO) == 0 and rows_of(hospital, HANAKO) == 1


async def test_the_persons_app_withdraws_through_the_app_api_and_sees_every_holder(space):
    """End to end from the person's own app: HTTP to the city's connector, notices over the
    data space, every holder's gate refusing within a second of the request."""
    city, shelter, hospital = space["city"], space["shelter"], space["hospital"]
    _, server = await start_api(city.connector)
    token = TokenStore(city.connector.store).issue(["residents:self"], subjects=[HANAKO])
    try:
        async with TsunaguClient(str(server.make_url("")), token.token) as app:
            started = time.monotonic()
            request = asyncio.create_task(app.withdraw_consent(HANAKO, "同意を撤回します"))
            latencies = await asyncio.gather(refused_within(shelter, HANAKO, started),
                                             refused_within(hospital, HANAKO, started))
            found = await request
            assert max(latencies) < 1.0, latencies
            assert sorted(h["status"] for h in found.holders) == ["purged", "stopped"]
            assert [w.id for w in await app.consent_withdrawals(HANAKO)] == [found.id]
            with pytest.raises(ApiError) as other:
                await app.withdraw_consent(TARO)
            assert other.value.code == "residents.not_the_subject"
    finally:
        await server.close()
    assert read(shelter, TARO)["givenName"] == "太郎"  # the refused attempt changed nothing


async def test_a_holder_away_learns_of_the_withdrawal_when_it_is_back(space, start_node):
    city, hospital = space["city"], space["hospital"]
    await hospital.connector.stop()
    found = await city.connector.consent.withdraw(HANAKO, requested_by="self:tok_app")
    away = [h for h in found["holders"] if h["holder"] == hospital.did]
    assert away[0]["status"] == "pending" and away[0]["acknowledged"] is None

    back = await start_node(hospital.config)
    started = time.monotonic()
    await refused_within(back, HANAKO, started)  # the provider's outbox resends it
    deadline = time.monotonic() + 5
    while any(h["status"] == "pending"
              for h in city.connector.consent.status(HANAKO)[0]["holders"]):
        assert time.monotonic() < deadline
        await asyncio.sleep(0.05)
    assert {h["status"] for h in city.connector.consent.status(HANAKO)[0]["holders"]} == {
        "purged", "stopped"}
    await back.connector.stop()  # what it may no longer use survives a restart
    again = await start_node(hospital.config)
    with pytest.raises(UsageDenied) as still:  # at once: nobody resends anything
        read(again, HANAKO)
    assert still.value.code == ConnectorCode.USAGE_CONSENT_WITHDRAWN
    assert read(again, TARO)["givenName"] == "太郎"


async def test_an_agreement_made_after_the_withdrawal_learns_of_it_too(
        space, tmp_path, authority, e2e_nats, start_node):
    city = space["city"]
    await city.connector.consent.withdraw(HANAKO, requested_by="self:tok_app")
    config = await operator_participant(tmp_path, authority, e2e_nats, name="避難所運営B",
                                        legal_id="6700001205001", role="shelter_operator")
    late = await start_node(config)
    started = await late.connector.negotiations.start(city.did, EVACUEES, PURGING["@id"],
                                                      purpose=PURPOSE)
    done = await late.connector.negotiations.wait(started["pid"])
    transfer = await late.connector.transfers.start(done["agreementId"])
    await late.connector.transfers.wait(transfer["pid"], "STARTED")
    await held(late, TARO, 1)  # the stream replays both people's records
    await refused_within(late, HANAKO, time.monotonic())
    deadline = time.monotonic() + 5
    while rows_of(late, HANAKO):  # purged, as its policy says, once the notice arrives
        assert time.monotonic() < deadline
        await asyncio.sleep(0.05)
    assert read(late, TARO)["givenName"] == "太郎"
    assert await status_of(city, late, "pending") == "purged"


async def test_only_the_provider_of_an_agreement_can_withdraw_or_ask_under_it(space):
    """Another participant (here the hospital) naming the shelter's agreement: refused on the
    bus with a stable code, nothing changed at the shelter, nothing disclosed."""
    shelter, hospital = space["shelter"], space["hospital"]
    [agreement] = shelter.connector.agreements.active_as_consumer()
    bus = hospital.connector.bus
    with pytest.raises(RemoteError) as withdrawal:
        await bus.request(shelter.did, consent.MESSAGE_TYPE, {
            "withdrawal": "urn:uuid:forged", "agreementId": agreement, "subject": HANAKO,
            "records": [HANAKO]})
    assert withdrawal.value.code == ConnectorCode.RESIDENTS_UNKNOWN_AGREEMENT
    with pytest.raises(RemoteError) as asked:
        await bus.request(shelter.did, disclosure.REQUEST_TYPE, {"subject": HANAKO})
    assert asked.value.code == ConnectorCode.RESIDENTS_UNKNOWN_AGREEMENT
    assert read(shelter, HANAKO)["givenName"] == "花子"
    assert shelter.connector.audit.entries("consent_withdrawn") == []
    assert not [e for e in shelter.connector.audit.entries("use")
                if e["purpose"].endswith("data_subject_rights")]


async def test_a_resident_app_participant_registered_for_the_person_acts_for_them(
        space, tmp_path, authority, e2e_nats, start_node):
    """The person's app is a participant of its own (role resident_app): registered for
    them at the city, its signed requests over the data space act for them; for anyone
    else it is refused, nothing changed, the attempt audited."""
    city, shelter = space["city"], space["shelter"]
    config = await operator_participant(tmp_path, authority, e2e_nats, name="くらしアプリ",
                                        legal_id="4010001234567", role="resident_app")
    app = (await start_node(config)).connector.resident_apps
    with pytest.raises(RemoteError) as unregistered:
        await app.ask(city.did, HANAKO, "disclosure")
    assert unregistered.value.code == ConnectorCode.RESIDENTS_NOT_THE_SUBJECT
    city.connector.resident_apps.register(HANAKO, app.connector.did,
                                          registered_by="assisted:tok_counter")

    shown = await app.ask(city.did, HANAKO, "disclosure")
    assert {h["holder"] for h in shown["holders"]} == {city.did, shelter.did,
                                                       space["hospital"].did}
    asked = await app.ask(city.did, HANAKO, "request_correction", record=HANAKO,
                          field="address", value="宮城県仙台市青葉区二番町2-2", reason="転居")
    assert (asked["status"], asked["requestedBy"]) == ("pending", f"app:{app.connector.did}")
    started = time.monotonic()
    withdrawn = asyncio.create_task(app.ask(city.did, HANAKO, "withdraw_consent",
                                            reason="アプリから撤回"))
    assert await refused_within(shelter, HANAKO, started) < 1.0
    assert (await withdrawn)["requestedBy"] == f"app:{app.connector.did}"

    for action in ("withdraw_consent", "disclosure"):  # someone else: refused, audited
        with pytest.raises(RemoteError) as other:
            await app.ask(city.did, TARO, action)
        assert other.value.code == ConnectorCode.RESIDENTS_NOT_THE_SUBJECT
    assert read(shelter, TARO)["givenName"] == "太郎"
    assert city.connector.consent.status(TARO) == []
    refused = city.connector.audit.entries("residents_refused")
    assert [(e["by"], e["subjects"]) for e in refused] == [
        (app.connector.did, [HANAKO]), (app.connector.did, [TARO]),
        (app.connector.did, [TARO])]
    # A participant without the role is refused even for a registered person.
    city.connector.resident_apps.register(HANAKO, shelter.did, registered_by="x")
    with pytest.raises(RemoteError) as no_role:
        await shelter.connector.resident_apps.ask(city.did, HANAKO, "consent_withdrawals")
    assert no_role.value.code == ConnectorCode.RESIDENTS_NOT_THE_SUBJECT


async def test_disclosure_shows_each_holders_records_and_uses_of_the_person_only(space):
    city, shelter, hospital = space["city"], space["shelter"], space["hospital"]
    read(shelter, HANAKO)
    shelter.connector.gate.page(Reader.app("tok_list", role="shelter_staff"), Use(PURPOSE))
    read(hospital, TARO)  # a use about someone else only

    found = await city.connector.disclosure.disclose(HANAKO, requested_by="self:tok_app")
    by_holder = {h["holder"]: h for h in found["holders"]}
    assert set(by_holder) == {city.did, shelter.did, hospital.did}
    assert all(h["status"] == "answered" for h in found["holders"])
    for node in (city, shelter, hospital):
        records = by_holder[node.did]["records"]
        assert [(r["id"], r["version"]) for r in records] == [(HANAKO, 1)]
        assert records[0]["record"]["givenName"] == "花子"
    uses = [(u["reader"], u["purpose"], u["decision"]) for u in by_holder[shelter.did]["uses"]
            if u["event"] == "use"]
    assert ("app:tok_staff", PURPOSE, "permit") in uses
    assert ("app:tok_list", PURPOSE, "permit") in uses
    assert all(u["at"] for u in by_holder[shelter.did]["uses"])
    hospital_uses = [u for u in by_holder[hospital.did]["uses"] if u["event"] == "use"]
    assert all(u["reader"].startswith("connector:residents") for u in hospital_uses)
    # Nothing about anyone else, anywhere in the answer.
    text = orjson.dumps(found).decode()
    assert TARO not in text and "太郎" not in text and "佐藤" not in text


async def test_a_correction_is_accepted_and_reaches_every_holder_or_refused_with_a_reason(
        space):
    city, shelter, hospital = space["city"], space["shelter"], space["hospital"]
    corrections = city.connector.corrections
    asked = corrections.request(HANAKO, HANAKO, "address", "宮城県仙台市青葉区二番町2-2",
                                "転居しました", requested_by="self:tok_app")
    assert asked.status == "pending"
    assert city.connector.records.get(HANAKO)["version"] == 1  # nothing changed yet

    accepted = await corrections.accept(asked.id, decided_by="staff:tok_clerk")
    assert (accepted.status, accepted.version) == ("accepted", 2)
    for node in (shelter, hospital):
        await held(node, HANAKO, 2)
        record = read(node, HANAKO)
        assert record["address"] == "宮城県仙台市青葉区二番町2-2"
        assert record["wasAttributedTo"] == HANAKO
        assert record["wasDerivedFrom"] == f"{HANAKO}#v1"

    other = corrections.request(HANAKO, HANAKO, "birthDate", "1952-04-02", "誕生日の誤り",
                                requested_by="self:tok_app")
    refused = corrections.refuse(other.id, "住民票の記載と一致しています",
                                 decided_by="staff:tok_clerk")
    assert (refused.status, refused.decision_reason) == ("refused", "住民票の記載と一致しています")
    assert city.connector.records.get(HANAKO)["birthDate"] == "1952-04-01"
    with pytest.raises(CorrectionError) as again:
        await corrections.accept(other.id, decided_by="staff:tok_clerk")
    assert again.value.code == ConnectorCode.CORRECTION_DECIDED
    assert [(c.status, c.field) for c in corrections.of_subject(HANAKO)] == [
        ("accepted", "address"), ("refused", "birthDate")]


async def test_a_correction_of_someone_elses_record_is_refused_and_writes_nothing(space):
    city = space["city"]
    before = city.count("SELECT count(*) FROM corrections")
    with pytest.raises(ResidentsError) as refused:
        city.connector.corrections.request(HANAKO, TARO, "address", "どこか", "なりすまし",
                                           requested_by="self:tok_app")
    assert refused.value.code == ConnectorCode.RESIDENTS_NOT_THE_SUBJECT
    with pytest.raises(ResidentsError) as reserved:
        city.connector.corrections.request(HANAKO, HANAKO, "version", 9, "x",
                                           requested_by="self:tok_app")
    assert reserved.value.code == ConnectorCode.CORRECTION_FIELD_NOT_ALLOWED
    assert city.count("SELECT count(*) FROM corrections") == before
    assert city.connector.records.get(TARO)["version"] == 1
