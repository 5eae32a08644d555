"""The compiled DSP schema check (jsonschema_rs) answers "valid" only where the reference
(jsonschema) does: connector.protocol.dsp.validation trusts its "valid" and asks the
reference otherwise, so it must never be more lenient. Checked on the specification's 27
examples, tsunagu's own messages, and hostile mutations of both."""

from __future__ import annotations

import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bench.catalog import catalog_of, participants_of
from connector.protocol.dsp import validation as v
from tests.fuzz.strategies import FUZZ, json_values, mutated
from tests.fuzz.test_fuzz_protocol import EXAMPLES as OWN
from tests.vectors import UPSTREAM_DSP

SPEC = [json.loads(p.read_text()) for p in sorted((UPSTREAM_DSP / "examples").rglob("*.json"))]
PAGE = catalog_of(participants_of()[0], 0, 1000)  # a 10-dataset Catalog as connectors answer
MESSAGES = [d for d in [*SPEC, *OWN, PAGE]
            if isinstance(d, dict) and (v.document_kind(d) or d.get("@type")) in
            {**v.SCHEMA_FOR_TYPE, **v.DOCUMENT_SCHEMAS}]
PROPERTY = settings(FUZZ, max_examples=600)


def kind(document: dict) -> str:
    return v.document_kind(document) or document["@type"]


def reference_ok(document: object, message_type: str) -> bool:
    return v._validator(message_type).is_valid(document)


def test_every_message_type_compiles_and_agrees_on_the_examples() -> None:
    assert len(MESSAGES) >= 30
    for document in MESSAGES:
        assert v._compiled(kind(document)) is not None
        assert v.compiled_valid(document, kind(document)) == reference_ok(document, kind(document))


@PROPERTY
@given(st.sampled_from(MESSAGES).flatmap(lambda d: st.tuples(st.just(kind(d)), mutated(d))))
def test_a_mutated_message_the_compiled_check_accepts_the_reference_accepts(case) -> None:
    message_type, document = case
    if v.compiled_valid(document, message_type):
        assert reference_ok(document, message_type)


@PROPERTY
@given(st.sampled_from(sorted({kind(d) for d in MESSAGES})), json_values(12))
def test_random_json_the_compiled_check_accepts_the_reference_accepts(message_type,
                                                                       document) -> None:
    if isinstance(document, dict) and v.compiled_valid(document, message_type):
        assert reference_ok(document, message_type)


def test_an_invalid_message_is_still_refused_with_the_reference_errors() -> None:
    bad = {**PAGE, "dataset": [{"@id": "urn:x"}]}
    with pytest.raises(v.DspValidationError) as caught:
        v.validate_message(bad)
    assert caught.value.details["errors"][0]["path"].startswith("$.dataset")


def test_a_catalog_is_checked_dataset_by_dataset_with_the_error_path_in_the_whole() -> None:
    """check_jsonld takes a Catalog one dataset at a time (the shape cache then answers
    pages of like datasets); a dropped term is still found, and named where it is."""
    from trust.errors import JsonLdError

    page = catalog_of(participants_of()[0], 0, 5000)  # 50 datasets
    v.check_jsonld(page)
    bad = {**page, "dataset": [*page["dataset"][:36],
                               {**page["dataset"][36], "undefinedTerm": "x"},
                               *page["dataset"][37:]]}
    with pytest.raises(JsonLdError) as caught:
        v.check_jsonld(bad)
    assert caught.value.details["term"] == "undefinedTerm"
    assert "$.dataset[36]" in caught.value.details["path"]
