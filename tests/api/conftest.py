"""A real connector (store, NATS, identity) behind a real aiohttp server on 127.0.0.1:0.

``Api.call`` checks every JSON response it receives against connector/api/openapi.json, so
each test that calls the API also tests the document.
"""

from __future__ import annotations

import contextlib
import re
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import aiohttp
import orjson
import pytest
from aiohttp.test_utils import TestServer
from jsonschema import Draft202012Validator
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT202012
from yarl import URL

from authority.state import Authority
from connector.api.app import OPENAPI_PATH, make_app
from connector.api.tokens import TokenStore
from connector.runtime.config import ConnectorConfig
from connector.runtime.connector import Connector
from tests.held import hold
from trust.keys import KeyPair, save_key
from trust.status_list import StatusListCache

OPENAPI = orjson.loads(OPENAPI_PATH.read_bytes())
_DOC_URI = "urn:tsunagu:openapi"
_REGISTRY = Registry().with_resource(_DOC_URI, Resource(OPENAPI, DRAFT202012))
_TEMPLATES = [(re.compile("^" + re.sub(r"\{[^}]+\}", "[^/]+", p) + "$"), p)
              for p in OPENAPI["paths"]]
DATASET = "https://city.example/datasets/shelters"


def openapi_path(path: str) -> str:
    matches = [template for rx, template in _TEMPLATES if rx.match(path)]
    assert matches, f"{path} is not in openapi.json"
    return matches[0]


def response_schema(method: str, path: str, status: int, content_type: str) -> dict[str, Any]:
    """The JSON pointer of the documented schema for this response, as a $ref schema."""
    template = openapi_path(path)
    operation = OPENAPI["paths"][template][method.lower()]
    key = str(status) if str(status) in operation["responses"] else "default"
    assert key in operation["responses"], f"{method} {template} does not document {status}"
    response = operation["responses"][key]
    pointer = f"/paths/{_escape(template)}/{method.lower()}/responses/{key}"
    if "$ref" in response:
        pointer = response["$ref"][1:]
        response = OPENAPI["components"]["responses"][pointer.rsplit("/", 1)[1]]
    assert content_type in response["content"], (
        f"{method} {template} {status} does not document {content_type}")
    return {"$ref": f"{_DOC_URI}#{pointer}/content/{_escape(content_type)}/schema"}


def _escape(token: str) -> str:
    return token.replace("~", "~0").replace("/", "~1")


def validate_response(method: str, path: str, status: int, content_type: str,
                      body: Any) -> None:
    if not any(rx.match(path) for rx, _ in _TEMPLATES):  # unknown route: still a problem
        assert (status, content_type) == (404, "application/problem+json")
        schema = {"$ref": f"{_DOC_URI}#/components/schemas/Problem"}
    else:
        schema = response_schema(method, path, status, content_type)
    Draft202012Validator(schema, registry=_REGISTRY).validate(body)


@dataclass
class Api:
    url: str
    app: Any
    connector: Connector
    tokens: TokenStore
    http: aiohttp.ClientSession

    def token(self, *scopes: str, days: int = 1) -> str:
        return self.tokens.issue(list(scopes) or ["admin"], days=days).token

    async def call(self, method: str, path: str, token: str | None = None,
                   json: Any = None, headers: dict[str, str] | None = None
                   ) -> tuple[int, str, Any]:
        """(status, content type, parsed body), validated against openapi.json."""
        sent = dict(headers or {})
        if token is not None:
            sent["Authorization"] = f"Bearer {token}"
        data = orjson.dumps(json) if json is not None else None
        async with self.http.request(method, URL(self.url + path, encoded=True), data=data,
                                     headers=sent) as resp:
            raw = await resp.read()
            ctype = resp.content_type
        body: Any = raw.decode() if ctype.startswith("text/") else orjson.loads(raw)
        validate_response(method, URL(path, encoded=True).raw_path, resp.status, ctype, body)
        return resp.status, ctype, body


@pytest.fixture
def authority(tmp_path: Path) -> Authority:
    return Authority.init(tmp_path / "authority", name="test authority")


def connector_config(tmp_path: Path, authority: Authority, nats_url: str,
                     name: str = "仙台市") -> ConnectorConfig:
    data_dir = tmp_path / "participant"
    key = KeyPair.generate()
    save_key(key, data_dir / "participant.pem")
    issued = authority.issue(did=key.did, name=name, legal_id="041009",
                             roles=["municipality"])
    (data_dir / "credential.jwt").write_text(issued.jwt, encoding="ascii")
    return ConnectorConfig.model_validate({
        "participant": {"name": name, "data_dir": str(data_dir)},
        "authority": {"dids": [authority.did]},
        # A plain server the API tests stop and restart: development mode, no credentials.
        "nats": {"urls": [nats_url], "insecure_no_auth": True, "reconnect_time_wait": 0.1},
        "api": {"host": "127.0.0.1", "port": 0},
    })


@pytest.fixture
async def connector(tmp_path, authority, nats_server):
    cache = StatusListCache([authority.did])
    cache.add(authority.status_list_jwt())
    node = Connector(connector_config(tmp_path, authority, nats_server.url),
                     status_lists=cache)
    await node.start()
    try:
        yield node
    finally:
        await node.stop()


@contextlib.asynccontextmanager
async def running_connector(tmp_path: Path, nats_url: str) -> AsyncIterator[Connector]:
    """A connector with an authority of its own and every installed plug-in, started."""
    authority = Authority.init(tmp_path / "authority", name="test authority")
    cache = StatusListCache([authority.did])
    cache.add(authority.status_list_jwt())
    node = Connector(connector_config(tmp_path, authority, nats_url), status_lists=cache)
    await node.start()
    try:
        yield node
    finally:
        await node.stop()


async def start_api(connector: Connector, **options: Any):
    options.setdefault("heartbeat", 0.3)
    options.setdefault("poll_interval", 5.0)  # long: tests that rely on notify() must call it
    options.setdefault("retry_ms", 50)
    app = make_app(connector, **options)
    server = TestServer(app, host="127.0.0.1", port=0)
    await server.start_server()
    return app, server


@pytest.fixture
async def api_factory(connector):
    """Start the API with given make_app options; stops all at teardown."""
    started: list[tuple[TestServer, aiohttp.ClientSession]] = []

    async def factory(**options: Any) -> Api:
        app, server = await start_api(connector, **options)
        http = aiohttp.ClientSession()
        started.append((server, http))
        return Api(str(server.make_url("")).rstrip("/"), app, connector,
                   TokenStore(connector.store), http)

    yield factory
    for server, http in started:
        await http.close()
        await server.close()


@pytest.fixture
async def api(api_factory) -> Api:
    return await api_factory()


# ---------------------------------------------------------------- rows, as services write them

def now_text() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds")


def add_dataset(connector: Connector, dataset_id: str = DATASET) -> None:
    with connector.store.transaction() as db:
        db.execute("INSERT OR IGNORE INTO datasets (id, body, schema_id, stream, subject, created) "
                   "VALUES (?, ?, NULL, 'DS_x', 'tsunagu.data.x', ?)",
                   (dataset_id, orjson.dumps({"@id": dataset_id, "@type": "Dataset"}),
                    now_text()))


def add_own_version(connector: Connector, record_id: str, version: int,
                    dataset_id: str = DATASET, *, deleted: bool = False,
                    deliver: bool = True) -> dict[str, Any]:
    event = "deleted" if deleted else "created" if version == 1 else "updated"
    body = {"id": record_id, "type": "Shelter", "version": version, "name": f"v{version}"}
    add_dataset(connector, dataset_id)
    with connector.store.transaction() as db:
        db.execute("INSERT OR REPLACE INTO records (id, dataset_id, version, deleted, body, "
                   "modified) VALUES (?, ?, ?, ?, ?, ?)",
                   (record_id, dataset_id, version, int(deleted), orjson.dumps(body),
                    now_text()))
        db.execute("INSERT INTO record_versions (id, version, event, body) VALUES (?, ?, ?, ?)",
                   (record_id, version, event, orjson.dumps(body)))
        if deliver:
            db.execute("INSERT INTO deliveries (dataset_id, agreement_id, record_id, version, "
                       "event, at) VALUES (?, NULL, ?, ?, ?, ?)",
                       (dataset_id, record_id, version, event, now_text()))
    return body


def add_held(connector: Connector, record_id: str, version: int = 1,
             dataset_id: str = DATASET, agreement: str = "urn:uuid:agreement-1",
             provider: str = "did:key:z6MkProvider", notify: bool = True) -> int:
    """A record received under an agreement (a permissive one, made if new), as the pull
    loop stores it; returns its delivery's seq."""
    body = {"id": record_id, "type": "Evacuee", "version": version}
    return hold(connector, body, dataset_id=dataset_id, agreement_id=agreement,
                provider=provider, notify=notify)
