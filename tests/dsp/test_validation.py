"""DSP 2025-1 schemas, the $ref repair, message builders and the JSON-LD check."""

from __future__ import annotations

import copy
import json
from datetime import UTC, datetime, timedelta, timezone
from importlib.resources import files

import jsonschema
import pytest
import referencing.exceptions
from referencing import Registry, Resource

from connector.protocol.dsp import messages as m
from connector.protocol.dsp import validation
from connector.protocol.dsp.validation import (
    MESSAGE_TYPES,
    DspValidationError,
    check_jsonld,
    validate_message,
)
from tests.vectors import UPSTREAM_DSP
from trust import jsonld
from trust.errors import JsonLdError, ValidationError

BUNDLED = files("connector.protocol.dsp") / "schemas"
C = "urn:uuid:32541fe6-c580-409e-85a8-8a9a32fbe833"
P = "urn:uuid:a343fcbf-99fc-4ce8-8e9b-148c97605aab"
DATASET = "urn:uuid:3dd1add8-4d2d-569e-d634-8394a8836a88"
RULES = [m.rule("use", [m.constraint("odrl:dateTime", "lteq", "2030-12-31T00:00:00Z")])]
MESSAGE_OFFER = m.offer("urn:uuid:offer-1", target=DATASET, permission=RULES)
AGREEMENT = m.agreement("urn:uuid:agreement-1", target=DATASET, assigner="did:key:zProvider",
                        assignee="did:key:zConsumer",
                        timestamp=datetime(2025, 4, 1, 9, 0, tzinfo=timezone(timedelta(hours=9))),
                        permission=RULES)
NATS_ADDRESS = m.nats_data_address("tsunagu.data.zProvider.ds1.>", stream="DATA_zProvider",
                                   consumer="agreement-1", authorization="activation-jwt",
                                   auth_type="nats-activation")
SERVICE = m.data_service("urn:uuid:service-1", "nats://127.0.0.1:4222")
DATASET_ARGS = {"offers": [m.offer("urn:uuid:offer-1", permission=RULES)],
                "distributions": [m.distribution("nats-jetstream", "urn:uuid:service-1")]}


def built_messages() -> dict[str, dict]:
    """One message per builder use; names say which variant."""
    return {
        "catalog request": m.catalog_request(),
        "catalog request with filter": m.catalog_request([]),
        "dataset request": m.dataset_request(DATASET),
        "catalog": m.catalog("urn:uuid:catalog-1", participant_id="did:key:zProvider",
                             datasets=[m.dataset_entry(DATASET, **DATASET_ARGS)],
                             services=[SERVICE]),
        "dataset": m.dataset(DATASET, offers=DATASET_ARGS["offers"],
                             distributions=[m.distribution("nats-jetstream", SERVICE)]),
        "catalog error": m.catalog_error(code="not-found", reason=["no such catalog"]),
        "contract request (initial)": m.contract_request(C, MESSAGE_OFFER,
                                                         callback_address="tsunagu.dsp.zC"),
        "contract request (counter)": m.contract_request(C, MESSAGE_OFFER, provider_pid=P),
        "contract offer (initial)": m.contract_offer(P, MESSAGE_OFFER,
                                                     callback_address="tsunagu.dsp.zP"),
        "contract offer (counter)": m.contract_offer(P, MESSAGE_OFFER, consumer_pid=C),
        "contract agreement": m.contract_agreement(C, P, AGREEMENT),
        "agreement verification": m.agreement_verification(C, P),
        "event ACCEPTED": m.negotiation_event(C, P, "ACCEPTED"),
        "event FINALIZED": m.negotiation_event(C, P, "FINALIZED"),
        "negotiation termination": m.negotiation_termination(C, P, code="c", reason=["why"]),
        "negotiation termination (bare)": m.negotiation_termination(C, P),
        "contract negotiation (ack)": m.contract_negotiation(C, P, "REQUESTED"),
        "contract negotiation error": m.contract_negotiation_error(C, P, code="x", reason=["y"]),
        "transfer request (pull)": m.transfer_request(C, agreement_id="urn:uuid:agreement-1",
                                                      format="nats-jetstream",
                                                      callback_address="tsunagu.dsp.zC"),
        "transfer request (push)": m.transfer_request(C, agreement_id="urn:uuid:agreement-1",
                                                      format="nats-jetstream",
                                                      callback_address="tsunagu.dsp.zC",
                                                      data_address=NATS_ADDRESS),
        "transfer start": m.transfer_start(C, P, data_address=NATS_ADDRESS),
        "transfer start (bare)": m.transfer_start(C, P),
        "transfer suspension": m.transfer_suspension(C, P, code="paused", reason=["maintenance"]),
        "transfer completion": m.transfer_completion(C, P),
        "transfer termination": m.transfer_termination(C, P, code="gone", reason=["revoked"]),
        "transfer process (ack)": m.transfer_process(C, P, "STARTED"),
        "transfer error": m.transfer_error(C, P, code="x", reason=["y"]),
    }


BUILT = built_messages()


@pytest.fixture
def fresh_jsonld_caches():
    jsonld.CORE_CONTEXTS.clear_caches()
    yield
    jsonld.CORE_CONTEXTS.clear_caches()


def test_builders_cover_every_message_type():
    assert {msg["@type"] for msg in BUILT.values()} == set(MESSAGE_TYPES)
    assert len(MESSAGE_TYPES) == 20


@pytest.mark.parametrize("name", BUILT)
def test_built_message_validates(name):
    assert validate_message(BUILT[name]) == BUILT[name]["@type"]
    assert BUILT[name]["@context"] == ["https://w3id.org/dspace/2025/1/context.jsonld"]


@pytest.mark.parametrize("name", BUILT)
def test_built_message_expands_without_dropped_terms(name, fresh_jsonld_caches):
    check_jsonld(BUILT[name])


def test_all_built_messages_expand_in_one_process(fresh_jsonld_caches):
    # A connector expands many message types with shared context caches; the order must not
    # matter (ContractRequest, ContractAgreement and Dataset each @import the ODRL profile).
    for name in [*BUILT, *reversed(BUILT)]:
        check_jsonld(BUILT[name])


def test_agreement_timestamp_is_utc_z():
    assert AGREEMENT["timestamp"] == "2025-04-01T00:00:00Z"


def test_nats_data_address_shape():
    assert NATS_ADDRESS == {
        "@type": "DataAddress",
        "endpointType": m.NATS_ENDPOINT_TYPE,
        "endpoint": "tsunagu.data.zProvider.ds1.>",
        "endpointProperties": [
            {"@type": "EndpointProperty", "name": "stream", "value": "DATA_zProvider"},
            {"@type": "EndpointProperty", "name": "consumer", "value": "agreement-1"},
            {"@type": "EndpointProperty", "name": "authorization", "value": "activation-jwt"},
            {"@type": "EndpointProperty", "name": "authType", "value": "nats-activation"},
        ],
    }


@pytest.mark.parametrize("call", [
    lambda: m.contract_request(C, MESSAGE_OFFER, provider_pid=P, callback_address="cb"),
    lambda: m.contract_request(C, MESSAGE_OFFER),
    lambda: m.contract_offer(P, MESSAGE_OFFER, consumer_pid=C, callback_address="cb"),
    lambda: m.negotiation_event(C, P, "AGREED"),
    lambda: m.offer("urn:uuid:o"),
    lambda: m.agreement("urn:a", target=DATASET, assigner="a", assignee="b",
                        timestamp=datetime(2025, 1, 1), permission=RULES),
], ids=["request both", "request neither", "offer both", "bad event", "no rules", "naive time"])
def test_builders_refuse_what_the_schema_would_refuse(call):
    with pytest.raises(ValueError):
        call()


# --- official DSP 2025-1 examples ------------------------------------------------------------
# Copied from eclipse-dataspace-protocol-base/DataspaceProtocol, artifacts/src/main/resources/
# */example/ (commits 1ca2c95 and 86c21cd), Apache-2.0; see connector/protocol/dsp/schemas/LICENSE.

CTX = ["https://w3id.org/dspace/2025/1/context.jsonld"]
OFFICIAL = {
    "catalog-request-message": {"@context": CTX, "@type": "CatalogRequestMessage", "filter": []},
    "catalog-error": {"@context": CTX, "@type": "CatalogError", "code": "123-A",
                      "reason": ["Catalog not provisioned for this requester."]},
    "catalog": {
        "@context": CTX, "@id": "urn:uuid:3afeadd8-ed2d-569e-d634-8394a8836d57",
        "@type": "Catalog", "participantId": "urn:example:DataProviderA",
        "service": [{"@id": "urn:uuid:4aa2dcc8-4d2d-569e-d634-8394a8834d77",
                     "@type": "DataService", "endpointURL": "https://provider-a.com/connector"}],
        "dataset": [{
            "@id": DATASET, "@type": "Dataset",
            "hasPolicy": [{"@id": DATASET, "@type": "Offer", "permission": [{
                "action": "use",
                "constraint": [{"leftOperand": "spatial", "operator": "eq",
                                "rightOperand": "http://example.org/EU"}],
                "duty": {"action": "Attribution"}}]}],
            "distribution": [{"@type": "Distribution", "format": "HttpData-PULL",
                              "accessService": "urn:uuid:4aa2dcc8-4d2d-569e-d634-8394a8834d77"}],
        }],
    },
    "contract-offer-message_initial": {
        "@context": CTX, "@type": "ContractOfferMessage", "providerPid": P,
        "offer": {"@type": "Offer", "@id": "urn:uuid:d526561f-528e-4d5a-ae12-9a9dd9b7a518",
                  "target": DATASET, "permission": [{"action": "use"}]},
        "callbackAddress": "https://example.com/callback"},
    "contract-agreement-message": {
        "@context": CTX, "@type": "ContractAgreementMessage", "providerPid": P, "consumerPid": C,
        "agreement": {
            "@id": "urn:uuid:e8dc8655-44c2-46ef-b701-4cffdc2faa44", "@type": "Agreement",
            "target": "urn:uuid:3dd1add4-4d2d-569e-d634-8394a8836d23",
            "timestamp": "2023-01-01T01:00:00Z", "assigner": "http://example.com/Provider",
            "assignee": "http://example.com/Consumer",
            "permission": [{"action": "use", "constraint": [{
                "leftOperand": "dateTime", "operator": "lteq",
                "rightOperand": "2023-12-31T06:00Z"}]}]},
        "callbackAddress": "https://example.com/callback"},
    "contract-negotiation-event-message": {
        "@context": CTX, "@type": "ContractNegotiationEventMessage", "providerPid": P,
        "consumerPid": C, "eventType": "ACCEPTED"},
    "contract-negotiation-error": {
        "@context": CTX, "@type": "ContractNegotiationError", "providerPid": P,
        "consumerPid": C, "code": "99",
        "reason": ["Catalog not provisioned for this requester."]},
    "transfer-request-message": {
        "@context": CTX, "@type": "TransferRequestMessage", "consumerPid": C,
        "agreementId": "urn:uuid:e8dc8655-44c2-46ef-b701-4cffdc2faa44",
        "format": "example:HTTP_PUSH",
        "dataAddress": {
            "@type": "DataAddress", "endpointType": "https://w3id.org/idsa/v4.1/HTTP",
            "endpoint": "http://example.com",
            "endpointProperties": [
                {"@type": "EndpointProperty", "name": "authorization", "value": "TOKEN-ABCDEFG"},
                {"@type": "EndpointProperty", "name": "authType", "value": "bearer"}]},
        "callbackAddress": "https://example.com/callback"},
    "transfer-suspension-message": {
        "@context": CTX, "@type": "TransferSuspensionMessage", "providerPid": P,
        "consumerPid": C, "code": "99", "reason": ["Policy violation"]},
    "transfer-termination-message": {
        "@context": CTX, "@type": "TransferTerminationMessage", "providerPid": P,
        "consumerPid": C, "code": "99", "reason": ["Policy violation"]},
    "transfer-error": {
        "@context": CTX, "@type": "TransferError", "providerPid": P, "consumerPid": C,
        "code": "99", "reason": ["Internal error"]},
}
# The official contract-request-message.json example carries both providerPid and
# callbackAddress, which the schema's oneOf forbids: the spec's example contradicts its schema.
OFFICIAL_REQUEST_BOTH = {
    "@context": CTX, "@type": "ContractRequestMessage", "providerPid": P, "consumerPid": C,
    "offer": {"@type": "Offer", "@id": "urn:uuid:d526561f-528e-4d5a-ae12-9a9dd9b7a815",
              "target": DATASET, "permission": [{"action": "use"}]},
    "callbackAddress": "https://example.com/callback"}


@pytest.mark.parametrize("name", OFFICIAL)
def test_official_example_validates(name):
    assert validate_message(OFFICIAL[name]) == OFFICIAL[name]["@type"]


def test_official_request_example_breaks_its_own_oneof():
    with pytest.raises(DspValidationError) as info:
        validate_message(OFFICIAL_REQUEST_BOTH)
    assert info.value.details["errors"] == [
        {"path": "$", "reason": "must have exactly one of: callbackAddress | providerPid"}]


@pytest.mark.parametrize("name", [n for n in OFFICIAL if n not in
                                  ("catalog", "contract-agreement-message")])
def test_official_example_expands(name, fresh_jsonld_caches):
    check_jsonld(OFFICIAL[name])


def test_bare_left_operand_of_official_examples_reads_as_the_odrl_term(fresh_jsonld_caches):
    # "dateTime" / "spatial" are not defined by the DSP ODRL profile context; the DSP ODRL
    # profile means the ODRL vocabulary terms (trust.jsonld.odrl_terms), so they expand to them.
    import json

    from tests.vectors import UPSTREAM_DSP
    from trust import jsonld

    message = json.loads((UPSTREAM_DSP / "examples/negotiation/contract-offer-message.json")
                         .read_text(encoding="utf-8"))
    [expanded] = jsonld.expand(message)
    odrl = "http://www.w3.org/ns/odrl/2/"
    constraint = expanded["https://w3id.org/dspace/2025/1/offer"][0][odrl + "permission"][0][
        odrl + "constraint"][0]
    assert constraint[odrl + "leftOperand"] == [{"@id": odrl + "dateTime"}]
    message["offer"]["permission"][0]["action"] = "usee"  # no ODRL action: an undefined term
    with pytest.raises(JsonLdError) as info:
        jsonld.expand(message)
    assert info.value.code == "jsonld.dropped_term"
    assert "$.offer.permission[0].action" in info.value.message


def test_undefined_term_is_reported_by_the_jsonld_check(fresh_jsonld_caches):
    message = {**m.transfer_completion(C, P), "completedBy": "me"}
    assert validate_message(message) == "TransferCompletionMessage"  # schemas allow extras
    with pytest.raises(JsonLdError) as info:
        check_jsonld(message)
    assert info.value.code == "jsonld.dropped_term"


# --- invalid messages: every kind names the failing path --------------------------------------

def _without(path: tuple):
    def mutate(msg: dict) -> None:
        *parents, last = path
        node = msg
        for step in parents:
            node = node[step]
        del node[last]
    return mutate


def _set(path: tuple, value):
    def mutate(msg: dict) -> None:
        *parents, last = path
        node = msg
        for step in parents:
            node = node[step]
        node[last] = value
    return mutate


INVALID = [
    # built message, mutation, expected path, expected reason
    ("catalog request", _set(("filter",), "all"), "$.filter", "must be of type array"),
    ("dataset request", _without(("dataset",)), "$", "'dataset' is required"),
    ("catalog", _without(("participantId",)), "$", "'participantId' is required"),
    ("catalog", _set(("dataset", 0, "hasPolicy", 0, "target"), DATASET),
     "$.dataset[0].hasPolicy[0]", "must not have: target"),
    ("dataset", _set(("distribution",), []), "$.distribution", "at least 1 item"),
    ("catalog error", _set(("reason",), "no"), "$.reason", "must be of type array"),
    ("contract request (initial)", _without(("offer", "@id")), "$.offer", "'@id' is required"),
    ("contract request (counter)", _set(("callbackAddress",), "cb"), "$",
     "must have exactly one of: callbackAddress | providerPid"),
    ("contract offer (counter)", _set(("offer", "permission", 0, "constraint", 0, "operator"),
                                      "approximately"),
     "$.offer.permission[0].constraint[0]", "exactly one"),
    ("contract agreement", _set(("agreement", "timestamp"), "yesterday"),
     "$.agreement.timestamp", "required format"),
    ("contract agreement", _without(("agreement", "assignee")), "$.agreement",
     "'assignee' is required"),
    ("agreement verification", _without(("providerPid",)), "$", "'providerPid' is required"),
    ("event ACCEPTED", _set(("eventType",), "AGREED"), "$.eventType",
     "must be one of ACCEPTED, FINALIZED"),
    ("negotiation termination", _set(("reason",), []), "$.reason", "at least 1 item"),
    ("contract negotiation (ack)", _set(("state",), "DONE"), "$.state", "must be one of"),
    ("contract negotiation error", _set(("consumerPid",), 7), "$.consumerPid",
     "must be of type string"),
    ("transfer request (pull)", _without(("agreementId",)), "$", "'agreementId' is required"),
    ("transfer start", _without(("dataAddress", "endpointType")), "$.dataAddress",
     "'endpointType' is required"),
    ("transfer start", _set(("dataAddress", "endpointProperties", 0, "value"), 1),
     "$.dataAddress.endpointProperties[0].value", "must be of type string"),
    ("transfer suspension", _without(("consumerPid",)), "$", "'consumerPid' is required"),
    ("transfer completion", _set(("@context",), ["https://www.w3.org/ns/odrl.jsonld"]),
     "$['@context']", "must contain 'https://w3id.org/dspace/2025/1/context.jsonld'"),
    ("transfer termination", _without(("providerPid",)), "$", "'providerPid' is required"),
    ("transfer process (ack)", _set(("state",), "AGREED"), "$.state", "must be one of"),
    ("transfer error", _set(("reason",), []), "$.reason", "at least 1 item"),
]


@pytest.mark.parametrize(("name", "mutate", "path", "reason"), INVALID,
                         ids=[f"{i[0]}->{i[2]}" for i in INVALID])
def test_invalid_message_reports_the_path(name, mutate, path, reason):
    message = copy.deepcopy(BUILT[name])
    mutate(message)
    with pytest.raises(DspValidationError) as info:
        validate_message(message)
    error = info.value
    assert error.code == "dsp.invalid_message"
    assert isinstance(error, ValidationError)
    assert error.details["type"] == message["@type"]
    assert any(e["path"] == path and reason in e["reason"] for e in error.details["errors"]), \
        error.details["errors"]
    assert path in error.message


def test_every_message_type_has_an_invalid_case():
    covered = {BUILT[name]["@type"] for name, *_ in INVALID}
    assert covered == set(MESSAGE_TYPES)


def test_reasons_do_not_echo_values():
    message = {**m.transfer_error(C, P), "code": ["secret-token-value"]}
    with pytest.raises(DspValidationError) as info:
        validate_message(message)
    assert "secret-token-value" not in str(info.value)
    assert info.value.details["errors"] == [{"path": "$.code", "reason": "must be of type string"}]


def test_error_list_is_capped():
    message = m.catalog("urn:uuid:c", participant_id="did:key:zP",
                        datasets=[{"hasPolicy": []} for _ in range(15)])
    with pytest.raises(DspValidationError) as info:
        validate_message(message)
    details = info.value.details
    assert len(details["errors"]) == validation.MAX_REPORTED_ERRORS
    assert details["total"] > validation.MAX_REPORTED_ERRORS
    assert f"and {details['total'] - 20} more" in info.value.message


@pytest.mark.parametrize(("message", "expected"), [
    ({"@context": CTX, "@type": "ContractRequest"}, "unknown DSP message type 'ContractRequest'"),
    ({"@context": CTX, "@type": "dspace:TransferStartMessage"},
     "unknown DSP message type 'dspace:TransferStartMessage'"),
    ({"@context": CTX}, "no @type"),
    ({"@context": CTX, "@type": ["TransferStartMessage"]}, "no @type"),
    (["TransferStartMessage"], "must be a JSON object"),
])
def test_unknown_or_missing_type(message, expected):
    with pytest.raises(DspValidationError) as info:
        validate_message(message)
    assert expected in info.value.message
    assert info.value.code == "dsp.invalid_message"


# --- the schema registry and the $ref repair -----------------------------------------------

BROKEN = ("https://w3id.org/dspace/2025/1/transfer/transfer-schema.json"
          "#definitions/AbstractTransferCodeMessage")
SCHEMA_FILES = [f"{folder}/{entry.name}" for folder in validation.SCHEMA_FOLDERS
                for entry in (BUNDLED / folder).iterdir() if entry.name.endswith(".json")]


def test_bundled_schemas_are_the_unchanged_dsp_files():
    upstream = UPSTREAM_DSP  # the specification's files, copied with its licence
    for name in [*SCHEMA_FILES, "LICENSE", "NOTICE.md"]:
        with open(f"{upstream}/{name}", "rb") as original:
            assert BUNDLED.joinpath(name).read_bytes() == original.read(), name


@pytest.mark.parametrize("name", ["transfer-termination-message-schema.json",
                                  "transfer-suspension-message-schema.json",
                                  "transfer-error-schema.json"])
def test_broken_ref_is_in_the_files_and_repaired_in_the_registry(name):
    raw = (BUNDLED / "transfer" / name).read_text(encoding="utf-8")
    assert BROKEN in raw
    loaded = validation.registry().contents(f"{validation.SCHEMA_BASE}transfer/{name}")
    assert BROKEN not in json.dumps(loaded)
    assert BROKEN.replace("#definitions", "#/definitions") in json.dumps(loaded)


def test_unrepaired_ref_is_refused_by_a_strict_resolver():
    # Why the repair exists: the same registry without it cannot resolve the reference.
    resources = [
        (f"{validation.SCHEMA_BASE}{rel}",
         Resource.from_contents(json.loads((BUNDLED / rel).read_text(encoding="utf-8"))))
        for rel in SCHEMA_FILES]
    registry = Registry().with_resources(resources)
    schema = registry.contents(
        f"{validation.SCHEMA_BASE}transfer/transfer-termination-message-schema.json")
    validator = jsonschema.Draft201909Validator(schema, registry=registry)
    with pytest.raises(referencing.exceptions.Unresolvable):
        validator.validate(m.transfer_termination(C, P))


def test_repaired_ref_applies_the_abstract_schema():
    assert validate_message(m.transfer_termination(C, P, code="x", reason=["y"])) \
        == "TransferTerminationMessage"
    # The abstract schema is where providerPid/consumerPid/reason are required and typed.
    bad = {**m.transfer_termination(C, P), "reason": "not a list"}
    del bad["consumerPid"]
    with pytest.raises(DspValidationError) as info:
        validate_message(bad)
    assert {e["path"] for e in info.value.details["errors"]} == {"$", "$.reason"}


def test_registry_holds_every_schema_by_its_id():
    registry = validation.registry()
    for rel in SCHEMA_FILES:
        assert registry.contents(f"{validation.SCHEMA_BASE}{rel}")["$id"] \
            == f"https://w3id.org/dspace/2025/1/{rel}"


def test_naive_and_aware_timestamps():
    ts = m.agreement("urn:a", target=DATASET, assigner="a", assignee="b",
                     timestamp=datetime(2025, 1, 1, 12, 30, 5, 123456, tzinfo=UTC),
                     permission=RULES)["timestamp"]
    assert ts == "2025-01-01T12:30:05Z"
