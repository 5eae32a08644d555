"""The pmh plug-in's vocabulary: the context is pinned and closed (every term defined, none
dropped), and the schemas, the context and domains/pmh/vocab.py agree."""

from __future__ import annotations

import hashlib

import pytest
from hypothesis import HealthCheck, given, settings

from connector.plugins.registry import activate_plugins, dataset_schema, plugin_contexts
from domains.pmh import plugin as pmh
from domains.pmh import vocab
from domains.pmh.model.datasets import DATASET_TYPES
from tests.domains.pmh import family
from tests.domains.pmh.strategies import families
from trust import jsonld
from trust.errors import JsonLdError

CONTEXTS = plugin_contexts([pmh])


@pytest.fixture(autouse=True)
def _active(isolated_registries):
    activate_plugins([pmh])


def test_the_context_file_is_the_one_pinned():
    assert hashlib.sha256(vocab.CONTEXT.path.read_bytes()).hexdigest() == vocab.CONTEXT.sha256
    assert CONTEXTS.get(vocab.CONTEXT_URL).sha256 == vocab.CONTEXT.sha256


@pytest.mark.parametrize("record", family.family(), ids=lambda r: r["type"] + r["id"][-3:])
def test_every_record_expands_and_compacts_back_unchanged(record):
    jsonld.check_no_dropped_terms(record, CONTEXTS)
    assert jsonld.compact(record, record["@context"], CONTEXTS) == record


def test_terms_map_to_the_intended_iris():
    node = jsonld.expand(family.mother(), CONTEXTS)[0]
    assert node["@type"] == [vocab.type_iri("Mother")]
    assert node["https://schema.org/familyName"] == [{"@value": "山田"}]
    assert node[vocab.NAMESPACE + "familyNameKana"] == [{"@value": "ヤマダ"}]
    child = jsonld.expand(family.child(), CONTEXTS)[0]
    assert child[vocab.NAMESPACE + "sex"] == [{"@id": vocab.NAMESPACE + "sex_female"}]
    link = jsonld.expand(family.link(), CONTEXTS)[0]
    assert link[vocab.NAMESPACE + "mother"] == [{"@id": family.MOTHER}]
    voucher = jsonld.expand(family.voucher(), CONTEXTS)[0]
    issuer = voucher[vocab.NAMESPACE + "issuer"][0]
    assert issuer["https://schema.org/name"] == [{"@value": "千代田区"}]


@pytest.mark.parametrize("record, term", [
    (family.mother(myNumber="123456789018"), "myNumber"),
    (family.child(sex="girl"), "girl"),
    (family.observation(measurement="iq"), "iq"),
    (family.voucher(issuer={"code": "131016", "mayor": "x"}), "mayor"),
    (family.immunization(vaccine="smallpox"), "smallpox"),
])
def test_undefined_terms_and_values_are_refused(record, term):
    with pytest.raises(JsonLdError) as caught:
        jsonld.check_no_dropped_terms(record, CONTEXTS)
    assert caught.value.code == "jsonld.dropped_term" and caught.value.details["term"] == term


def _scoped(context: dict, prop: str) -> set[str]:
    return {k for k in context[prop]["@context"] if not k.startswith("@")}


def test_tokens_schemas_and_context_agree():
    context = CONTEXTS.load(vocab.CONTEXT_URL)["@context"]
    props = {
        "sex": dataset_schema("children")["properties"]["sex"]["enum"],
        "encounterKind": dataset_schema("encounters")["properties"]["encounterKind"]["enum"],
        "voucherKind": dataset_schema("checkup-vouchers")["properties"]["voucherKind"]["enum"],
        "vaccine": dataset_schema("immunizations")["properties"]["vaccine"]["enum"],
        "grade": dataset_schema("observations")["properties"]["grade"]["enum"],
        "hearing": dataset_schema("observations")["properties"]["hearing"]["enum"],
        "measurement": dataset_schema("observations")["properties"]["measurement"]["enum"],
        **{prop: dataset_schema("observations")["properties"][prop]["enum"]
           for prop in ("checkupAge", "answer", "result", "abo", "rhD")},
    }
    for prop, labels in vocab.VOCABULARIES.items():
        assert set(props[prop]) == set(labels) == _scoped(context, prop), prop
    for term in vocab.RECORD_TYPES:
        assert context[term] == f"pmh:{term}"
    assert {dt.record_type for dt in DATASET_TYPES.values()} == {
        vocab.type_iri(t) for t in vocab.RECORD_TYPES}


def test_every_schema_property_is_a_term_of_the_contexts():
    context = CONTEXTS.load(vocab.CONTEXT_URL)["@context"]
    core = {"@context", "id", "type", "version", "modified", "proof", "wasAttributedTo",
            "wasDerivedFrom", "name"}
    for name in DATASET_TYPES:
        for prop, spec in dataset_schema(name)["properties"].items():
            assert prop in core or prop in context, (name, prop)
            for inner in (spec.get("properties") or {}):
                assert inner in core or inner in context[prop]["@context"], (name, inner)


def test_measurement_limits_in_the_schema_are_vocab_s():
    schema = dataset_schema("observations")
    rules = {r["if"]["properties"]["measurement"]["const"]: r["then"] for r in schema["allOf"]}
    assert set(rules) == set(vocab.MEASUREMENTS)
    for kind, m in vocab.MEASUREMENTS.items():
        value = rules[kind]["properties"].get("value")
        if m.shape in ("quantity", "score", "titer"):
            assert (value["minimum"], value["maximum"]) == (m.low, m.high), kind
    props = schema["properties"]
    for part in (vocab.SYSTOLIC, vocab.DIASTOLIC, vocab.GESTATIONAL_WEEKS,
                 vocab.GESTATIONAL_DAYS):
        assert (props[part.kind]["minimum"], props[part.kind]["maximum"]) == (part.low,
                                                                              part.high)


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow,
                                                                 HealthCheck.function_scoped_fixture])
@given(families())
def test_generated_records_lose_no_term(records):
    for record in records:
        jsonld.check_no_dropped_terms(record, CONTEXTS)
        assert jsonld.compact(record, record["@context"], CONTEXTS) == record
