"""The app API over a real connector and a real HTTP server; every response is checked
against openapi.json (see conftest.Api.call)."""

from datetime import UTC, datetime, timedelta
from urllib.parse import quote

from aiohttp import web

from connector.api.app import make_app
from connector.api.versions import API_VERSION, PREFIX, legacy_path
from tests.api.conftest import DATASET, OPENAPI, add_dataset, add_held, add_own_version

RECORD = "urn:uuid:0b7c1a52-3f7e-4a4c-9a1e-5d2f3c4b5a61"
PROBLEM = "application/problem+json"


def seg(value: str) -> str:
    return quote(value, safe="")


# ---------------------------------------------------------------- the document itself

def test_every_route_is_documented_and_every_documented_route_exists(connector):
    app = make_app(connector)
    served = {(r.method.lower(), r.resource.canonical) for r in app.router.routes()
              if r.method != "HEAD"}
    documented = {(m, p) for p, item in OPENAPI["paths"].items() for m in item
                  if m in {"get", "put", "post", "delete", "patch"}}
    # Besides what is documented: each /api/v1 route under its deprecated 0.1 path.
    legacy = {(m, legacy_path(p)) for m, p in documented if p.startswith(PREFIX)}
    assert served == documented | legacy
    assert OPENAPI["openapi"].startswith("3.1")
    assert OPENAPI["info"]["version"] == API_VERSION
    assert all(p.startswith(PREFIX + "/") or not p.startswith(("/api", "/events"))
               for p in OPENAPI["paths"])


async def test_the_unversioned_paths_answer_as_v1_with_deprecation_and_sunset(api):
    token = api.token("records:read", "events:read")
    old = await api.http.get(api.url + "/api/held?purpose=disaster_response",
                             headers={"Authorization": f"Bearer {token}"})
    new = await api.http.get(api.url + "/api/v1/held?purpose=disaster_response",
                             headers={"Authorization": f"Bearer {token}"})
    assert (old.status, await old.json()) == (new.status, await new.json())
    assert "Deprecation" not in new.headers and "Sunset" not in new.headers
    assert old.headers["Deprecation"] == "@1796428800"  # 2026-12-05, RFC 9745
    assert old.headers["Sunset"] == "Wed, 30 Jun 2027 00:00:00 GMT"  # RFC 8594
    assert old.headers["Link"] == '</api/v1/held>; rel="successor-version"'
    # Errors and the event stream carry them too: a client sees them on every answer.
    missing = await api.http.get(api.url + "/api/held")
    assert missing.status == 401 and "Sunset" in missing.headers
    async with api.http.get(api.url + "/events?purpose=disaster_response",
                            headers={"Authorization": f"Bearer {token}"}) as stream:
        assert stream.status == 200
        assert stream.headers["Link"] == '</api/v1/events>; rel="successor-version"'
    assert "Deprecation" not in (await api.http.get(api.url + "/healthz")).headers


async def test_openapi_is_served_as_in_the_repo(api):
    status, _, body = await api.call("GET", "/openapi.json")
    assert status == 200 and body == OPENAPI


# ---------------------------------------------------------------- auth and problems

async def test_no_token_is_401_problem(api):
    status, ctype, body = await api.call("GET", "/api/v1/held")
    assert (status, ctype, body["code"]) == (401, PROBLEM, "auth.missing")
    assert body["type"] == "https://w3id.org/tsunagu/problems/auth.missing"


async def test_unknown_token_is_401(api):
    status, _, body = await api.call("GET", "/api/v1/held", token="tsu_guess")
    assert (status, body["code"]) == (401, "auth.invalid")


async def test_expired_token_is_401(api):
    issued = api.tokens.issue(["records:read"], days=1,
                              now=datetime.now(UTC) - timedelta(days=2))
    status, _, body = await api.call("GET", "/api/v1/held", token=issued.token)
    assert (status, body["code"]) == (401, "auth.expired")


async def test_wrong_scope_is_403_and_right_scope_200(api):
    status, ctype, body = await api.call("GET", "/api/v1/held", token=api.token("events:read"))
    assert (status, ctype, body["code"], body["scope"]) == (403, PROBLEM, "auth.scope",
                                                            "records:read")
    status, _, body = await api.call("GET", "/api/v1/held", token=api.token("records:read"))
    assert status == 200 and body == {"items": [], "next": None}


async def test_unknown_route_and_method_are_problems(api):
    status, ctype, body = await api.call("GET", "/api/v1/nothing", token=api.token())
    assert (status, ctype, body["code"]) == (404, PROBLEM, "http.not_found")


async def test_unexpected_failure_is_500_without_internals(api_factory):
    class Broken:
        def list(self):
            raise RuntimeError("secret internals /var/lib/x")

    api = await api_factory(negotiations=Broken())
    status, _, body = await api.call("GET", "/api/v1/negotiations", token=api.token())
    assert (status, body["code"]) == (500, "internal.error")
    assert "secret" not in body["detail"] and "RuntimeError" not in str(body)


async def test_bad_json_is_400_problem(api_factory):
    api = await api_factory(negotiations=FakeNegotiations())
    async with api.http.post(api.url + "/api/v1/negotiations", data=b"{not json",
                             headers={"Authorization": f"Bearer {api.token()}"}) as resp:
        body = await resp.json(content_type=None)
    assert (resp.status, body["code"]) == (400, "input.invalid")
    status, _, body = await api.call("POST", "/api/v1/negotiations", token=api.token(),
                                     json={"provider": "did:key:z6Mk", "dataset": DATASET})
    assert (status, body["code"], body["field"]) == (400, "input.invalid", "offer")


# ---------------------------------------------------------------- observability

async def test_healthz_readyz_metrics(api):
    assert (await api.call("GET", "/healthz"))[:2] == (200, "application/json")
    status, _, body = await api.call("GET", "/readyz")
    assert status == 200 and body["checks"] == {"nats": "ok", "store": "ok"}
    await api.call("GET", "/api/v1/held", token=api.token("records:read"))
    status, ctype, text = await api.call("GET", "/metrics")
    assert (status, ctype) == (200, "text/plain")
    assert ('tsunagu_api_requests_total{method="GET",route="/api/v1/held",status="200"} 1'
            in text)
    assert "tsunagu_uptime_seconds " in text


async def test_readyz_is_503_when_nats_is_down(api, nats_server):
    nats_server.kill()
    for _ in range(50):
        if not api.connector.nc.is_connected:
            break
        await __import__("asyncio").sleep(0.05)
    status, ctype, body = await api.call("GET", "/readyz")
    assert (status, ctype, body["code"]) == (503, PROBLEM, "service.not_ready")
    assert body["checks"]["nats"] == "disconnected"
    await nats_server.restart()


# ---------------------------------------------------------------- datasets, records, held

async def test_own_datasets_and_records_read_from_the_store(api):
    add_dataset(api.connector)
    add_own_version(api.connector, RECORD, 1)
    add_own_version(api.connector, RECORD, 2)
    status, _, body = await api.call("GET", "/api/v1/datasets", token=api.token("catalog:read"))
    assert status == 200 and [d["id"] for d in body["items"]] == [DATASET]
    status, _, body = await api.call("GET", f"/api/v1/records/{seg(RECORD)}",
                                     token=api.token("records:read"))
    assert status == 200 and (body["id"], body["version"], body["dataset"]) == (RECORD, 2,
                                                                                DATASET)
    assert body["record"]["name"] == "v2"
    status, _, body = await api.call("GET", f"/api/v1/records/{seg('urn:uuid:missing')}",
                                     token=api.token("records:read"))
    assert (status, body["code"]) == (404, "record.not_found")


async def test_record_ids_with_slashes_travel_as_one_segment(api):
    add_dataset(api.connector)
    iri = "https://city.example/shelters/0001?x=1#frag"
    add_own_version(api.connector, iri, 1)
    status, _, body = await api.call("GET", f"/api/v1/records/{seg(iri)}", token=api.token())
    assert status == 200 and body["id"] == iri


class FakeRecords:
    """The RecordsApi shape, writing rows as connector/data/records.py does."""

    def __init__(self, connector):
        self.connector, self.calls = connector, []

    async def publish(self, dataset_id, record):
        self.calls.append(("publish", dataset_id, record["id"]))
        rows = self.connector.store.query("SELECT version FROM records WHERE id=?",
                                          (record["id"],))
        add_own_version(self.connector, record["id"], rows[0][0] + 1 if rows else 1,
                        dataset_id)
        return {"id": record["id"]}

    def delete(self, dataset_id, record_id):
        self.calls.append(("delete", dataset_id, record_id))
        version = self.connector.store.query("SELECT version FROM records WHERE id=?",
                                             (record_id,))[0][0]
        add_own_version(self.connector, record_id, version + 1, dataset_id, deleted=True)


async def test_publish_update_delete_through_the_record_service(api_factory, connector):
    records = FakeRecords(connector)
    api = await api_factory(records=records)
    add_dataset(connector)
    token = api.token("records:write")
    status, _, body = await api.call("POST", f"/api/v1/datasets/{seg(DATASET)}/records",
                                     token=token, json={"id": RECORD, "type": "Shelter"})
    assert (status, body["version"]) == (201, 1)
    status, _, body = await api.call("PUT", f"/api/v1/records/{seg(RECORD)}", token=token,
                                     json={"type": "Shelter"})
    assert (status, body["version"]) == (200, 2)
    status, _, body = await api.call("PUT", f"/api/v1/records/{seg(RECORD)}", token=token,
                                     json={"id": "urn:uuid:other"})
    assert (status, body["code"]) == (400, "input.invalid")
    status, _, body = await api.call("DELETE", f"/api/v1/records/{seg(RECORD)}", token=token)
    assert (status, body["deleted"], body["version"]) == (200, True, 3)
    assert records.calls == [("publish", DATASET, RECORD), ("publish", DATASET, RECORD),
                             ("delete", DATASET, RECORD)]


async def test_held_records_page_by_page(api):
    for n in range(5):
        add_held(api.connector, f"urn:uuid:held-{n}")
    add_held(api.connector, "urn:uuid:other", dataset_id="urn:other")
    token = api.token("records:read")
    seen, after = [], ""
    while True:
        status, _, page = await api.call(
            "GET", f"/api/v1/held?dataset={seg(DATASET)}&limit=2&purpose=disaster_response{after}",
            token=token)
        assert status == 200
        seen += [item["id"] for item in page["items"]]
        if page["next"] is None:
            break
        after = f"&after={page['next']}"
    assert seen == [f"urn:uuid:held-{n}" for n in range(5)]
    status, _, body = await api.call("GET", "/api/v1/held?limit=x", token=token)
    assert (status, body["field"]) == (400, "limit")


# ---------------------------------------------------------------- contracts and catalog

class FakeNegotiations:
    def __init__(self):
        self.started = {}

    async def start(self, provider_did, dataset_id, offer_id):
        pid = f"urn:uuid:neg-{len(self.started) + 1}"
        self.started[pid] = {"pid": pid, "state": "REQUESTED", "provider": provider_did,
                             "dataset": dataset_id, "offer": offer_id}
        return self.started[pid]

    def get(self, pid):
        return self.started.get(pid)

    def list(self):
        return list(self.started.values())


class FakeTransfers:
    def start(self, agreement_id):
        return {"pid": "urn:uuid:tp-1", "state": "REQUESTED", "agreement": agreement_id}

    def get(self, pid):
        return None

    def list(self):
        return []


async def test_negotiations_and_transfers_delegate_to_services(api_factory):
    api = await api_factory(negotiations=FakeNegotiations(), transfers=FakeTransfers())
    write, read = api.token("contracts:write"), api.token("contracts:read")
    status, _, body = await api.call("POST", "/api/v1/negotiations", token=write, json={
        "provider": "did:key:z6MkP", "dataset": DATASET, "offer": "urn:uuid:offer"})
    assert (status, body["state"]) == (201, "REQUESTED")
    pid = body["pid"]
    status, _, body = await api.call("GET", f"/api/v1/negotiations/{seg(pid)}", token=read)
    assert (status, body["offer"]) == (200, "urn:uuid:offer")
    assert (await api.call("GET", "/api/v1/negotiations", token=read))[2]["items"][0]["pid"] == pid
    status, _, body = await api.call("POST", "/api/v1/negotiations", token=read, json={})
    assert status == 403
    status, _, body = await api.call("POST", "/api/v1/transfers", token=write,
                                     json={"agreement": "urn:uuid:agreement-1"})
    assert (status, body["agreement"]) == (201, "urn:uuid:agreement-1")
    status, _, body = await api.call("GET", "/api/v1/transfers/urn%3Auuid%3Anone", token=read)
    assert (status, body["code"]) == (404, "transfer.not_found")
    assert (await api.call("GET", "/api/v1/agreements", token=read))[:2] == (200,
                                                                         "application/json")


async def test_catalog_goes_through_the_catalog_client(api_factory):
    class Catalogs:
        async def fetch(self, provider_did, query=None):
            return {"@type": "Catalog", "participantId": provider_did, "q": query}

    api = await api_factory(catalog=Catalogs())
    query = f"provider=did:key:z6MkP&q={seg('避難所')}"
    status, _, body = await api.call("GET", f"/api/v1/catalog?{query}",
                                     token=api.token("catalog:read"))
    assert status == 200 and body == {"@type": "Catalog", "participantId": "did:key:z6MkP",
                                      "q": "避難所"}
    status, _, body = await api.call("GET", "/api/v1/catalog", token=api.token("catalog:read"))
    assert (status, body["field"]) == (400, "provider")


async def test_api_server_service_listens_on_config_port(connector):
    from connector.api.app import ApiServer

    server = ApiServer(connector)
    await server.startup()
    try:
        import aiohttp

        async with aiohttp.ClientSession() as http, \
                http.get(f"http://127.0.0.1:{server.port}/healthz") as resp:
            assert resp.status == 200
    finally:
        await server.shutdown()
    assert isinstance(server.runner.app, web.Application)
