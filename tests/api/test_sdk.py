"""The SDK against the real API: typed results, ApiError, subscribe with reconnect."""

import asyncio
import hashlib
import json

import pytest

from connector.api.app import STREAMS
from connector.api.sdk import ApiError, Event, Negotiation, Record, TsunaguClient
from connector.api.tokens import TokenStore
from tests.api.conftest import DATASET, add_dataset, add_held
from tests.api.test_app import FakeNegotiations, FakeRecords

RECORD = "https://city.example/shelters/0001"
REAL_DATASET = "urn:tsunagu:test:dataset:shelters"
REAL_RECORD = "urn:tsunagu:test:shelter:api-1"


@pytest.fixture
async def client_for():
    clients = []

    def make(api, *scopes):
        client = TsunaguClient(api.url, api.token(*scopes), purpose="disaster_response")
        clients.append(client)
        return client

    yield make
    for client in clients:
        await client.close()


async def test_records_round_trip_with_typed_models(api_factory, connector, client_for):
    api = await api_factory(records=FakeRecords(connector))
    add_dataset(connector)
    client = client_for(api, "records:write", "records:read", "catalog:read")
    published = await client.publish(DATASET, {"id": RECORD, "type": "Shelter"})
    assert isinstance(published, Record) and (published.id, published.version) == (RECORD, 1)
    assert (await client.update(RECORD, {"type": "Shelter"})).version == 2
    assert (await client.record(RECORD)).record["name"] == "v2"
    deleted = await client.delete(RECORD)
    assert deleted.deleted and deleted.version == 3
    assert [d.id for d in await client.datasets()] == [DATASET]


async def test_problems_become_api_errors(api, client_for):
    client = client_for(api, "events:read")
    with pytest.raises(ApiError) as info:
        await client.record(RECORD)
    assert (info.value.status, info.value.code) == (403, "auth.scope")
    assert info.value.problem.type.endswith("/auth.scope")
    with pytest.raises(ApiError) as info:
        await TsunaguClient(api.url, "tsu_wrong", session=api.http).held()
    assert (info.value.status, info.value.code) == (401, "auth.invalid")
    with pytest.raises(ApiError) as info:
        await client.negotiations()
    assert (info.value.status, info.value.code) == (403, "auth.scope")


async def test_contracts_and_held_pages(api_factory, connector, client_for):
    api = await api_factory(negotiations=FakeNegotiations())
    client = client_for(api, "admin")
    started = await client.negotiate("did:key:z6MkP", DATASET, "urn:uuid:offer")
    assert isinstance(started, Negotiation) and started.state == "REQUESTED"
    assert started.model_extra["offer"] == "urn:uuid:offer" and started.agreement_id is None
    assert (await client.negotiation(started.pid)).pid == started.pid
    assert [n.pid for n in await client.negotiations()] == [started.pid]
    assert await client.transfers() == []  # every connector runs its transfer service
    for n in range(5):
        add_held(connector, f"urn:uuid:h{n}")
    assert [h.id async for h in client.iter_held(DATASET, page_size=2)] == [
        f"urn:uuid:h{n}" for n in range(5)]
    assert await client.health() and await client.ready() == {"nats": "ok", "store": "ok"}


async def collect(client, n, into, **options):
    async for event in client.subscribe(DATASET, **options):
        into.append(event)
        if len(into) == n:
            return


def drop_connections(app, how):
    """abort: a network failure, the connection is gone; close: the server hangs up."""
    for request in list(app[STREAMS].active.values()):
        getattr(request.transport, how)()


@pytest.mark.parametrize("how", ["abort", "close"])
async def test_subscribe_resumes_after_dropped_connection_without_gap_or_duplicate(
        api, client_for, how):
    client = client_for(api, "events:read")
    for n in range(3):
        add_held(api.connector, f"urn:uuid:s{n}")
    got: list[Event] = []
    task = asyncio.create_task(collect(client, 6, got))
    try:
        async with asyncio.timeout(5):
            while len(got) < 3:
                await asyncio.sleep(0.02)
            drop_connections(api.app, how)
            add_held(api.connector, "urn:uuid:s3")  # written while the client is away
            while len(got) < 4:
                await asyncio.sleep(0.02)
            drop_connections(api.app, how)
            add_held(api.connector, "urn:uuid:s4")
            add_held(api.connector, "urn:uuid:s5")
            api.connector.gate.feed.notify()
            await task
    finally:
        task.cancel()
    assert [e.seq for e in got] == [1, 2, 3, 4, 5, 6]
    assert [e.id for e in got] == [f"urn:uuid:s{n}" for n in range(6)]
    # The server sent each event once: the client resumed with Last-Event-ID, it did not
    # re-read from the start and drop repeats on its side.
    assert api.connector.metrics.value("tsunagu_api_sse_events_total") == 6


async def test_subscribe_starts_after_the_given_id(api, client_for):
    client = client_for(api, "events:read")
    for n in range(4):
        add_held(api.connector, f"urn:uuid:a{n}")
    got: list[Event] = []
    await asyncio.wait_for(collect(client, 2, got, after=2), 3)
    assert [e.seq for e in got] == [3, 4]


async def test_subscribe_raises_on_auth_errors_instead_of_retrying(api, client_for):
    client = client_for(api, "records:read")
    with pytest.raises(ApiError) as info:
        await asyncio.wait_for(collect(client, 1, []), 3)
    assert info.value.code == "auth.scope"


# ---------------------------------------------------------------- with the real RecordService

API_CONTEXT = "https://example.org/tsunagu-test/api-shelter/v1"  # ours: no clash with others
API_RECORD_CONTEXT = ["https://www.w3.org/ns/credentials/v2", "https://w3id.org/tsunagu/v1",
                      API_CONTEXT]


@pytest.fixture
def api_context(tmp_path):
    """A domain context for test records, served by the provider's connector only."""
    from trust import jsonld

    data = json.dumps({"@context": {
        "@version": 1.1, "@protected": True,
        "Shelter": "https://example.org/tsunagu-test/shelter#Shelter",
        "capacity": {"@id": "https://example.org/tsunagu-test/shelter#capacity",
                     "@type": "http://www.w3.org/2001/XMLSchema#integer"},
        "status": "https://example.org/tsunagu-test/shelter#status"}}).encode()
    (tmp_path / "context.jsonld").write_bytes(data)
    contexts = jsonld.ContextRegistry.core()
    contexts.register(API_CONTEXT, tmp_path / "context.jsonld", hashlib.sha256(data).hexdigest())
    return contexts


@pytest.fixture
async def provider_api(tmp_path, authority, nats_server, api_context):
    """A provider connector with the real DatasetService and RecordService behind the API."""
    from connector.runtime.connector import Connector, Tuning
    from tests.api.conftest import connector_config, start_api
    from tests.connector.conftest import OFFER, SHELTER_SCHEMA
    from trust.status_list import StatusListCache

    cache = StatusListCache([authority.did])
    cache.add(authority.status_list_jwt())
    node = Connector(connector_config(tmp_path, authority, nats_server.url),
                     tuning=Tuning(publish_timeout=1.0, publish_retry_s=60), status_lists=cache,
                     contexts=api_context)
    await node.start()
    await node.datasets.offer_dataset(REAL_DATASET, "指定避難所", [OFFER], SHELTER_SCHEMA)
    _, server = await start_api(node)
    token = TokenStore(node.store).issue(["records:write", "records:read", "admin"]).token
    client = TsunaguClient(str(server.make_url("")), token)
    yield client
    await client.close()
    await server.close()
    await node.stop()


async def test_publish_update_delete_through_the_real_record_service(provider_api):
    client = provider_api
    record = {"@context": API_RECORD_CONTEXT, "id": REAL_RECORD, "type": ["Record", "Shelter"],
              "name": "片平小学校", "capacity": 300, "status": "open"}
    published = await client.publish(REAL_DATASET, record)
    assert (published.version, published.dataset) == (1, REAL_DATASET)
    assert published.record["proof"]["cryptosuite"] == "eddsa-jcs-2022"
    updated = await client.update(REAL_RECORD, {**record, "capacity": 250})
    assert (updated.version, updated.record["capacity"]) == (2, 250)
    with pytest.raises(ApiError) as info:  # the dataset's JSON schema still applies
        await client.update(REAL_RECORD, {**record, "capacity": -1})
    assert info.value.status == 400 and info.value.code.startswith("record.")
    deleted = await client.delete(REAL_RECORD)
    assert deleted.deleted and deleted.version == 3


async def test_a_dataset_offered_with_batch_proofs_signs_each_batch_once(provider_api):
    client = provider_api
    from tests.connector.conftest import OFFER, SHELTER_SCHEMA

    with pytest.raises(ApiError) as info:
        await client.offer_dataset(REAL_DATASET, "指定避難所", [OFFER], schema=SHELTER_SCHEMA,
                                   record_proofs="merkle")
    assert info.value.status == 400 and "recordProofs" in str(info.value)
    await client.offer_dataset(REAL_DATASET, "指定避難所", [OFFER], schema=SHELTER_SCHEMA,
                               record_proofs="batch")
    records = [{"@context": API_RECORD_CONTEXT, "id": f"{REAL_RECORD}-{n}",
                "type": ["Record", "Shelter"], "name": f"避難所 {n}", "capacity": n,
                "status": "open"} for n in range(5)]
    published = await client.publish_batch(REAL_DATASET, records)
    proofs = [(await client.record(p["id"])).record["proof"] for p in published]
    assert {p["cryptosuite"] for p in proofs} == {"tsunagu-merkle-eddsa-jcs-2026"}
    assert len({p["proofValue"] for p in proofs}) == 1
