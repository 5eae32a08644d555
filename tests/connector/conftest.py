"""Running connectors for the data-plane tests: a provider (datasets + records) on a real
nats-server, and any number of other participants onboarded by the same tmp authority."""

from __future__ import annotations

import hashlib
import json
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path

import pytest
from aiohttp.test_utils import TestServer

from authority.cli import make_app as authority_app
from authority.state import Authority
from connector.bus.server import EmbeddedNatsServer
from connector.data.datasets import DatasetService
from connector.data.records import RecordService
from connector.protocol.dsp import messages as m
from connector.runtime.config import ConnectorConfig, load_config
from connector.runtime.connector import Connector, Tuning
from trust import jsonld
from trust.keys import KeyPair, save_key
from trust.status_list import StatusListCache

CITY_CODE = "041009"
OPERATOR_NUMBER = "7000012050002"
DATASET = "urn:tsunagu:test:dataset:shelters"
SHELTER_CONTEXT = "https://example.org/tsunagu-test/shelter/v1"
RECORD_CONTEXT = [jsonld.CREDENTIALS_V2, jsonld.TSUNAGU_V1, SHELTER_CONTEXT]
OFFER = m.offer("urn:tsunagu:test:offer:1", permission=[
    m.rule("use", [m.constraint("odrl:dateTime", "lteq", "2030-12-31T00:00:00Z")])])
SHELTER_SCHEMA = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "type": "object",
    "required": ["id", "type", "name", "capacity"],
    "properties": {
        "name": {"type": "string", "minLength": 1},
        "capacity": {"type": "integer", "minimum": 0},
        "status": {"enum": ["open", "closed", "full"]},
    },
}
_CONTEXT = {"@context": {
    "@version": 1.1,
    "@protected": True,
    "Shelter": "https://example.org/tsunagu-test/shelter#Shelter",
    "capacity": {"@id": "https://example.org/tsunagu-test/shelter#capacity",
                 "@type": "http://www.w3.org/2001/XMLSchema#integer"},
    "status": "https://example.org/tsunagu-test/shelter#status",
}}


def shelter(record_id: str = "urn:tsunagu:test:shelter:1", **fields: object) -> dict:
    """A valid record for the test dataset (``name`` comes from credentials v2)."""
    return {"@context": list(RECORD_CONTEXT), "id": record_id, "type": ["Record", "Shelter"],
            "name": "片平小学校", "capacity": 300, "status": "open", **fields}


@pytest.fixture(autouse=True)
def shelter_context(tmp_path: Path) -> jsonld.ContextRegistry:
    """The core contexts plus a domain context for test records, given to each connector
    these tests start (a connector's registry is its own, as a plug-in's contexts are)."""
    path = tmp_path / "shelter-v1.jsonld"
    data = json.dumps(_CONTEXT).encode()
    path.write_bytes(data)
    contexts = jsonld.ContextRegistry.core()
    contexts.register(SHELTER_CONTEXT, path, hashlib.sha256(data).hexdigest())
    return contexts


@pytest.fixture
def authority(tmp_path: Path) -> Authority:
    return Authority.init(tmp_path / "authority", name="test authority")


def participant_config(tmp_path: Path, authority: Authority, nats_url: str, *, name: str,
                       legal_id: str, role: str) -> ConnectorConfig:
    """Key, credential and participant.toml in a fresh folder, read back by load_config.

    NATS without credentials (``insecure_no_auth``): these tests exercise the data plane on a
    plain nats-server they crash and restart; tests.nats_fixtures.operator_config turns a
    config into an operator-mode one (what the e2e tests and deployments run)."""
    folder = tmp_path / f"participant-{legal_id}"
    key = KeyPair.generate()
    save_key(key, folder / "participant.pem")
    issued = authority.issue(did=key.did, name=name, legal_id=legal_id, roles=[role])
    (folder / "credential.jwt").write_text(issued.jwt, encoding="ascii")
    (folder / "participant.toml").write_text(f"""
[participant]
name = "{name}"
data_dir = "."

[authority]
dids = ["{authority.did}"]

[nats]
urls = ["{nats_url}"]
insecure_no_auth = true
reconnect_time_wait = 0.1
initial_connect_deadline = 5.0
""", encoding="utf-8")
    return load_config(folder / "participant.toml")


def status_lists(authority: Authority) -> StatusListCache:
    cache = StatusListCache([authority.did])
    cache.add(authority.status_list_jwt())
    return cache


@dataclass
class Provider:
    connector: Connector
    datasets: DatasetService
    records: RecordService


StartConnector = Callable[..., Awaitable[Connector]]


@pytest.fixture
async def start_connector(authority: Authority, nats_server: EmbeddedNatsServer,
                          shelter_context: jsonld.ContextRegistry
                          ) -> AsyncIterator[StartConnector]:
    """Starts connectors for a config; all still running are stopped at teardown (before
    the nats_server they use, hence the dependency)."""
    running: list[Connector] = []

    async def start(config: ConnectorConfig, tuning: Tuning | None = None) -> Connector:
        connector = Connector(config, tuning=tuning or Tuning(),
                              status_lists=status_lists(authority), contexts=shelter_context)
        await connector.start()
        running.append(connector)
        return connector

    yield start
    for connector in running:
        if not connector.nc.is_closed:  # tests that restart stop the first one themselves
            await connector.stop()


@pytest.fixture
def provider_config(tmp_path, authority, nats_server) -> ConnectorConfig:
    return participant_config(tmp_path, authority, nats_server.url, name="仙台市",
                              legal_id=CITY_CODE, role="municipality")


async def start_provider(start_connector: StartConnector, config: ConnectorConfig) -> Provider:
    connector = await start_connector(config, Tuning(publish_timeout=1.0, publish_retry_s=60))
    return Provider(connector, connector.datasets, connector.records)


@pytest.fixture
async def provider(start_connector, provider_config) -> Provider:
    """A running provider offering DATASET (schema SHELTER_SCHEMA, one offer)."""
    p = await start_provider(start_connector, provider_config)
    await p.datasets.offer_dataset(DATASET, "指定避難所", [OFFER], SHELTER_SCHEMA,
                                   description="開設状況", keywords=["避難所", "bosai"])
    return p


@pytest.fixture
async def consumer(tmp_path, authority, nats_server, start_connector) -> Connector:
    config = participant_config(tmp_path, authority, nats_server.url, name="避難所運営",
                                legal_id=OPERATOR_NUMBER, role="shelter_operator")
    return await start_connector(config)


@pytest.fixture
async def registry_url(authority: Authority) -> AsyncIterator[str]:
    """The authority's HTTP surface (``tsunagu authority serve``) on a real socket: the URL
    of its signed participant registry, as a catalog node reads it."""
    server = TestServer(authority_app(authority), host="127.0.0.1", port=0)
    await server.start_server()
    yield str(server.make_url("/participants"))
    await server.close()
