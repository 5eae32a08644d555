"""Hostile records and hostile app-API calls against a real provider connector: refused with
their code and nothing stored; injection strings are stored verbatim and never executed."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from urllib.parse import quote

import aiohttp
import orjson
import pytest
from aiohttp.test_utils import TestServer

from connector.api.app import make_app
from connector.api.tokens import TokenStore
from connector.data.records import MAX_RECORD_BYTES
from domains.bosai import plugin as bosai
from tests.connector import conftest as data_plane
from tests.connector.conftest import DATASET, OFFER, RECORD_CONTEXT, shelter
from tests.security.helpers import context_trap, nested_json
from trust import jsonld
from trust.errors import TsunaguError

# The provider fixtures of tests/connector (shelter_context is autouse there and here).
authority, provider_config = data_plane.authority, data_plane.provider_config
start_connector, provider = data_plane.start_connector, data_plane.provider
shelter_context = data_plane.shelter_context

TABLES = ("datasets", "records", "record_versions", "held_records", "deliveries", "audit",
          "tokens", "agreements")
INJECTIONS = {
    "sql-drop-table": "'); DROP TABLE records; --",
    "sql-tautology": "' OR '1'='1",
    "sql-union": "x' UNION SELECT digest, scopes, expires FROM tokens --",
    "html-script": "<script>alert('xss')</script>",
    "html-attribute": "\"><img src=x onerror=alert(1)>",
    "html-entities-and-nul": "&lt;b&gt; \u0000 \u2028 </textarea>",
}


def seg(value: str) -> str:
    return quote(value, safe="")


def table_counts(provider) -> dict[str, int]:
    store = provider.connector.store
    return {t: store.query(f"SELECT count(*) FROM {t}")[0][0] for t in TABLES}


def nothing_new(provider, before: dict[str, int], reads: int = 0) -> None:
    """No table grew, but for one audit line per read of received data (the gate's)."""
    after = table_counts(provider)
    assert after == {**before, "audit": before["audit"] + reads}


# --------------------------------------------------------------- RecordService

async def test_record_with_remote_context_is_refused_and_never_fetched(provider):
    async with context_trap() as trap:
        before = table_counts(provider)
        record = shelter(**{"@context": [*RECORD_CONTEXT, trap.url]})
        with pytest.raises(TsunaguError) as info:
            await provider.records.publish(DATASET, record)
        assert info.value.code == "jsonld.remote_context"
        nothing_new(provider, before)
        assert trap.hits == []


HOSTILE_RECORDS = {
    "undefined-json-ld-term": (lambda: shelter(capacitty=3), "jsonld.dropped_term"),
    "undefined-type": (lambda: shelter(type=["Record", "Shelter", "Bunker"]),
                       "jsonld.dropped_term"),
    "inline-context-defining-own-terms": (
        lambda: shelter(**{"@context": [*RECORD_CONTEXT, {"evil": "https://evil.example/#"}]}),
        "record.invalid"),
    "at-base-rewriting-ids": (lambda: {**shelter(), "@context": RECORD_CONTEXT,
                                       "id": "urn:x:1", "@base": "https://evil.example/"},
                              "jsonld.unsupported"),
    "relative-id": (lambda: shelter(id="../../etc/passwd"), "record.invalid"),
    "schema-invalid-capacity": (lambda: shelter(capacity=-1), "record.schema_invalid"),
    "schema-invalid-status": (lambda: shelter(status="<script>"), "record.schema_invalid"),
    "missing-required-name": (lambda: {k: v for k, v in shelter().items() if k != "name"},
                              "record.schema_invalid"),
    "client-sets-tombstone": (lambda: shelter(deleted=True), "record.invalid"),
    "larger-than-1-mb": (lambda: shelter(name="x" * (MAX_RECORD_BYTES + 1)),
                         "record.too_large"),
    "not-an-object": (lambda: ["a", "list"], "record.invalid"),
}


@pytest.mark.parametrize("name", list(HOSTILE_RECORDS))
async def test_hostile_record_is_refused_and_nothing_stored(provider, name):
    build, code = HOSTILE_RECORDS[name]
    before = table_counts(provider)
    with pytest.raises(TsunaguError) as info:
        await provider.records.publish(DATASET, build())
    assert info.value.code == code
    nothing_new(provider, before)
    info_ = await provider.connector.js.stream_info(
        provider.connector.store.query("SELECT stream FROM datasets")[0][0])
    assert info_.state.messages == 0


async def test_forged_server_fields_are_replaced(provider):
    """proof/version/modified sent by an app are not trusted: the connector sets them."""
    forged = shelter(version=999, modified="1999-01-01T00:00:00Z",
                     proof={"type": "DataIntegrityProof", "proofValue": "zforged"})
    signed = await provider.records.publish(DATASET, forged)
    assert signed["version"] == 1 and signed["modified"] != "1999-01-01T00:00:00Z"
    assert signed["proof"]["proofValue"] != "zforged"
    assert signed["proof"]["verificationMethod"].startswith(provider.connector.did)


# --------------------------------------------------------------- the app API

@pytest.fixture
async def api(provider):
    app = make_app(provider.connector, plugins=[bosai])
    server = TestServer(app, host="127.0.0.1", port=0)
    await server.start_server()
    http = aiohttp.ClientSession()
    tokens = TokenStore(provider.connector.store)
    try:
        yield str(server.make_url("")).rstrip("/"), http, tokens
    finally:
        await http.close()
        await server.close()


async def call(api, method, path, token=None, data=None, headers=None):
    url, http, _ = api
    sent = dict(headers or {})
    if token is not None:
        sent["Authorization"] = f"Bearer {token}"
    async with http.request(method, url + path, data=data, headers=sent) as resp:
        raw = await resp.read()
        return resp.status, resp.content_type, raw


def problem(raw: bytes) -> str:
    return orjson.loads(raw)["code"]


RECORDS_PATH = f"/api/v1/datasets/{seg(DATASET)}/records"


def auth_cases(tokens: TokenStore) -> dict[str, tuple[dict[str, str], int, str]]:
    expired = tokens.issue(["records:write"], days=1, now=datetime.now(UTC) - timedelta(days=2))
    revoked = tokens.issue(["records:write"])
    tokens.revoke(revoked.id)
    other = tokens.issue(["records:read", "events:read"])
    return {
        "no-token": ({}, 401, "auth.missing"),
        "basic-auth-scheme": ({"Authorization": "Basic YWRtaW46YWRtaW4="}, 401, "auth.missing"),
        "guessed-token": ({"Authorization": "Bearer tsu_guess"}, 401, "auth.invalid"),
        "foreign-token-format": ({"Authorization": "Bearer eyJhbGciOiJub25lIn0.e30."}, 401,
                                 "auth.invalid"),
        "sql-in-token": ({"Authorization": "Bearer tsu_' OR 1=1 --"}, 401, "auth.invalid"),
        "expired-token": ({"Authorization": f"Bearer {expired.token}"}, 401, "auth.expired"),
        "revoked-token": ({"Authorization": f"Bearer {revoked.token}"}, 401, "auth.invalid"),
        "token-of-another-scope": ({"Authorization": f"Bearer {other.token}"}, 403,
                                   "auth.scope"),
    }


@pytest.mark.parametrize("case", ["no-token", "basic-auth-scheme", "guessed-token",
                                  "foreign-token-format", "sql-in-token", "expired-token",
                                  "revoked-token", "token-of-another-scope"])
async def test_publish_without_a_usable_token_is_refused(provider, api, case):
    headers, status, code = auth_cases(api[2])[case]
    before = table_counts(provider)
    got, ctype, raw = await call(api, "POST", RECORDS_PATH, data=orjson.dumps(shelter()),
                                 headers=headers)
    assert (got, ctype, problem(raw)) == (status, "application/problem+json", code)
    nothing_new(provider, before)


@pytest.mark.parametrize(("body", "status", "code"), [
    (b'{"id": "urn:x:\xff\xfe", "name": "\xc3\x28"}', 400, "input.invalid"),
    (b"\xef\xbb\xbf\x00\x00garbage", 400, "input.invalid"),
    (nested_json(10_000), 400, "input.invalid"),
    (b'{"a":' * 10_000 + b"1" + b"}" * 10_000, 400, "input.invalid"),
    (b"[]", 400, "input.invalid"),
    (b'"just a string"', 400, "input.invalid"),
], ids=["invalid-utf8", "bom-and-nul", "nested-arrays-10000", "nested-objects-10000",
        "array-not-object", "string-not-object"])
async def test_unreadable_api_body_is_a_400_problem(provider, api, body, status, code):
    token = api[2].issue(["admin"]).token
    before = table_counts(provider)
    got, ctype, raw = await call(api, "POST", RECORDS_PATH, token, body)
    assert (got, ctype, problem(raw)) == (status, "application/problem+json", code)
    nothing_new(provider, before)


async def test_api_body_beyond_the_limit_is_refused_bounded(provider, api):
    token = api[2].issue(["admin"]).token
    before = table_counts(provider)
    body = b'{"name": "' + b"x" * (2 * 1024 * 1024) + b'"}'
    got, ctype, raw = await call(api, "POST", RECORDS_PATH, token, body)
    assert (got, ctype, problem(raw)) == (413, "application/problem+json",
                                          "http.request_entity_too_large")
    nothing_new(provider, before)


async def test_record_over_1_mb_through_the_api_is_record_too_large(provider, api):
    token = api[2].issue(["admin"]).token
    before = table_counts(provider)
    body = orjson.dumps(shelter(name="x" * (MAX_RECORD_BYTES + 10)))
    assert len(body) < 1024 * 1024  # under the HTTP limit: the record limit answers
    got, _, raw = await call(api, "POST", RECORDS_PATH, token, body)
    assert (got, problem(raw)) == (400, "record.too_large")
    nothing_new(provider, before)


@pytest.mark.parametrize("name", list(INJECTIONS))
async def test_injection_in_record_field_is_stored_verbatim(provider, api, name):
    text = INJECTIONS[name]
    token = api[2].issue(["admin"]).token
    record_id = f"urn:tsunagu:test:shelter:{seg(text)}"
    got, _, raw = await call(api, "POST", RECORDS_PATH, token,
                             orjson.dumps(shelter(record_id, name=text)))
    assert got == 201, raw
    counts = table_counts(provider)
    assert counts["records"] == counts["record_versions"] == 1  # the tables are intact
    stored = provider.connector.store.query("SELECT body FROM records")[0][0]
    assert orjson.loads(stored)["name"] == text
    got, ctype, raw = await call(api, "GET", f"/api/v1/records/{seg(record_id)}", token)
    assert (got, ctype) == (200, "application/json")
    assert orjson.loads(raw)["record"]["name"] == text
    # The plug-in page never reflects what apps stored.
    got, ctype, page = await call(api, "GET", "/domains/bosai/")
    assert (got, ctype) == (200, "text/html")
    assert b"<script>alert" not in page and b"onerror=" not in page and b"DROP" not in page


@pytest.mark.parametrize("name", list(INJECTIONS))
async def test_injection_in_dataset_title_is_stored_verbatim(provider, api, name):
    text = INJECTIONS[name]
    token = api[2].issue(["admin"]).token
    dataset = "urn:tsunagu:test:dataset:injected"
    got, _, raw = await call(api, "PUT", f"/api/v1/datasets/{seg(dataset)}", token,
                             orjson.dumps({"title": text, "offers": [OFFER],
                                           "keywords": [text]}))
    assert got == 200, raw
    got, ctype, raw = await call(api, "GET", "/api/v1/datasets", token)
    assert (got, ctype) == (200, "application/json")
    entries = {i["id"]: i["dataset"] for i in orjson.loads(raw)["items"]}
    assert entries[dataset]["dct:title"] == text
    assert table_counts(provider)["datasets"] == 2
    got, _, page = await call(api, "GET", "/domains/bosai/?q=" + seg(text))
    assert got == 200 and text.encode() not in page


@pytest.mark.parametrize("query", [
    "dataset=' OR '1'='1", "dataset=x'; DROP TABLE held_records; --",
    "dataset=<script>alert(1)</script>",
], ids=["sql-tautology", "sql-drop", "html"])
async def test_injection_in_query_params_matches_nothing(provider, api, query):
    token = api[2].issue(["admin"]).token
    before = table_counts(provider)
    got, ctype, raw = await call(api, "GET", "/api/v1/held?purpose=disaster_response&"
                                 + quote(query, safe="="), token)
    assert (got, ctype, orjson.loads(raw)) == (200, "application/json",
                                               {"items": [], "next": None})
    nothing_new(provider, before, reads=1)


@pytest.mark.parametrize("query", ["limit=1;DROP TABLE tokens", "after=0 OR 1=1",
                                   "limit=-1", "limit=99999999999999999999999"],
                         ids=["sql-in-limit", "sql-in-after", "negative", "huge"])
async def test_non_integer_paging_params_are_400(provider, api, query):
    token = api[2].issue(["admin"]).token
    before = table_counts(provider)
    got, ctype, raw = await call(api, "GET", "/api/v1/held?" + quote(query, safe="="), token)
    assert (got, ctype, problem(raw)) == (400, "application/problem+json", "input.invalid")
    nothing_new(provider, before)


def _codes(exc: BaseException) -> list[str]:
    """The tsunagu error codes along an exception's causes (pyld wraps its loader's error)."""
    found: list[str] = []
    seen: set[int] = set()
    todo: list[object] = [exc]
    while todo:
        item = todo.pop()
        if not isinstance(item, BaseException) or id(item) in seen:
            continue
        seen.add(id(item))
        if isinstance(item, TsunaguError):
            found.append(item.code)
        todo += [item.__cause__, item.__context__, getattr(item, "cause", None)]
    return found


async def test_jsonld_module_never_fetches():
    """Belt and braces: pyld's own default loader is the bundled one. A real HTTP server on
    127.0.0.1 stands where the context points; the test fails if it receives any request
    (an error text mentioning "remote" proves nothing: pyld says so after a real fetch too).
    pyld runs in a thread so that the server could answer while it waited."""
    from pyld import jsonld as pyld

    async with context_trap() as trap:
        with pytest.raises(Exception) as info:
            await asyncio.to_thread(pyld.expand, {"@context": trap.url, "a": 1})
        await asyncio.sleep(0.1)  # a fetch that was under way would have arrived by now
    assert trap.hits == []
    assert "jsonld.remote_context" in _codes(info.value)
    assert jsonld.CORE_FILES  # bundled ones exist


async def test_offer_with_unknown_left_operand_through_the_api_is_a_400_problem(provider, api):
    token = api[2].issue(["admin"]).token
    dataset = "urn:tsunagu:test:dataset:unknown-operand"
    bad = {**OFFER, "@id": "urn:tsunagu:test:offer:unknown-operand", "permission": [
        {"action": "use", "constraint": [{"leftOperand": "tsunagu:noSuchOperand",
                                          "operator": "eq", "rightOperand": "x"}]}]}
    before = table_counts(provider)
    got, ctype, raw = await call(api, "PUT", f"/api/v1/datasets/{seg(dataset)}", token,
                                 orjson.dumps({"title": "t", "offers": [OFFER, bad]}))
    assert (got, ctype, problem(raw)) == (400, "application/problem+json",
                                          "policy.unknown_left_operand")
    assert "noSuchOperand" in orjson.loads(raw)["detail"]
    nothing_new(provider, before)


async def test_offer_with_unknown_left_operand_through_the_sdk_raises_its_code(provider, api):
    from connector.api.sdk import ApiError, TsunaguClient

    bad = {**OFFER, "@id": "urn:tsunagu:test:offer:sdk-unknown", "permission": [
        {"action": "use", "constraint": [{"leftOperand": "tsunagu:noSuchOperand",
                                          "operator": "eq", "rightOperand": "x"}]}]}
    token = api[2].issue(["admin"]).token
    before = table_counts(provider)
    async with TsunaguClient(api[0], token) as client:
        with pytest.raises(ApiError) as info:
            await client.offer_dataset("urn:tsunagu:test:dataset:sdk-unknown", "t", [bad])
    assert (info.value.status, info.value.code) == (400, "policy.unknown_left_operand")
    nothing_new(provider, before)
