"""Domain plug-ins: entry-point discovery, all-or-nothing activation, routes in a real app."""

from __future__ import annotations

import hashlib
import json
from importlib.metadata import EntryPoint
from pathlib import Path

import aiohttp
import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer

from connector.api.app import make_app, scoped
from connector.cli.main import build_parser
from connector.plugins import registry as plugins
from connector.plugins.contract import ContextSpec, DatasetType, DomainPlugin, LeftOperandSpec
from connector.plugins.registry import (
    PluginError,
    activate_plugins,
    dataset_schema,
    load_domain_plugins,
    plugin_contexts,
)
from tests.domains.conftest import isolated_registries, registry_state  # noqa: F401
from trust import jsonld
from usage_policies.operands import find_left_operand

pytestmark = pytest.mark.usefixtures("isolated_registries")

SCHEMA = {"$schema": "https://json-schema.org/draft/2020-12/schema", "type": "object",
          "required": ["id"]}


def write_context(path: Path, terms: dict) -> ContextSpec:
    path.write_text(json.dumps({"@context": {"@version": 1.1, **terms}}), encoding="utf-8")
    url = f"https://example.test/ctx/{path.stem}"
    return ContextSpec(url, path, hashlib.sha256(path.read_bytes()).hexdigest())


def write_schema(path: Path, schema: dict = SCHEMA) -> Path:
    path.write_text(json.dumps(schema), encoding="utf-8")
    return path


def dataset(schema: Path) -> DatasetType:
    return DatasetType(schema=schema, record_type="https://example.test/ns#Thing",
                       record_context=("https://example.test/ctx/a",),
                       description_ja="テスト", description_en="test")


def sample_plugin(tmp_path: Path, name: str = "sample", **overrides) -> DomainPlugin:
    fields = {
        "contexts": (write_context(tmp_path / f"{name}-a.jsonld",
                                   {"thing": "https://example.test/ns#thing"}),),
        "dataset_types": {f"{name}-thing": dataset(write_schema(tmp_path / f"{name}.json"))},
        "left_operands": (LeftOperandSpec(f"https://example.test/ns#{name}Level"),),
    }
    return DomainPlugin(name=name, **{**fields, **overrides})


# --------------------------------------------------------------------------- discovery

def test_entry_points_load_the_three_domain_plugins():
    loaded = load_domain_plugins()
    assert [p.name for p in loaded] == ["bosai", "pmh", "steel"]
    assert all(isinstance(p, DomainPlugin) for p in loaded)


def test_pmh_and_steel_register_their_models():
    by_name = {p.name: p for p in load_domain_plugins()}
    before = registry_state()
    activate_plugins([by_name["pmh"], by_name["steel"]])
    active, types, ops, purposes, roles = registry_state()
    assert ops == before[2]
    # pmh: its record types (the model and FHIR conversion); steel: the mill certificate.
    # (They may be active before: any test that started a connector activated every plug-in.)
    models = set(by_name["pmh"].dataset_types) | set(by_name["steel"].dataset_types)
    assert models <= set(types)
    assert set(types) - set(before[1]) <= models
    assert {"pmh", "steel"} <= set(active)
    assert {"health_department", "steel_mill", "trader", "processor", "customer"} <= set(roles)
    assert {"maternal_child_health", "vaccination", "supply_chain_quality"} <= set(purposes)
    assert dict(plugin_contexts([by_name["pmh"], by_name["steel"]]).files()) == {
        **jsonld.CORE_FILES, **{c.url: (c.path, c.sha256)
                                for name in ("pmh", "steel") for c in by_name[name].contexts}}


BROKEN = DomainPlugin(name="broken", contexts=(
    ContextSpec("https://example.test/ctx/missing", Path("/nonexistent/x.jsonld"), "0" * 64),))
NOT_A_PLUGIN = object()


def fake_entry_points(monkeypatch, *values: tuple[str, str]) -> None:
    eps = [EntryPoint(name, value, plugins.ENTRY_POINT_GROUP) for name, value in values]
    monkeypatch.setattr(plugins, "entry_points", lambda group: eps)


@pytest.mark.parametrize("value, words", [
    ("tests.test_plugins:BROKEN", "cannot be read"),
    ("tests.test_plugins:NOT_A_PLUGIN", "does not name a DomainPlugin"),
    ("tests.no_such_module:plugin", "cannot be imported"),
])
def test_a_broken_entry_point_fails_loading_naming_the_plugin(monkeypatch, value, words):
    fake_entry_points(monkeypatch, ("broken", value))
    with pytest.raises(PluginError, match=words) as caught:
        load_domain_plugins()
    assert "'broken'" in caught.value.message and caught.value.details["plugin"] == "broken"


def test_entry_point_name_must_match_the_plugin_name(monkeypatch):
    fake_entry_points(monkeypatch, ("other", "domains.pmh:plugin"))
    with pytest.raises(PluginError, match="'other'.*called 'pmh'"):
        load_domain_plugins()


# --------------------------------------------------------------------------- activation

def test_activation_registers_operands_and_dataset_types(tmp_path):
    plugin = sample_plugin(tmp_path)
    activate_plugins([plugin])
    assert find_left_operand("https://example.test/ns#sampleLevel") is not None
    assert dataset_schema("sample-thing") == SCHEMA


def test_plugin_contexts_serve_the_plugins_contexts_to_one_registry_only(tmp_path):
    plugin = sample_plugin(tmp_path)
    document = {"@context": plugin.contexts[0].url, "thing": 1}
    base = jsonld.ContextRegistry.core()
    contexts = plugin_contexts([plugin], base)
    assert plugin.contexts[0].url in contexts
    jsonld.check_no_dropped_terms(document, contexts)
    for other in (base, jsonld.CORE_CONTEXTS, plugin_contexts([])):  # nobody else serves it
        assert plugin.contexts[0].url not in other
        with pytest.raises(jsonld.JsonLdError, match="remote @context"):
            jsonld.check_no_dropped_terms(document, other)


def test_a_plugin_cannot_serve_a_core_context(tmp_path):
    core = write_context(tmp_path / "v2.jsonld", {"a": "https://example.test/ns#a"})
    plugin = sample_plugin(tmp_path, name="usurper", contexts=(
        ContextSpec(jsonld.CREDENTIALS_V2, core.path, core.sha256),))
    with pytest.raises(PluginError, match="'usurper'.*core context") as caught:
        activate_plugins([plugin])
    assert caught.value.code == "plugin.conflict"


def test_activation_is_idempotent_and_refuses_a_second_plugin_of_the_same_name(tmp_path):
    plugin = sample_plugin(tmp_path)
    activate_plugins([plugin])
    activate_plugins([plugin, plugin])  # no error: nothing new
    impostor = DomainPlugin(name="sample")  # same name, other content
    with pytest.raises(PluginError, match="'sample'.*already active") as caught:
        activate_plugins([impostor])
    assert caught.value.code == "plugin.conflict"


def test_dataset_schema_is_a_copy_and_unknown_types_are_named(tmp_path):
    activate_plugins([sample_plugin(tmp_path)])
    dataset_schema("sample-thing")["required"].append("x")
    assert dataset_schema("sample-thing") == SCHEMA
    with pytest.raises(PluginError, match="'nope'") as caught:
        dataset_schema("nope")
    assert caught.value.code == "plugin.unknown_dataset_type"


def test_wrong_context_hash_fails_naming_the_plugin_and_registers_nothing(tmp_path):
    good = write_context(tmp_path / "good.jsonld", {"a": "https://example.test/ns#a"})
    bad = write_context(tmp_path / "bad.jsonld", {"b": "https://example.test/ns#b"})
    bad = ContextSpec(bad.url, bad.path, "f" * 64)
    plugin = sample_plugin(tmp_path, name="wronghash", contexts=(good, bad))
    before = registry_state()
    with pytest.raises(PluginError) as caught:
        activate_plugins([plugin])
    assert caught.value.message.startswith("domain plug-in 'wronghash':")
    assert "SHA-256" in caught.value.message and bad.url in caught.value.message
    assert registry_state() == before


def test_a_broken_plugin_stops_the_others_of_the_same_activation(tmp_path):
    fine = sample_plugin(tmp_path, name="fine")
    broken = sample_plugin(tmp_path, name="missing", dataset_types={
        "missing-thing": dataset(tmp_path / "no-such-schema.json")})
    before = registry_state()
    with pytest.raises(PluginError, match="'missing'.*no-such-schema.json"):
        activate_plugins([fine, broken])
    assert registry_state() == before


def test_an_invalid_json_schema_is_refused(tmp_path):
    schema = write_schema(tmp_path / "bad-schema.json", {"type": "objekt"})
    plugin = sample_plugin(tmp_path, name="badschema",
                           dataset_types={"bad": dataset(schema)})
    with pytest.raises(PluginError, match="'badschema'.*not a valid JSON schema"):
        activate_plugins([plugin])


def test_a_context_the_processor_refuses_stops_loading_and_activation(tmp_path):
    """A well-formed, correctly pinned context that trust.jsonld refuses (@base) is found
    by the plug-in checks, before anything is registered."""
    first = write_context(tmp_path / "first.jsonld", {"a": "https://example.test/ns#a"})
    late = write_context(tmp_path / "late.jsonld", {"@base": "https://example.test/"})
    plugin = sample_plugin(tmp_path, name="late", contexts=(first, late))
    before = registry_state()
    with pytest.raises(PluginError, match="'late'.*@base"):
        activate_plugins([plugin])
    with pytest.raises(PluginError, match="'late'.*@base"):
        plugin_contexts([plugin])
    assert registry_state() == before


def test_conflicting_dataset_types_and_operands_are_refused(tmp_path):
    activate_plugins([sample_plugin(tmp_path, name="one")])
    clash = sample_plugin(tmp_path, name="two", dataset_types={
        "one-thing": dataset(write_schema(tmp_path / "two.json"))})
    with pytest.raises(PluginError, match="'two'.*'one-thing' is already defined by .*'one'"):
        activate_plugins([clash])
    # odrl:count is an xsd:integer operand: declaring it with another shape is a conflict.
    odd = sample_plugin(tmp_path, name="three", left_operands=(
        LeftOperandSpec("http://www.w3.org/ns/odrl/2/count", None, multi=True),))
    with pytest.raises(PluginError, match="'three'.*already registered") as caught:
        activate_plugins([odd])
    assert caught.value.code == "plugin.conflict" and "two" not in plugins._active


def test_two_plugins_declaring_one_operand_differently_are_refused_together(tmp_path):
    iri = "https://example.test/ns#shared"
    first = sample_plugin(tmp_path, name="first", left_operands=(LeftOperandSpec(iri),))
    second = sample_plugin(tmp_path, name="second",
                           left_operands=(LeftOperandSpec(iri, multi=True),))
    before = registry_state()
    with pytest.raises(PluginError, match="'second'.*also declared.*'first'"):
        activate_plugins([first, second])
    assert registry_state() == before


def _sample_cli(sub) -> None:
    sub.add_parser("sample-hello").set_defaults(func=lambda args: 0)


CLI_PLUGIN = DomainPlugin(name="sample", cli=_sample_cli)


def test_plugin_cli_commands_join_the_tsunagu_parser(monkeypatch):
    fake_entry_points(monkeypatch, ("sample", "tests.test_plugins:CLI_PLUGIN"))
    assert build_parser().parse_args(["sample-hello"]).func(None) == 0


# --------------------------------------------------------------------------- routes

@pytest.fixture
async def connector(tmp_path, nats_server):
    """A started connector (its app API is what plug-in routes mount into)."""
    from tests.api.conftest import running_connector

    async with running_connector(tmp_path, nats_server.url) as node:
        yield node


def routes_plugin(tmp_path: Path) -> DomainPlugin:
    def add(app: web.Application, connector, service) -> None:
        async def hello(request: web.Request) -> web.Response:
            return web.json_response({"did": connector.did})

        @scoped("records:read")
        async def private(request: web.Request) -> web.Response:
            return web.json_response({"ok": True})

        app.router.add_get("/hello", hello)
        app.router.add_get("/private", private)

    return sample_plugin(tmp_path, name="web", routes=add)


async def test_plugin_routes_answer_under_domains_name_in_a_real_app(tmp_path, connector):
    app = make_app(connector, plugins=[routes_plugin(tmp_path)])
    server = TestServer(app, host="127.0.0.1", port=0)
    await server.start_server()
    try:
        async with aiohttp.ClientSession() as http:
            base = str(server.make_url("/domains/web"))

            async def get(path: str) -> tuple[int, str, object]:
                async with http.get(base + path) as resp:
                    return resp.status, resp.content_type, await resp.json(content_type=None)

            assert await get("/hello") == (200, "application/json", {"did": connector.did})
            status, _, types = await get("/dataset-types")
            assert status == 200 and [t["name"] for t in types["items"]] == ["web-thing"]
            assert await get("/dataset-types/web-thing/schema") == (
                200, "application/schema+json", SCHEMA)
            # The core middlewares run for plug-in routes: problems and token scopes.
            status, ctype, body = await get("/dataset-types/nope/schema")
            assert (status, ctype, body["code"]) == (404, "application/problem+json",
                                                     "plugin.unknown_dataset_type")
            status, _, body = await get("/private")
            assert (status, body["code"]) == (401, "auth.missing")
            async with http.get(str(server.make_url("/healthz"))) as resp:
                assert resp.status == 200  # core routes unchanged
    finally:
        await server.close()


async def test_a_failing_routes_hook_names_the_plugin(tmp_path, connector):
    def add(app, connector, service) -> None:
        raise RuntimeError("boom")

    with pytest.raises(PluginError, match="'hooked': routes hook failed: RuntimeError: boom"):
        make_app(connector, plugins=[sample_plugin(tmp_path, name="hooked", routes=add)])


async def test_without_plugins_make_app_mounts_nothing(connector):
    app = make_app(connector)
    assert not [r for r in app.router.routes()
                if r.resource is not None and "/domains/" in r.resource.canonical]
