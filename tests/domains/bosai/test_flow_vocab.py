"""The flows' vocabulary: supply tokens, schemas and context terms agree; medical-needs and
supply-request records and check-in stays expand without a dropped term; the copies of the
stay shape in two schemas do not drift apart; the new templates evaluate as documented."""

from __future__ import annotations

from datetime import UTC, datetime

import jsonschema
import pytest

from connector.data.contributions import CONTRIBUTE
from connector.plugins.registry import activate_plugins, dataset_schema, plugin_contexts
from domains.bosai import plugin as bosai
from domains.bosai import policies, vocab
from trust import jsonld
from trust.errors import JsonLdError
from usage_policies import EvaluationRequest, State, evaluate

NOW = datetime(2025, 1, 17, 5, 46, tzinfo=UTC)
CITY = "did:key:z6MkCity"

CONTEXTS = plugin_contexts([bosai])  # what a connector running bosai serves


@pytest.fixture(autouse=True)
def _active(isolated_registries):
    activate_plugins([bosai])


def supply(**changes) -> dict:
    record = {"@context": list(vocab.RECORD_CONTEXT), "id": "urn:uuid:1", "type":
              "SupplyRequest", "shelterId": "131016-001", "item": "infant_formula",
              "quantity": 12, "unit": "can", "urgency": "high", "forWhom": ["infant"],
              "status": "committed", "requestedAt": "2025-01-17T06:00:00Z",
              "committedBy": "did:key:z6MkSupplier", "committedQuantity": 12,
              "committedAt": "2025-01-17T07:00:00Z", "expectedDelivery": "2025-01-17T12:00:00Z"}
    return {k: v for k, v in {**record, **changes}.items() if v is not None}


def medical() -> dict:
    return {"@context": list(vocab.RECORD_CONTEXT), "id": "urn:uuid:2", "type": "MedicalNeeds",
            "evacuee": "urn:uuid:3", "familyName": "山田", "givenName": "花子",
            "birthDate": "1950-04-01", "sex": "female",
            "stayLocation": {"stayType": "shelter", "shelterId": "131016-001",
                             "checkedIn": "2025-01-17T06:10:00Z"},
            "careNeeds": {"medicalNeed": ["dialysis"], "careNotes": "週3回"}}


def check_out_stay() -> dict:
    return {"stayType": "relatives", "checkedOut": "2025-01-18T06:10:00Z",
            "checkedOutOf": "131016-001"}


def errors(schema_name: str, record: dict) -> list[str]:
    schema = dataset_schema(schema_name)
    cls = jsonschema.validators.validator_for(schema)
    return [e.message for e in cls(schema, format_checker=cls.FORMAT_CHECKER
                                   ).iter_errors(record)]


def test_supply_tokens_schema_and_context_agree():
    context = CONTEXTS.load(vocab.CONTEXT_URL)["@context"]
    schema = dataset_schema("supply-requests")["properties"]
    for prop, labels in vocab.SUPPLY_VOCABULARIES.items():
        enum = schema[prop]["items"]["enum"] if prop == "forWhom" else schema[prop]["enum"]
        assert list(labels) == enum, prop
        assert set(context[prop]["@context"]) - {"@version", "@protected"} == set(labels), prop
    assert set(schema) - {"@context", "proof"} <= set(context) | {
        "version", "modified", "wasAttributedTo", "wasDerivedFrom"}


def test_the_stay_shape_is_the_same_in_both_schemas():
    evacuee = dataset_schema("evacuee")["properties"]["stayLocation"]["properties"]
    medical_stay = dataset_schema("medical-needs")["properties"]["stayLocation"]["properties"]
    assert {k: {x: y for x, y in v.items() if x != "description"} for k, v in evacuee.items()} \
        == medical_stay


@pytest.mark.parametrize("schema, record", [
    ("supply-requests", supply()), ("medical-needs", medical()),
    ("evacuee", {"@context": list(vocab.RECORD_CONTEXT), "id": "urn:uuid:4", "type": "Evacuee",
                 "familyName": "山田", "givenName": "花子", "birthDate": "1950-04-01",
                 "sex": "female", "address": "千代田区", "consentToDisclose": False,
                 "stayLocation": check_out_stay()}),
], ids=["supply", "medical", "check-out"])
def test_flow_records_are_valid_and_lose_no_term(schema, record):
    assert errors(schema, record) == []
    jsonld.check_no_dropped_terms(record, CONTEXTS)


def test_bad_supply_values_are_refused():
    assert errors("supply-requests", supply(item="other"))  # needs itemNote
    assert errors("supply-requests", supply(quantity=0))
    with pytest.raises(JsonLdError):
        jsonld.check_no_dropped_terms(supply(urgency="yesterday"), CONTEXTS)


def decide(policy, *, roles, legal_id="", purpose="disaster_response", action="use",
           field=None, phase="response"):
    attributes = {"tsunagu:role": list(roles), "tsunagu:legalId": legal_id, "purpose": purpose,
                  "tsunagu:disasterPhase": phase}
    if field is not None:
        attributes["tsunagu:field"] = field
    request = EvaluationRequest.of(action=action, target="urn:x", assignee="did:key:z6MkX",
                                   **attributes)
    return evaluate(policy, request, State(current_time=NOW, agreement_time=NOW)).permitted


MODIFY = "http://www.w3.org/ns/odrl/2/modify"


def may_modify(policy, field: str, **who) -> bool:
    """As connector.contributions decides: only the field-scoped modify permissions count
    (under ODRL a plain use permission covers modify, and must not let anyone write)."""
    scoped = policy.model_copy(update={"permission": tuple(
        p for p in policy.permission if p.action.id == MODIFY)})
    return decide(scoped, action=CONTRIBUTE, field=field, **who)


def test_check_in_permission_is_scoped_to_stay_location_and_the_region():
    policy = policies.evacuee_registry("urn:offer:1", assigner=CITY,
                                       operators=["131016", "7000012050002"])
    operator = {"roles": ("shelter_operator",), "legal_id": "7000012050002"}
    assert may_modify(policy, "stayLocation", **operator)
    assert not may_modify(policy, "address", **operator)
    assert not may_modify(policy, "stayLocation", **operator, phase="recovery")
    assert not may_modify(policy, "stayLocation", roles=("shelter_operator",),
                          legal_id="6700001205001")
    assert not decide(policy, roles=("shelter_operator",), legal_id="6700001205001")
    assert not may_modify(policies.evacuee_registry("urn:offer:0", assigner=CITY),
                          "stayLocation", **operator)  # no operators named: read only


def test_medical_needs_are_for_medical_institutions_and_the_own_health_department():
    policy = policies.medical_needs("urn:offer:2", assigner=CITY, municipality_code="131016")
    assert decide(policy, roles=("medical_institution",), purpose="medical_care")
    assert decide(policy, roles=("health_department",), legal_id="131016")
    assert not decide(policy, roles=("health_department",), legal_id="041009")
    assert not decide(policy, roles=("shelter_operator",), legal_id="131016")
    assert not decide(policy, roles=("municipality",), legal_id="131016")


def test_suppliers_may_write_only_their_steps_and_municipalities_only_read():
    policy = policies.supply_requests("urn:offer:3", assigner=CITY, municipalities=["131016"])
    assert decide(policy, roles=("relief_supplier",), purpose="relief_supply")
    assert may_modify(policy, "committedQuantity", roles=("relief_supplier",))
    assert not may_modify(policy, "quantity", roles=("relief_supplier",))
    assert decide(policy, roles=("municipality",), legal_id="131016")
    assert not may_modify(policy, "status", roles=("municipality",), legal_id="131016")
