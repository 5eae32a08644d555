"""trust.jsonld: closed-world contexts, data-loss detection, typed errors, caching."""

from __future__ import annotations

import copy
import hashlib
import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from pyld import jsonld as pyld_jsonld
from pyld.documentloader.aiohttp import AioHttpDocumentLoader

from tests.vectors import UPSTREAM_DSP
from trust import jsonld
from trust.errors import JsonLdError

ODRL = "http://www.w3.org/ns/odrl/2/"
DSPACE = "https://w3id.org/dspace/2025/1/"
TSUNAGU = "https://w3id.org/tsunagu/ns#"
XSD = "http://www.w3.org/2001/XMLSchema#"
VECTORS = Path(__file__).parent / "vectors" / "vc-di-eddsa-jcs"


def offer(**permission_extra) -> dict:
    permission = {"action": "use",
                  "constraint": [{"leftOperand": "tsunagu:disasterPhase", "operator": "eq",
                                  "rightOperand": {"@id": "tsunagu:disaster_response"}}]}
    permission.update(permission_extra)
    return {"@context": [jsonld.ODRL_CONTEXT, jsonld.TSUNAGU_V1], "@type": "Offer",
            "@id": "urn:uuid:policy-1", "permission": [permission]}


def raises(code: str, document, fn=jsonld.expand, *args) -> JsonLdError:
    with pytest.raises(JsonLdError) as info:
        fn(document, *args)
    assert info.value.code == code, str(info.value)
    return info.value


@pytest.fixture(autouse=True)
def _fresh_caches():
    jsonld.clear_caches()
    yield
    jsonld.clear_caches()


# --------------------------------------------------------------------------- bundled contexts


def test_bundled_contexts_are_served_and_match_their_pins():
    # Domain plug-ins activated by a connector started earlier in this process add theirs.
    assert set(jsonld.CONTEXTS) >= {
        "https://www.w3.org/ns/credentials/v2",
        "https://www.w3.org/ns/credentials/examples/v2",
        "https://w3id.org/dspace/2025/1/context.jsonld",
        "https://w3id.org/dspace/2025/1/odrl-profile.jsonld",
        "http://www.w3.org/ns/odrl.jsonld",
        "https://www.w3.org/ns/odrl.jsonld",
        "https://w3id.org/tsunagu/v1",
    }
    for url, (path, sha256) in jsonld.CONTEXTS.items():
        assert path.parent == jsonld.CONTEXTS_DIR or url.startswith("https://w3id.org/tsunagu/")
        assert hashlib.sha256(path.read_bytes()).hexdigest() == sha256, url
        assert isinstance(jsonld.load_context(url)["@context"], dict), url


def test_dsp_context_is_the_unchanged_upstream_file():
    upstream = UPSTREAM_DSP / "context"  # the specification's files, copied with its licence
    for name, url in [("dspace.jsonld", jsonld.DSP_CONTEXT), ("odrl.jsonld", jsonld.ODRL_CONTEXT)]:
        assert jsonld.CONTEXTS[url].path.read_bytes() == (upstream / name).read_bytes()


def test_load_context_returns_a_copy():
    jsonld.load_context(jsonld.TSUNAGU_V1)["@context"]["version"] = "tampered"
    assert jsonld.load_context(jsonld.TSUNAGU_V1)["@context"]["version"]["@id"] == \
        "tsunagu:version"


# --------------------------------------------------------------------------- expansion


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
    alone = []
    for document in documents:
        jsonld.clear_caches()
        alone.append(jsonld.expand(document))
    jsonld.clear_caches()
    order = [*range(len(documents)), *reversed(range(len(documents)))]
    assert [jsonld.expand(documents[i]) for i in order] == [alone[i] for i in order]
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


# --------------------------------------------------------------------------- data loss


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


def test_check_no_dropped_terms():
    jsonld.check_no_dropped_terms(offer())
    policy = offer(duty=[{"action": "use", "contraint": []}])
    assert raises("jsonld.dropped_term", policy, jsonld.check_no_dropped_terms).details == {
        "term": "contraint", "path": "$.permission[0].duty[0].contraint"}


def test_check_no_dropped_terms_refuses_undefined_term_vocabularies():
    # A context whose @vocab catches undefined terms does not drop them; records refuse them.
    document = {"@context": [jsonld.TSUNAGU_V1, {
                    "@vocab": "https://www.w3.org/ns/credentials/undefined-term#"}],
                "@id": "urn:r", "verison": 2}
    jsonld.expand(document)  # a general expansion keeps it
    assert raises("jsonld.dropped_term", document,
                  jsonld.check_no_dropped_terms).details["term"] == "verison"


# --------------------------------------------------------------------------- remote contexts


class _ContextServer:
    """A real HTTP server on 127.0.0.1 that serves a context and records every request."""

    def __init__(self) -> None:
        self.requests: list[str] = []
        server = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self):
                server.requests.append(self.path)
                body = json.dumps({"@context": {"ex": "https://example.org/ns#"}}).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/ld+json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args):
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/context.jsonld"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.httpd.shutdown()
        self.httpd.server_close()


def test_remote_context_is_refused_and_never_fetched():
    with _ContextServer() as server:
        # Control: pyld's stock loader does fetch from this server.
        stock = AioHttpDocumentLoader()
        assert stock(server.url, {})["document"]["@context"]["ex"] == "https://example.org/ns#"
        assert server.requests == ["/context.jsonld"]

        as_context = {"@context": server.url, "ex:p": 1}
        error = raises("jsonld.remote_context", as_context)
        assert error.details["url"] == server.url and server.url in error.message
        as_import = {"@context": {"@version": 1.1, "@import": server.url}, "ex:p": 1}
        assert raises("jsonld.unsupported", as_import).details["keyword"] == "@import"
        nested = {"@context": jsonld.TSUNAGU_V1, "@id": "urn:r",
                  "wasDerivedFrom": {"@context": [server.url], "@id": "urn:s"}}
        raises("jsonld.remote_context", nested)
        raises("jsonld.remote_context", offer(), jsonld.compact, server.url)
        # pyld's process-wide default loader is the closed one too.
        with pytest.raises(pyld_jsonld.JsonLdError):
            pyld_jsonld.expand(as_context)
        assert server.requests == ["/context.jsonld"]


# --------------------------------------------------------------------------- pinning


def test_register_context_with_wrong_hash_raises(tmp_path):
    path = tmp_path / "domain.jsonld"
    path.write_text(json.dumps({"@context": {"d": "https://example.org/d#"}}))
    url = "https://example.org/contexts/domain-v1"
    error = raises("jsonld.context_integrity", url, jsonld.register_context, path, "0" * 64)
    assert error.details["actual"] == hashlib.sha256(path.read_bytes()).hexdigest()
    assert url not in jsonld.CONTEXTS
    raises("jsonld.remote_context", {"@context": url, "d:x": 1})


def test_registered_context_is_served(tmp_path, monkeypatch):
    monkeypatch.setattr(jsonld, "CONTEXTS", dict(jsonld.CONTEXTS))
    path = tmp_path / "domain.jsonld"
    path.write_text(json.dumps({"@context": {"d": "https://example.org/d#", "level": "d:level"}}))
    url = "https://example.org/contexts/domain-v1"
    jsonld.register_context(url, path, hashlib.sha256(path.read_bytes()).hexdigest())
    assert jsonld.expand({"@context": url, "@id": "urn:x", "level": 2}) == [
        {"@id": "urn:x", "https://example.org/d#level": [{"@value": 2}]}]


def test_bundled_file_changed_on_disk_is_refused(tmp_path, monkeypatch):
    tampered = tmp_path / "tsunagu-v1.jsonld"
    original = jsonld.CONTEXTS[jsonld.TSUNAGU_V1]
    tampered.write_bytes(original.path.read_bytes().replace(b"xsd:integer", b"xsd:string"))
    monkeypatch.setitem(jsonld.CONTEXTS, jsonld.TSUNAGU_V1,
                        jsonld.PinnedContext(tampered, original.sha256))
    error = raises("jsonld.context_integrity", {"@context": jsonld.TSUNAGU_V1, "version": 1})
    assert error.details["url"] == jsonld.TSUNAGU_V1


def test_registered_context_may_import_a_bundled_one(tmp_path, monkeypatch):
    monkeypatch.setattr(jsonld, "CONTEXTS", dict(jsonld.CONTEXTS))
    path = tmp_path / "domain.jsonld"
    path.write_text(json.dumps({"@context": {
        "Report": {"@id": "https://example.org/d#Report",
                   "@context": {"@import": jsonld.TSUNAGU_V1, "level": "tsunagu:level"}}}}))
    url = "https://example.org/contexts/domain-v1"
    jsonld.register_context(url, path, hashlib.sha256(path.read_bytes()).hexdigest())
    scoped = jsonld.load_context(url)["@context"]["Report"]["@context"]
    assert "@import" not in scoped and scoped["level"] == "tsunagu:level"
    assert scoped["version"] == {"@id": "tsunagu:version", "@type": "xsd:integer"}
    [node] = jsonld.expand({"@context": url, "@type": "Report", "@id": "urn:x", "version": 2,
                            "level": 3})
    assert node[TSUNAGU + "version"] == [{"@value": 2, "@type": XSD + "integer"}]
    assert node[TSUNAGU + "level"] == [{"@value": 3}]


def test_core_context_cannot_be_replaced(tmp_path):
    path = tmp_path / "evil.jsonld"
    path.write_text(json.dumps({"@context": {"id": "@id"}}))
    raises("jsonld.context_conflict", jsonld.CREDENTIALS_V2, jsonld.register_context, path,
           hashlib.sha256(path.read_bytes()).hexdigest())


# --------------------------------------------------------------------------- malformed input


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


# --------------------------------------------------------------------------- compaction


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


# --------------------------------------------------------------------------- caching


def test_contexts_are_loaded_once_across_calls(monkeypatch):
    calls: list[str] = []
    real = jsonld._verified_document

    def counting(url):
        calls.append(url)
        return real(url)

    monkeypatch.setattr(jsonld, "_verified_document", counting)
    for _ in range(3):
        jsonld.expand(offer())
        jsonld.compact(offer(), jsonld.ODRL_CONTEXT)
    assert sorted(calls) == sorted([jsonld.ODRL_CONTEXT, jsonld.TSUNAGU_V1])
