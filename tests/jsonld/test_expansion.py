"""trust.jsonld.expansion: strict expansion and compaction, every data loss an error."""

from __future__ import annotations

import copy
import hashlib
import json

import pytest

from tests.jsonld.helpers import DSPACE, ODRL, TSUNAGU, VECTORS, XSD, offer, raises
from trust import jsonld


@pytest.fixture(autouse=True)
def _fresh_caches():
    jsonld.CORE_CONTEXTS.clear_caches()
    yield
    jsonld.CORE_CONTEXTS.clear_caches()


def test_dsp_catalog_request_message_expands():
    message = {"@context": ["https://w3id.org/dspace/2025/1/context.jsonld"],
               "@type": "CatalogRequestMessage", "filter": []}
    [node] = jsonld.expand(message)
    assert node["@type"] == [DSPACE + "CatalogRequestMessage"]
    assert node[DSPACE + "filter"] == []


def test_dsp_dataset_imports_the_odrl_profile():
    dataset = {"@context": [jsonld.DSP_CONTEXT], "@type": "Dataset", "@id": "urn:uuid:ds-1",
               "hasPolicy": [{"@type": "Offer", "@id": "urn:uuid:p-1",
                              "permission": [{"action": "use"}]}],
               "distribution": [{"@type": "Distribution", "format": "HttpData-PULL"}]}
    [node] = jsonld.expand(dataset)
    [policy] = node[ODRL + "hasPolicy"]
    assert policy["@type"] == [ODRL + "Offer"]
    assert policy[ODRL + "permission"][0][ODRL + "action"] == [{"@id": ODRL + "use"}]
    # DSP writes formats as bare tokens; they are kept, not treated as undefined terms.
    [distribution] = node["http://www.w3.org/ns/dcat#distribution"]
    assert distribution["http://purl.org/dc/terms/format"] == [{"@id": "HttpData-PULL"}]


def test_an_import_does_not_leak_terms_into_the_imported_context():
    # pyld 3.3 merges the importing context into the cached imported one; after a Dataset
    # (which imports the ODRL profile) the profile alone must still not define "distribution".
    jsonld.expand({"@context": [jsonld.DSP_CONTEXT], "@type": "Dataset", "@id": "urn:ds",
                   "distribution": []})
    error = raises("jsonld.dropped_term", {"@context": jsonld.ODRL_CONTEXT, "@type": "Set",
                                           "@id": "urn:p", "distribution": "x"})
    assert error.details["term"] == "distribution"


def _mixed_documents() -> list:
    policy = {"@type": "Offer", "@id": "urn:uuid:offer-1", "target": "urn:uuid:asset-1",
              "permission": [{"action": "use"}]}
    dsp = [jsonld.DSP_CONTEXT]
    return [
        {"@context": dsp, "@type": "Dataset", "@id": "urn:ds", "hasPolicy": [policy],
         "distribution": [{"@type": "Distribution", "format": "HttpData-PULL"}]},
        {"@context": dsp, "@type": "ContractRequestMessage", "consumerPid": "urn:c",
         "offer": policy, "callbackAddress": "tsunagu.dsp.zC"},
        {"@context": dsp, "@type": "ContractOfferMessage", "providerPid": "urn:p",
         "offer": policy, "callbackAddress": "tsunagu.dsp.zP"},
        {"@context": dsp, "@type": "ContractAgreementMessage", "providerPid": "urn:p",
         "consumerPid": "urn:c", "timestamp": "2025-04-01T00:00:00Z",
         "agreement": {**policy, "@type": "Agreement", "assigner": "did:key:zP",
                       "assignee": "did:key:zC"}},
        {"@context": dsp, "@type": "Catalog", "@id": "urn:cat", "participantId": "did:key:zP",
         "dataset": [{"@type": "Dataset", "@id": "urn:ds2", "hasPolicy": [policy]}]},
        {"@context": jsonld.ODRL_CONTEXT, **policy},
        {"@context": [jsonld.CREDENTIALS_V2, jsonld.TSUNAGU_V1], "type": "Record",
         "id": "urn:r", "version": 1, "disasterPhase": "recovery"},
        json.loads((VECTORS / "signedJCS.json").read_text()),
    ]


def test_results_do_not_depend_on_what_was_expanded_before():
    # Context caches are shared across calls; every document must expand exactly as it does
    # on its own, whatever came before it (pyld's @import caching got this wrong).
    documents = _mixed_documents()
    alone = [jsonld.expand(document, jsonld.ContextRegistry.core()) for document in documents]
    contexts = jsonld.ContextRegistry.core()
    order = [*range(len(documents)), *reversed(range(len(documents)))]
    assert [jsonld.expand(documents[i], contexts) for i in order] == [alone[i] for i in order]
    [request] = alone[1]
    assert request[DSPACE + "callbackAddress"] == [{"@value": "tsunagu.dsp.zC"}]


def test_verifiable_credential_from_the_w3c_vectors_expands():
    credential = json.loads((VECTORS / "signedJCS.json").read_text())
    [node] = jsonld.expand(credential)
    assert node["@type"] == ["https://www.w3.org/2018/credentials#VerifiableCredential",
                             "https://www.w3.org/ns/credentials/examples#AlumniCredential"]
    [subject] = node["https://www.w3.org/2018/credentials#credentialSubject"]
    assert subject["https://www.w3.org/ns/credentials/examples#alumniOf"] == [
        {"@value": "The School of Examples"}]
    [proof_graph] = node["https://w3id.org/security#proof"]
    [proof] = proof_graph["@graph"]
    assert proof["https://w3id.org/security#cryptosuite"][0]["@value"] == "eddsa-jcs-2022"


def test_tsunagu_record_expands_with_typed_values():
    record = {"@context": [jsonld.CREDENTIALS_V2, jsonld.DSP_CONTEXT, jsonld.TSUNAGU_V1],
              "id": "urn:uuid:rec-1", "type": "Record", "version": 3,
              "modified": "2025-03-01T09:00:00Z", "wasAttributedTo": "did:key:z6MkExample",
              "wasDerivedFrom": ["urn:uuid:rec-0"], "disasterPhase": "response"}
    [node] = jsonld.expand(record)
    assert node["@type"] == [TSUNAGU + "Record"]
    assert node[TSUNAGU + "version"] == [{"@value": 3, "@type": XSD + "integer"}]
    assert node["http://purl.org/dc/terms/modified"] == [
        {"@value": "2025-03-01T09:00:00Z", "@type": XSD + "dateTime"}]
    assert node["http://www.w3.org/ns/prov#wasAttributedTo"] == [{"@id": "did:key:z6MkExample"}]
    assert node["http://www.w3.org/ns/prov#wasDerivedFrom"] == [{"@id": "urn:uuid:rec-0"}]
    assert node[TSUNAGU + "disasterPhase"] == [{"@id": TSUNAGU + "phase_response"}]


def test_inline_context_works():
    document = {"@context": {"ex": "https://example.org/ns#", "name": "ex:name",
                             "knows": {"@id": "ex:knows", "@type": "@id"}},
                "@id": "urn:a", "name": "A", "knows": "urn:b"}
    assert jsonld.expand(document) == [{"@id": "urn:a",
                                        "https://example.org/ns#name": [{"@value": "A"}],
                                        "https://example.org/ns#knows": [{"@id": "urn:b"}]}]


def test_relative_identifiers_stay_relative():
    # pyld would resolve "asset-1" against http://example.org/base/ without an explicit base.
    [node] = jsonld.expand({"@context": {"ex": "https://example.org/ns#"}, "@id": "asset-1",
                            "ex:p": 1})
    assert node["@id"] == "asset-1"


def test_inputs_are_not_mutated():
    document = offer()
    context = [jsonld.ODRL_CONTEXT, {"ex": "https://example.org/ns#"}]
    before = copy.deepcopy((document, context))
    jsonld.expand(document)
    jsonld.check_no_dropped_terms(document)
    jsonld.compact(document, context)
    assert (document, context) == before


def _probe_inline_context() -> str:
    """Expand with {"ex": ...} processed on a fresh active context, so the cached copy of
    that inline context is read again rather than its processed form."""
    [node] = jsonld.expand({"@context": [{"probe": f"https://probe.example/{id(object())}#"},
                                         {"ex": "https://example.org/ns#"}],
                            "@id": "urn:a", "ex:p": 1})
    return next(key for key in node if key != "@id")


@pytest.mark.parametrize("who", ["caller", "output"])
def test_cached_contexts_cannot_be_changed_through_arguments_or_results(who):
    context = [jsonld.ODRL_CONTEXT, {"ex": "https://example.org/ns#"}]
    compacted = jsonld.compact(offer(), context)
    changed = context if who == "caller" else compacted["@context"]
    changed[1]["ex"] = "https://evil.example/"
    assert _probe_inline_context() == "https://example.org/ns#p"


def test_misspelled_odrl_term_raises_naming_it():
    policy = offer()
    policy["permission"][0]["constrain"] = policy["permission"][0].pop("constraint")
    error = raises("jsonld.dropped_term", policy)
    assert error.details == {"term": "constrain", "path": "$.permission[0].constrain"}
    assert "'constrain'" in error.message and "$.permission[0].constrain" in error.message


def test_term_mapped_to_null_raises():
    document = {"@context": [jsonld.TSUNAGU_V1, {"note": None}], "@id": "urn:r", "note": "x"}
    assert raises("jsonld.dropped_term", document).details["term"] == "note"


def test_undefined_type_raises_naming_it():
    policy = offer()
    policy["@type"] = "Ofer"
    error = raises("jsonld.dropped_term", policy)
    assert error.details == {"term": "Ofer", "path": '$["@type"]'}


@pytest.mark.parametrize(("field", "value"), [("action", "raed"), ("operator", "eqq")])
def test_undefined_vocabulary_value_raises_naming_it(field, value):
    policy = offer()
    target = policy["permission"][0] if field == "action" else \
        policy["permission"][0]["constraint"][0]
    target[field] = value
    error = raises("jsonld.dropped_term", policy)
    assert error.details["term"] == value
    assert error.details["path"].endswith(f".{field}")


@pytest.mark.parametrize("document", [
    {"@context": 5, "@id": "urn:a"},
    {"@context": [jsonld.TSUNAGU_V1, 5], "@id": "urn:a"},
    {"@context": {"ex": {"@id": 5}}, "ex": 1},
    {"@context": jsonld.TSUNAGU_V1, "@id": 42, "version": 1},
    {"@context": jsonld.TSUNAGU_V1, "@id": "urn:a", "@type": {"not": "a type"}},
    {"@context": jsonld.TSUNAGU_V1, "@id": "urn:a", "version": {"@value": 1, "@language": "en",
                                                                 "@type": "xsd:integer"}},
    "https://w3id.org/tsunagu/v1",
    42,
])
def test_malformed_json_ld_raises_a_typed_syntax_error(document):
    error = raises("jsonld.syntax", document)
    assert error.message.startswith(("malformed JSON-LD: ", "JSON-LD document must be"))


def test_syntax_error_names_what_is_wrong():
    error = raises("jsonld.syntax", {"@context": {}, "@id": ["urn:a"]})
    assert '"@id" value must be a string' in error.message
    assert error.details["jsonld_code"] == "invalid @id value"


@pytest.mark.parametrize("keyword", ["@base", "@import"])
def test_base_and_import_are_refused(keyword):
    value = "https://evil.example/" if keyword == "@base" else jsonld.ODRL_CONTEXT
    document = {"@context": [jsonld.TSUNAGU_V1, {keyword: value}], "@id": "x", "version": 1}
    assert raises("jsonld.unsupported", document).details["keyword"] == keyword
    raises("jsonld.unsupported", {"@id": "urn:x"}, jsonld.compact, {keyword: value})


def test_compaction_round_trip_with_the_odrl_context():
    policy = {"@context": jsonld.ODRL_CONTEXT, "@type": "Offer", "@id": "urn:uuid:policy-1",
              "permission": [{"action": "use", "target": "urn:uuid:asset-1",
                              "constraint": [{"leftOperand": "https://example.org/ns#region",
                                              "operator": "isAnyOf",
                                              "rightOperand": "tohoku"}]}],
              "prohibition": [{"action": "use", "assignee": "did:key:z6MkOther"}]}
    expanded = jsonld.expand(policy)
    assert jsonld.compact(expanded, jsonld.ODRL_CONTEXT) == policy
    assert jsonld.compact(policy, "http://www.w3.org/ns/odrl.jsonld")["permission"] == \
        policy["permission"]


def test_compaction_to_an_inline_context():
    compacted = jsonld.compact(offer(), {"odrl": ODRL, "tsunagu": TSUNAGU})
    assert compacted["@type"] == "odrl:Offer"
    assert compacted["odrl:permission"]["odrl:action"] == {"@id": "odrl:use"}


# --------------------------------------------------------------------------- registries

DOMAIN = "https://example.org/contexts/domain-v1"


def _serving(tmp_path, name: str, terms: dict) -> jsonld.ContextRegistry:
    """A connector's registry serving DOMAIN from a file of its own."""
    path = tmp_path / f"{name}.jsonld"
    path.write_text(json.dumps({"@context": terms}))
    contexts = jsonld.ContextRegistry.core()
    contexts.register(DOMAIN, path, hashlib.sha256(path.read_bytes()).hexdigest())
    return contexts


def test_one_url_served_from_two_files_by_two_registries(tmp_path):
    """Each expansion uses its own registry's file, whichever registry resolved (and cached)
    the URL first: pyld's resolved contexts are kept per registry."""
    first = _serving(tmp_path, "first", {"level": "https://example.org/first#level"})
    second = _serving(tmp_path, "second", {"level": "https://example.org/second#level"})
    document = {"@context": DOMAIN, "@id": "urn:x", "level": 2}
    for _ in range(2):
        [node] = jsonld.expand(document, first)
        assert list(node) == ["@id", "https://example.org/first#level"]
        [node] = jsonld.expand(document, second)
        assert list(node) == ["@id", "https://example.org/second#level"]
        assert jsonld.compact(document, {"l": "https://example.org/second#level"},
                              second)["l"] == 2
