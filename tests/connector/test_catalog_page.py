"""The catalog page over real HTTP (the browser tests are in browser/): served only by a
connector running a node, strict headers, who may start a negotiation (a staff person with
contracts:write, or a script's bearer token of that scope; nobody else), and a node that is
not running said plainly."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime
from urllib.parse import parse_qs, urlparse

import aiohttp
import pytest
from aiohttp.test_utils import TestServer

from connector.api.app import make_app
from connector.api.staff import totp
from connector.api.staff.service import StaffAuth
from connector.api.tokens import TokenStore
from tests.connector.catalog_node_support import node_config, until
from tests.connector.conftest import DATASET

PASSWORD = "correct horse battery staple 2026"


@pytest.fixture
async def site(tmp_path, authority, nats_server, start_connector, provider, registry_url
               ) -> AsyncIterator[tuple[str, object]]:
    node = await start_connector(node_config(tmp_path, authority, nats_server,
                                             registry_url=registry_url))
    await until(lambda: node.catalog_node.rounds >= 1)
    server = TestServer(make_app(node), host="127.0.0.1", port=0)
    await server.start_server()
    try:
        yield str(server.make_url("/catalog/")), node
    finally:
        await server.close()


def offer_form(provider_did: str) -> dict[str, str]:
    return {"provider": provider_did, "dataset": DATASET, "offer": "urn:tsunagu:test:offer:1"}


async def test_headers_and_who_may_start_a_negotiation(site, provider):
    url, node = site
    async with aiohttp.ClientSession() as http:
        async with http.get(url) as resp:
            assert resp.status == 200
            assert "script-src 'none'" in resp.headers["Content-Security-Policy"]
            assert resp.headers["X-Frame-Options"] == "DENY"
            assert "指定避難所" in await resp.text()
        # nobody signed in: sent to the login form, nothing started
        async with http.post(url + "negotiate", data=offer_form(provider.connector.did),
                             allow_redirects=False) as resp:
            assert (resp.status, resp.headers["Location"]) == (303, "/catalog/login")
        # a token without contracts:write is nobody here
        weak = TokenStore(node.store).issue(["catalog:read"]).token
        async with http.post(url + "negotiate", data=offer_form(provider.connector.did),
                             headers={"Authorization": f"Bearer {weak}"},
                             allow_redirects=False) as resp:
            assert resp.status == 303 and resp.headers["Location"].endswith("/login")
        assert node.negotiations.list() == []
        # a person whose account lacks the scope cannot log in here
        accounts = StaffAuth.of(node).accounts
        made = accounts.add("taro", "山田 太郎", scopes=["catalog:read"], password=PASSWORD)
        secret = parse_qs(urlparse(made.totp_uri).query)["secret"][0]
        async with http.post(url + "login", data={
                "login": "taro", "password": PASSWORD,
                "totp": totp.code_at(secret, datetime.now(UTC))}) as resp:
            assert resp.status == 403
            assert "contracts:write" in await resp.text()
            assert "tsunagu_catalog_session" not in resp.cookies
        # a script with a token of the scope: one POST, one negotiation
        strong = TokenStore(node.store).issue(["contracts:write"]).token
        async with http.post(url + "negotiate", data=offer_form(provider.connector.did),
                             headers={"Authorization": f"Bearer {strong}"},
                             allow_redirects=False) as resp:
            assert resp.status == 303
            assert resp.headers["Location"].startswith("/catalog/negotiations/urn%3Auuid%3A")
        [started] = node.negotiations.list()
        assert started["datasetId"] == DATASET
        # an offer the provider does not have: refused with the reason, as a page
        async with http.post(url + "negotiate", data={**offer_form(provider.connector.did),
                                                      "offer": "urn:nothing"},
                             headers={"Authorization": f"Bearer {strong}"}) as resp:
            assert resp.status == 400
            assert "申し込めませんでした" in await resp.text()


async def test_a_stopped_node_and_a_connector_without_one(site, provider):
    url, node = site
    await node.catalog_node.shutdown()
    async with aiohttp.ClientSession() as http:
        async with http.get(url + "?lang=en") as resp:
            assert resp.status == 503
            assert "runs no catalogue node" in await resp.text()
    server = TestServer(make_app(provider.connector), host="127.0.0.1", port=0)
    await server.start_server()
    try:
        async with aiohttp.ClientSession() as http, \
                http.get(str(server.make_url("/catalog/"))) as resp:
            assert resp.status == 404
    finally:
        await server.close()
