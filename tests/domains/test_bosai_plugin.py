"""The bosai plug-in: context, schemas, policy templates and routes."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import aiohttp
import jsonschema
import pytest
from aiohttp.test_utils import TestServer

from connector.api.app import make_app
from connector.control.duties import delete_deadline
from connector.data.datasets import build_entry, check_entry, check_schema
from connector.plugins.registry import (
    activate_plugins,
    dataset_schema,
    dataset_type,
    plugin_contexts,
)
from domains.bosai import plugin as bosai
from domains.bosai import vocab
from domains.bosai.policies import evacuee_registry, shelter_status_open
from trust import jsonld
from trust.errors import JsonLdError
from trust.keys import KeyPair
from usage_policies import EvaluationRequest, State, evaluate, explain, parse_policy, to_dsp
from usage_policies.evaluate import compile_policy
from usage_policies.operands import EvalContext

CONTEXTS = plugin_contexts([bosai])  # what a connector running bosai serves

CITY = "did:key:z6MkCityOfKobe"
OPERATOR = "did:key:z6MkShelterNpo"
DATASET = "https://city.example/datasets/evacuees"
NOW = datetime(2025, 1, 17, 5, 46, tzinfo=UTC)


@pytest.fixture(autouse=True)
def _active(isolated_registries):
    """Activated after the registries are saved, so they are restored without bosai."""
    activate_plugins([bosai])


def shelter(**changes) -> dict:
    record = {"@context": list(vocab.RECORD_CONTEXT), "id": "urn:uuid:6a1f0c9e-shelter-1",
              "type": "ShelterStatus", "version": 3, "modified": "2025-01-17T06:00:00Z",
              "shelterId": "28110-0001", "name": "神戸市立本山第一小学校",
              "shelterType": ["designated_shelter", "welfare_shelter"], "open": True,
              "capacity": 450, "population": {"day": 120, "night": 310},
              "needs": ["飲料水", "毛布"]}
    return {k: v for k, v in {**record, **changes}.items() if v is not None}


def evacuee(**changes) -> dict:
    record = {"@context": list(vocab.RECORD_CONTEXT), "id": "urn:uuid:0d4c2b1a-evacuee-1",
              "type": "Evacuee", "version": 1, "modified": "2025-01-17T07:00:00Z",
              "familyName": "山田", "givenName": "花子", "familyNameKana": "ヤマダ",
              "givenNameKana": "ハナコ", "birthDate": "1948-04-01", "sex": "female",
              "address": "兵庫県神戸市東灘区本山北町3丁目6-1",
              "stayLocation": {"stayType": "shelter", "shelterId": "28110-0001"},
              "consentToDisclose": True,
              "careNeeds": {"careCategory": ["elderly"], "medicalNeed": ["dialysis"],
                            "careNotes": "週3回の人工透析"}}
    return {k: v for k, v in {**record, **changes}.items() if v is not None}


# --------------------------------------------------------------------------- context

@pytest.mark.parametrize("record", [shelter(), evacuee()], ids=["shelter", "evacuee"])
def test_records_expand_with_the_registered_context_and_lose_no_term(record):
    assert CONTEXTS.get(vocab.CONTEXT_URL).sha256 == vocab.CONTEXT.sha256
    jsonld.check_no_dropped_terms(record, CONTEXTS)
    # Expanding and compacting back gives the record unchanged: every term and value has an
    # IRI (or a datatype) it maps to and from.
    assert jsonld.compact(record, record["@context"], CONTEXTS) == record


def test_terms_map_to_the_intended_iris():
    node = jsonld.expand(evacuee(), CONTEXTS)[0]
    assert node["@type"] == [vocab.EVACUEE]
    assert node["https://schema.org/familyName"] == [{"@value": "山田"}]
    assert node["https://schema.org/birthDate"][0]["@type"].endswith("#date")
    assert node[vocab.NAMESPACE + "sex"] == [{"@id": vocab.NAMESPACE + "sex_female"}]
    status = jsonld.expand(shelter(), CONTEXTS)[0]
    assert {t["@id"] for t in status[vocab.NAMESPACE + "shelterType"]} == {
        vocab.NAMESPACE + "DesignatedShelter", vocab.NAMESPACE + "WelfareShelter"}
    assert status["https://schema.org/maximumAttendeeCapacity"][0]["@value"] == 450


@pytest.mark.parametrize("record, term", [
    (shelter(shelterType=["school"]), "school"),
    (shelter(population={"day": 1, "evening": 2}), "evening"),
    (evacuee(myNumber="123456789012"), "myNumber"),
    (evacuee(stayLocation={"stayType": "tent"}), "tent"),
])
def test_undefined_terms_and_values_are_refused(record, term):
    with pytest.raises(JsonLdError) as caught:
        jsonld.check_no_dropped_terms(record, CONTEXTS)
    assert caught.value.code == "jsonld.dropped_term" and caught.value.details["term"] == term


def test_tokens_schemas_and_context_agree():
    context = CONTEXTS.load(vocab.CONTEXT_URL)["@context"]
    scoped = {**context, **context["stayLocation"]["@context"],
              **context["careNeeds"]["@context"], **context["household"]["@context"]}
    evac, status = dataset_schema("evacuee"), dataset_schema("shelter-status")
    enums = {
        "shelterType": status["properties"]["shelterType"]["items"]["enum"],
        "sex": evac["properties"]["sex"]["enum"],
        "stayType": evac["properties"]["stayLocation"]["properties"]["stayType"]["enum"],
        "careCategory": evac["properties"]["careNeeds"]["properties"]["careCategory"]
        ["items"]["enum"],
        "medicalNeed": evac["properties"]["careNeeds"]["properties"]["medicalNeed"]["items"]
        ["enum"],
        "relationship": evac["properties"]["household"]["properties"]["relationship"]["enum"],
        "disclosureScope": evac["properties"]["disclosureScope"]["items"]["enum"],
    }
    for prop, labels in vocab.VOCABULARIES.items():
        assert list(labels) == enums[prop], prop
        assert set(scoped[prop]["@context"]) - {"@version", "@protected"} == set(labels), prop
    for name in ("shelter-status", "evacuee"):  # every schema property is a context term
        props = set(dataset_schema(name)["properties"]) - {"@context", "proof"}
        assert props <= set(scoped) | {"version", "modified", "wasAttributedTo",
                                       "wasDerivedFrom"}, name


# --------------------------------------------------------------------------- schemas

def check(schema_name: str, record: dict) -> list[str]:
    schema = dataset_schema(schema_name)
    cls = jsonschema.validators.validator_for(schema)
    validator = cls(schema, format_checker=cls.FORMAT_CHECKER)  # as connector.records does
    return [e.message for e in validator.iter_errors(record)]


def test_the_connector_accepts_both_schemas():
    for name in ("shelter-status", "evacuee"):
        check_schema(dataset_schema(name))
        assert dataset_type(name).record_context == vocab.RECORD_CONTEXT


def test_valid_records_pass_their_schemas():
    assert check("evacuee", evacuee()) == []
    assert check("evacuee", evacuee(careNeeds=None, familyNameKana=None,
                                    stayLocation={"stayType": "vehicle"})) == []
    assert check("shelter-status", shelter()) == []


@pytest.mark.parametrize("changes, words", [
    ({"consentToDisclose": None}, "'consentToDisclose' is a required property"),
    ({"birthDate": None}, "'birthDate' is a required property"),
    ({"myNumber": "123456789012"}, "Additional properties are not allowed"),
    ({"familyNameKana": "やまだ"}, "does not match"),
    ({"birthDate": "1948-02-30"}, "is not a 'date'"),
    ({"sex": "F"}, "is not one of"),
    ({"stayLocation": {"stayType": "shelter"}}, "'shelterId' is a required property"),
    ({"careNeeds": {"medicalNeed": ["insulin"]}}, "is not one of"),
    ({"type": "ShelterStatus"}, "is not valid under any of the given schemas"),
])
def test_invalid_evacuee_records_are_refused(changes, words):
    errors = check("evacuee", evacuee(**changes))
    assert any(words in e for e in errors), errors


def test_invalid_shelter_status_is_refused():
    assert check("shelter-status", shelter(open="yes"))
    assert check("shelter-status", shelter(population={"day": -1}))
    assert check("shelter-status", shelter(shelterType=[]))


# --------------------------------------------------------------------------- policies

def decide(policy, *, phase: str | None = "response", roles=("shelter_operator",),
           purpose: str = "disaster_response", action: str = "use"):
    attributes = {"tsunagu:role": list(roles), "purpose": purpose}
    if phase is not None:
        attributes["tsunagu:disasterPhase"] = phase
    request = EvaluationRequest.of(action=action, target=DATASET, assignee=OPERATOR,
                                   **attributes)
    return evaluate(policy, request, State(current_time=NOW, agreement_time=NOW))


def round_trip(policy):
    """The DSP JSON-LD the connector would put in its catalog, parsed back."""
    return parse_policy(json.loads(json.dumps(to_dsp(policy))))


def test_shelter_status_offer_is_open_to_anyone():
    policy = round_trip(shelter_status_open("urn:tsunagu:offer:shelter-status",
                                            assigner=CITY, target=DATASET))
    assert decide(policy, roles=("resident_app",), purpose="research", phase=None).permitted


@pytest.fixture
def registry():
    return round_trip(evacuee_registry("urn:tsunagu:offer:evacuees", assigner=CITY,
                                       target=DATASET))


def test_shelter_operator_for_disaster_response_during_response_is_permitted(registry):
    decision = decide(registry)
    assert decision.permitted, decision.reason
    delete = [d for r in decision.rules for d in r.duties if d.action.endswith("delete")]
    assert [d.status for d in delete] == ["not_applicable"]  # not due during response
    assert decide(registry, purpose="shelter_operation").permitted  # a narrower purpose


@pytest.mark.parametrize("kwargs", [
    {"phase": "recovery"},
    {"phase": "mitigation"},
    {"phase": None},  # the phase is unknown: fail closed
    {"roles": ("municipality",)},
    {"purpose": "commercial"},
    {"action": "distribute"},
], ids=["recovery", "after-recovery", "no-phase", "wrong-role", "wrong-purpose",
        "onward-transfer"])
def test_evacuee_registry_denies_outside_its_terms(registry, kwargs):
    assert not decide(registry, **kwargs).permitted


@pytest.mark.parametrize("phase, status", [
    ("response", "not_applicable"), ("recovery", "not_applicable"),
    ("mitigation", "unfulfilled"), ("preparedness", "unfulfilled"), (None, "unfulfilled"),
])
def test_the_delete_duty_is_due_once_recovery_is_over(registry, phase, status):
    """Run the duty on its own: once the phase is past recovery the permission is denied
    anyway, so a whole-policy decision would not show the duty's state."""
    duty = compile_policy(registry).permissions[0].duties[0]
    assert duty.action.endswith("delete")
    attributes = {} if phase is None else {"tsunagu:disasterPhase": phase}
    request = EvaluationRequest.of(action="use", target=DATASET, assignee=OPERATOR,
                                   **attributes)
    assert duty.run(EvalContext(request, State(current_time=NOW), NOW), []).status == status


def test_retention_backstop_is_a_deadline_the_connector_enforces():
    policy = round_trip(evacuee_registry("urn:tsunagu:offer:evacuees", assigner=CITY,
                                         target=DATASET, retain_at_most="P90D"))
    assert delete_deadline(policy, NOW) == NOW + timedelta(days=90)
    assert decide(policy).permitted


def test_offers_fit_in_a_dsp_dataset_entry_and_explain_themselves():
    provider = KeyPair.generate().did
    for name, template in bosai.policy_templates.items():
        policy = template.build(f"urn:tsunagu:offer:{name}", assigner=provider)
        entry = build_entry(provider, DATASET, title="避難者名簿",
                            offers=[to_dsp(policy, standalone=False)])
        check_entry(provider, entry)  # valid DSP, no dropped term
        assert template.explain("ja") and template.explain("en")
        assert explain(policy, "ja")


# --------------------------------------------------------------------------- routes

async def test_bosai_routes_answer_behind_a_started_connector(connector):
    app = make_app(connector, plugins=[bosai])
    server = TestServer(app, host="127.0.0.1", port=0)
    await server.start_server()
    try:
        async with aiohttp.ClientSession() as http:
            async with http.get(str(server.make_url("/domains/bosai/"))) as resp:
                page = await resp.text()
                assert resp.status == 200 and resp.content_type == "text/html"
                assert "指定緊急避難場所" in page and "evacuee" in page
                assert "default-src 'none'" in resp.headers["Content-Security-Policy"]
            async with http.get(str(server.make_url("/domains/bosai/vocabularies"))) as resp:
                body = await resp.json()
                assert [t["token"] for t in body["shelterType"]] == list(vocab.SHELTER_TYPES)
            url = "/domains/bosai/dataset-types/evacuee/schema"
            async with http.get(str(server.make_url(url))) as resp:
                assert await resp.json(content_type=None) == json.loads(
                    bosai.dataset_types["evacuee"].schema.read_bytes())
    finally:
        await server.close()
