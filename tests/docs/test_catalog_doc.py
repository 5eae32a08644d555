"""docs/catalog.md, "Running a node in a connector": the ``[catalog_node]`` block is a valid
config section as written; the request is sent as written to a connector running a node
(over real connectors, a real nats-server and the authority's registry over HTTP) and
answers a page with the dataset; the Python example runs down to a FINALIZED agreement."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path
from typing import Any

import aiohttp
from aiohttp.test_utils import TestServer

from connector.api.app import make_app
from connector.api.tokens import TokenStore
from connector.runtime.config import ConnectorConfig
from tests.connector.catalog_node_support import node_config, until
from tests.connector.conftest import (  # noqa: F401 (fixtures)
    authority,
    provider,
    provider_config,
    registry_url,
    shelter_context,
    start_connector,
)

DOC = Path(__file__).resolve().parents[2] / "docs" / "catalog.md"
TEXT = DOC.read_text(encoding="utf-8")


def block(language: str) -> str:
    [found] = re.findall(rf"^```{language}\n(.*?)^```", TEXT, re.S | re.M)
    return found


def test_the_config_block_is_a_valid_section():
    section = tomllib.loads(block("toml"))
    config = ConnectorConfig.model_validate({
        "participant": {"name": "仙台市", "data_dir": "/tmp/x"},
        "authority": {"dids": ["did:key:z6MkhaXgBZDvotDkL5257faiztiGiC2QtKLGpbnnEGta2doK"]},
        **section})
    assert config.catalog_node.enabled and config.catalog_node.refresh_s == 60
    assert config.catalog_index_path == Path("/tmp/x/catalog.db")


async def test_the_request_and_the_python_example_run_as_written(
        tmp_path, authority, nats_server, start_connector, provider, registry_url):  # noqa: F811
    node = await start_connector(node_config(tmp_path, authority, nats_server,
                                             registry_url=registry_url))
    await until(lambda: node.catalog_node.rounds >= 1)
    server = TestServer(make_app(node), host="127.0.0.1", port=0)
    await server.start_server()
    url = str(server.make_url("")).rstrip("/")
    token = TokenStore(node.store).issue(["catalog:read", "contracts:write",
                                          "contracts:read"]).token
    try:
        request = block("http").splitlines()
        method, target = request[0].split(" ", 1)
        assert request[1].startswith("Authorization: Bearer ")
        async with aiohttp.ClientSession() as http, http.request(
                method, url + target, headers={"Authorization": f"Bearer {token}"}) as resp:
            page = await resp.json()
        assert resp.status == 200
        assert [d["dct:title"] for d in page["dataset"]] == ["指定避難所"]
        assert page["tsunagu:facets"]["publisher"] == {provider.connector.did: 1}

        scope: dict[str, Any] = {}
        exec(compile(block("python"), str(DOC), "exec"), scope)
        await scope["example"](url, token)
        [agreement] = node.agreements.summaries()
        assert agreement["provider"] == provider.connector.did
    finally:
        await server.close()
