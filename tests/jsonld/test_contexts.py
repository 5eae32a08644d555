"""trust.jsonld.contexts: per-connector registries of bundled, hash-pinned contexts."""

from __future__ import annotations

import hashlib
import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from pyld import jsonld as pyld_jsonld
from pyld.documentloader.aiohttp import AioHttpDocumentLoader

from tests.jsonld.helpers import TSUNAGU, XSD, offer, raises
from tests.vectors import UPSTREAM_DSP
from trust import jsonld


def domain_registry(tmp_path: Path) -> tuple[str, jsonld.ContextRegistry]:
    """A connector's registry: the core contexts plus one domain context."""
    path = tmp_path / "domain.jsonld"
    path.write_text(json.dumps({"@context": {"d": "https://example.org/d#", "level": "d:level"}}))
    url = "https://example.org/contexts/domain-v1"
    contexts = jsonld.ContextRegistry.core()
    contexts.register(url, path, hashlib.sha256(path.read_bytes()).hexdigest())
    return url, contexts


def test_bundled_contexts_are_served_and_match_their_pins():
    # Exactly the core ones, whatever connectors and plug-ins ran earlier in this process.
    assert set(jsonld.CORE_CONTEXTS.files()) == {
        "https://www.w3.org/ns/credentials/v2",
        "https://www.w3.org/ns/credentials/examples/v2",
        "https://w3id.org/dspace/2025/1/context.jsonld",
        "https://w3id.org/dspace/2025/1/odrl-profile.jsonld",
        "http://www.w3.org/ns/odrl.jsonld",
        "https://www.w3.org/ns/odrl.jsonld",
        "https://w3id.org/tsunagu/v1",
        "https://www.w3.org/ns/did/v1",
    }
    for url, (path, sha256) in jsonld.CORE_FILES.items():
        assert path.parent == jsonld.CONTEXTS_DIR
        assert hashlib.sha256(path.read_bytes()).hexdigest() == sha256, url
        assert isinstance(jsonld.CORE_CONTEXTS.load(url)["@context"], dict), url


def test_dsp_context_is_the_unchanged_upstream_file():
    upstream = UPSTREAM_DSP / "context"  # the specification's files, copied with its licence
    for name, url in [("dspace.jsonld", jsonld.DSP_CONTEXT), ("odrl.jsonld", jsonld.ODRL_CONTEXT)]:
        assert jsonld.CORE_FILES[url].path.read_bytes() == (upstream / name).read_bytes()


def test_load_context_returns_a_copy():
    contexts = jsonld.ContextRegistry.core()
    contexts.load(jsonld.TSUNAGU_V1)["@context"]["version"] = "tampered"
    assert contexts.load(jsonld.TSUNAGU_V1)["@context"]["version"]["@id"] == "tsunagu:version"


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


def test_register_context_with_wrong_hash_raises(tmp_path):
    path = tmp_path / "domain.jsonld"
    path.write_text(json.dumps({"@context": {"d": "https://example.org/d#"}}))
    url = "https://example.org/contexts/domain-v1"
    contexts = jsonld.ContextRegistry.core()
    error = raises("jsonld.context_integrity", url, contexts.register, path, "0" * 64)
    assert error.details["actual"] == hashlib.sha256(path.read_bytes()).hexdigest()
    assert url not in contexts and contexts.generation == 0
    raises("jsonld.remote_context", {"@context": url, "d:x": 1}, jsonld.expand, contexts)


def test_registered_context_is_served_by_its_registry_only(tmp_path):
    url, contexts = domain_registry(tmp_path)
    document = {"@context": url, "@id": "urn:x", "level": 2}
    assert jsonld.expand(document, contexts) == [
        {"@id": "urn:x", "https://example.org/d#level": [{"@value": 2}]}]
    # Another connector's registry, and the shared core one, do not serve it.
    for other in (jsonld.ContextRegistry.core(), jsonld.CORE_CONTEXTS):
        raises("jsonld.remote_context", document, jsonld.expand, other)
    assert url not in jsonld.CORE_FILES


def test_registering_the_same_file_again_is_a_no_op_and_another_file_a_conflict(tmp_path):
    url, contexts = domain_registry(tmp_path)
    generation = contexts.generation
    pinned = contexts.get(url)
    contexts.register(url, pinned.path, pinned.sha256)
    assert contexts.generation == generation
    other = tmp_path / "other.jsonld"
    other.write_text(json.dumps({"@context": {"d": "https://example.org/other#"}}))
    raises("jsonld.context_conflict", url, contexts.register, other,
           hashlib.sha256(other.read_bytes()).hexdigest())
    assert contexts.get(url) == pinned


def test_bundled_file_changed_on_disk_is_refused(tmp_path):
    tampered = tmp_path / "tsunagu-v1.jsonld"
    original = jsonld.CORE_FILES[jsonld.TSUNAGU_V1]
    tampered.write_bytes(original.path.read_bytes().replace(b"xsd:integer", b"xsd:string"))
    contexts = jsonld.ContextRegistry({**jsonld.CORE_FILES,
                                       jsonld.TSUNAGU_V1: jsonld.PinnedContext(tampered,
                                                                               original.sha256)})
    error = raises("jsonld.context_integrity", {"@context": jsonld.TSUNAGU_V1, "version": 1},
                   jsonld.expand, contexts)
    assert error.details["url"] == jsonld.TSUNAGU_V1


def test_registered_context_may_import_a_bundled_one(tmp_path):
    contexts = jsonld.ContextRegistry.core()
    path = tmp_path / "domain.jsonld"
    path.write_text(json.dumps({"@context": {
        "Report": {"@id": "https://example.org/d#Report",
                   "@context": {"@import": jsonld.TSUNAGU_V1, "level": "tsunagu:level"}}}}))
    url = "https://example.org/contexts/domain-v1"
    contexts.register(url, path, hashlib.sha256(path.read_bytes()).hexdigest())
    scoped = contexts.load(url)["@context"]["Report"]["@context"]
    assert "@import" not in scoped and scoped["level"] == "tsunagu:level"
    assert scoped["version"] == {"@id": "tsunagu:version", "@type": "xsd:integer"}
    [node] = jsonld.expand({"@context": url, "@type": "Report", "@id": "urn:x", "version": 2,
                            "level": 3}, contexts)
    assert node[TSUNAGU + "version"] == [{"@value": 2, "@type": XSD + "integer"}]
    assert node[TSUNAGU + "level"] == [{"@value": 3}]


def test_core_context_cannot_be_replaced(tmp_path):
    path = tmp_path / "evil.jsonld"
    path.write_text(json.dumps({"@context": {"id": "@id"}}))
    sha256 = hashlib.sha256(path.read_bytes()).hexdigest()
    for contexts in (jsonld.ContextRegistry.core(), jsonld.CORE_CONTEXTS):
        raises("jsonld.context_conflict", jsonld.CREDENTIALS_V2, contexts.register, path,
               sha256)
        assert contexts.get(jsonld.CREDENTIALS_V2) == jsonld.CORE_FILES[jsonld.CREDENTIALS_V2]


def test_the_shared_core_registry_cannot_be_extended(tmp_path):
    path = tmp_path / "domain.jsonld"
    path.write_text(json.dumps({"@context": {"d": "https://example.org/d#"}}))
    error = raises("jsonld.context_conflict", "https://example.org/contexts/domain-v1",
                   jsonld.CORE_CONTEXTS.register, path,
                   hashlib.sha256(path.read_bytes()).hexdigest())
    assert "connector's own registry" in error.message
    assert set(jsonld.CORE_CONTEXTS.files()) == set(jsonld.CORE_FILES)


def test_context_files_are_read_once_per_registry(monkeypatch):
    calls: list[str] = []
    contexts = jsonld.ContextRegistry.core()
    real = contexts._read

    def counting(url, pinned):
        calls.append(url)
        return real(url, pinned)

    monkeypatch.setattr(contexts, "_read", counting)
    for _ in range(3):
        jsonld.expand(offer(), contexts)
        jsonld.compact(offer(), jsonld.ODRL_CONTEXT, contexts)
    assert sorted(calls) == sorted([jsonld.ODRL_CONTEXT, jsonld.TSUNAGU_V1])
    contexts.clear_caches()  # e.g. after replacing a file: read and verified again
    jsonld.expand(offer(), contexts)
    assert len(calls) == 4
