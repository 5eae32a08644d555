"""Which strings of a record are free text: decided by its schema, never by the value."""

from __future__ import annotations

import hashlib
import json
import uuid

from hypothesis import given
from hypothesis import strategies as st

from connector.data.content_rules import ContentRules
from connector.data.free_text import free_text
from connector.plugins.registry import plugin_contexts
from domains.bosai import plugin as bosai_plugin
from domains.bosai import vocab
from domains.bosai.content import CONTENT_RULES
from domains.bosai.datasets import DATASET_TYPES
from domains.japanese.mynumber import PersonalNumberRefused, contains_my_number

SCHEMA = {
    "type": "object",
    "properties": {
        "id": {"type": "string", "format": "iri"},
        "name": {"$ref": "#/$defs/text"},
        "kind": {"enum": ["a", "b"]},
        "code": {"type": "string", "x-tsunagu-identifier": True},
        "when": {"type": "string", "format": "date-time"},
        "notes": {"type": "array", "items": {"type": "string"}},
        "pair": {"type": "array", "prefixItems": [{"const": "x"}, {"type": "string"}]},
        "either": {"oneOf": [{"type": "string", "format": "uuid"},
                             {"type": "array", "items": {"type": "string"}}]},
        "mixed": {"anyOf": [{"type": "string", "format": "date"}, {"type": "string"}]},
        "fixed": {"allOf": [{"type": "string"}, {"x-tsunagu-identifier": True}]},
        "open": {"type": "object"},
        "tags": {"type": "object", "additionalProperties": {"enum": ["t"]}},
    },
    "$defs": {"text": {"type": "string", "maxLength": 100}},
}


def paths(document: dict) -> list[str]:
    return [path for path, _ in free_text(document, SCHEMA)]


def test_declared_text_and_undeclared_values_are_free_text():
    document = {"@context": ["x"], "type": "T", "proof": {"proofValue": "z1"},
                "id": "urn:x:1", "name": "山田", "kind": "a", "code": "04100-1",
                "when": "2024-01-01T00:00:00Z", "notes": ["一", "二"], "pair": ["x", "y"],
                "either": ["in", "array"], "mixed": "free", "fixed": "id-1",
                "open": {"deep": {"er": "text"}}, "tags": {"k": "t"}, "extra": "unknown"}
    assert paths(document) == ["$.name", "$.notes[0]", "$.notes[1]", "$.pair[1]",
                               "$.either[0]", "$.either[1]", "$.mixed",
                               "$.open.deep.er", "$.extra"]


def test_a_oneof_string_branch_that_is_machine_made_keeps_the_value_out():
    assert paths({"either": str(uuid.uuid4())}) == []


def test_without_a_schema_every_string_is_free_text():
    assert [p for p, _ in free_text({"id": "urn:x", "a": {"b": ["c"]}}, None)] == \
        ["$.id", "$.a.b[0]"]


def test_keys_that_are_not_identifiers_are_quoted_in_paths():
    assert paths({"open": {"住所": "x", "a b": "y"}}) == ["$.open['住所']", "$.open['a b']"]


@given(st.uuids(), st.binary(min_size=1, max_size=64))
def test_ids_and_digests_never_reach_the_detector(an_id, data):
    """About 0.2 % of random urn:uuid ids and 0.3 % of SHA-256 hex digests hold a run the
    detector takes for a My Number; marked as identifiers by the schema, they are not looked
    at, whatever they hold."""
    digest = hashlib.sha256(data).hexdigest()
    document = {"id": f"urn:uuid:{an_id}", "code": digest, "open": {}}
    assert paths(document) == []


def test_the_bosai_rules_cover_every_record_type_and_leave_ids_alone():
    assert set(CONTENT_RULES) == {dt.record_type for dt in DATASET_TYPES.values()}
    # With bosai's context, as its connector has: record types expand to its IRIs.
    rules = ContentRules(CONTENT_RULES.items(), plugin_contexts([bosai_plugin]))
    number = "271828182840"
    assert contains_my_number(number)
    schema = json.loads(DATASET_TYPES["evacuee"].schema.read_bytes())
    record = {"@context": list(vocab.RECORD_CONTEXT), "type": "Evacuee",
              "id": f"urn:uuid:3f1e2d4c-0000-4000-8000-{number}", "familyName": "試験",
              "givenName": "花子", "birthDate": "1970-01-02", "sex": "female",
              "address": "東京都", "consentToDisclose": True,
              "household": {"householdId": number},
              "stayLocation": {"stayType": "shelter", "shelterId": number}}
    assert [p for p, _ in free_text(record, schema)] == ["$.familyName", "$.givenName",
                                                         "$.address"]
    rules.check(record)  # nothing refused
    for field in ("familyName", "address"):
        try:
            rules.check({**record, field: f"x {number}"})
        except PersonalNumberRefused as exc:
            assert exc.field == f"$.{field}" and number not in str(exc)
        else:
            raise AssertionError(f"a My Number in {field} was not refused")
    record["careNeeds"] = {"careNotes": f"連絡 {number}"}
    try:
        rules.check(record)
    except PersonalNumberRefused as exc:
        assert exc.field == "$.careNeeds.careNotes"
    else:
        raise AssertionError("a My Number in careNotes was not refused")


def test_records_of_types_without_rules_are_not_looked_at():
    rules = ContentRules(CONTENT_RULES.items(), plugin_contexts([bosai_plugin]))
    rules.check({"@context": ["https://www.w3.org/ns/credentials/v2",
                              "https://w3id.org/tsunagu/v1"],
                 "type": "Record", "id": "urn:x", "name": "271828182840"})
