"""The catalog node as a connector service, with real connectors on a real nats-server and
the authority's registry over real HTTP: the node loads and follows the registry, crawls,
follows the change feed, keeps going when the authority is unreachable, and its search is
served on the app API; from a search hit, the SDK starts a negotiation that is FINALIZED."""

from __future__ import annotations

import aiohttp
import pytest
from aiohttp.test_utils import TestServer

from connector.api.app import make_app
from connector.api.sdk import ApiError, TsunaguClient
from connector.api.tokens import TokenStore
from connector.catalog_node.service import FAILURES
from tests.connector.catalog_node_support import (
    FOR_OPERATORS,
    OPEN,
    RIVER,
    node_config,
    titles,
    until,
    with_node,
)
from tests.connector.conftest import participant_config, start_provider


async def test_the_node_service_crawls_follows_and_drops_the_revoked(
        tmp_path, authority, nats_server, start_connector, provider, registry_url):
    river = await start_provider(start_connector, participant_config(
        tmp_path, authority, nats_server.url, name="河川事務所", legal_id="8000020041009",
        role="relief_supplier"))
    await river.datasets.offer_dataset(RIVER, "河川水位", [OPEN], description="広瀬川の水位")
    node = await start_connector(node_config(tmp_path, authority, nats_server,
                                             registry_url=registry_url))
    # loaded, verified and crawled on start: both providers' datasets are found
    await until(lambda: node.catalog_node.rounds >= 1)
    assert titles(node, "避難所") == ["指定避難所"] and titles(node, "河川") == ["河川水位"]
    assert node.config.catalog_index_path.is_file()  # a file in the data folder

    # a change reaches the node through the feed, within a second, without a re-crawl
    rounds = node.catalog_node.rounds
    await river.datasets.offer_dataset(RIVER, "河川水位（毎時）", [OPEN])
    assert await until(lambda: titles(node, "毎時") == ["河川水位（毎時）"]) < 1.0
    assert node.catalog_node.rounds == rounds

    # revoked: at the next registry refresh the participant's datasets are gone
    authority.revoke(did=river.connector.did)
    node.catalog_node.refresh_now()
    await until(lambda: titles(node, "河川") == [])
    assert titles(node, "避難所") == ["指定避難所"]
    assert river.connector.did not in node.catalog_node.node.participants()


async def test_an_unreachable_authority_is_counted_and_never_stops_the_connector(
        tmp_path, authority, nats_server, start_connector, provider, unused_tcp_port):
    node = await start_connector(node_config(
        tmp_path, authority, nats_server, registry_url=f"http://127.0.0.1:{unused_tcp_port}"
        "/participants"))
    await until(lambda: node.metrics.value(FAILURES, stage="registry") >= 1)
    assert node.nats_connected and node.catalog_node.node is not None
    assert node.catalog_node.node.catalog.search("").total == 0
    # the connector still works: it answers its own DSP catalog
    assert (await node.catalog.fetch(provider.connector.did))["dataset"]


async def test_search_api_sdk_and_a_hit_negotiated_to_an_agreement(
        tmp_path, authority, nats_server, start_connector, provider, registry_url):
    await provider.datasets.offer_dataset("urn:tsunagu:test:dataset:support",
                                          "避難行動要支援者名簿", [FOR_OPERATORS])
    node = await start_connector(node_config(tmp_path, authority, nats_server,
                                             registry_url=registry_url))
    await until(lambda: titles(node, "ひなん") != [])
    server = TestServer(make_app(node), host="127.0.0.1", port=0)
    await server.start_server()
    token = TokenStore(node.store).issue(["catalog:read", "contracts:write",
                                          "contracts:read"]).token
    base = str(server.make_url("")).rstrip("/")
    try:
        async with TsunaguClient(base, token) as client:
            page = await client.catalog_search("ひなん", roles=["shelter_operator"],
                                               purpose="disaster_response", facets=True)
            by_title = {h["dct:title"]: h for h in page["dataset"]}
            assert set(by_title) == {"指定避難所", "避難行動要支援者名簿"}
            hit = by_title["避難行動要支援者名簿"]
            offer = hit["hasPolicy"][0]
            assert offer["tsunagu:decision"]["outcome"] == "permit"
            assert offer["tsunagu:explanation"]["ja"] and offer["tsunagu:explanation"]["en"]
            assert page["tsunagu:facets"]["publisher"] == {provider.connector.did: 2}
            assert hit["dct:publisher"]["foaf:name"] == "仙台市"

            negotiation = await client.negotiate_from_hit(hit)
            assert negotiation.offer_id == "urn:tsunagu:test:offer:operators"
            done = await node.negotiations.wait(negotiation.pid, timeout=10.0)
            assert done["state"] == "FINALIZED"
            agreements = await client.negotiation(negotiation.pid)
            assert agreements.agreement_id

            # a river office asks: the operators-only dataset is not offered to it
            page = await client.catalog_search("", roles=["relief_supplier"], strict=True)
            assert "避難行動要支援者名簿" not in {h["dct:title"] for h in page["dataset"]}

            # pages by cursor, and a cursor of another search is a 400 naming it
            first = await client.catalog_search("", limit=1)
            assert first["tsunagu:total"] == 2 and len(first["dataset"]) == 1
            second = await client.catalog_search("", limit=1, cursor=first["tsunagu:nextCursor"])
            assert second["dataset"][0]["@id"] != first["dataset"][0]["@id"]
            with pytest.raises(ApiError) as refused:
                await client.catalog_search("避難", limit=1, cursor=first["tsunagu:nextCursor"])
            assert (refused.value.status, refused.value.code) == (400, "input.invalid")
            assert refused.value.problem.field == "cursor"
            with pytest.raises(ValueError):
                await client.negotiate_from_hit(hit, "urn:not-an-offer-of-the-hit")
    finally:
        await server.close()


async def test_search_input_is_safe_and_bad_parameters_name_themselves(
        tmp_path, authority, nats_server, start_connector, provider, registry_url):
    node = await start_connector(node_config(tmp_path, authority, nats_server,
                                             registry_url=registry_url))
    await until(lambda: titles(node, "避難所") == ["指定避難所"])
    server = TestServer(make_app(node), host="127.0.0.1", port=0)
    await server.start_server()
    token = TokenStore(node.store).issue(["catalog:read"]).token
    url = str(server.make_url("/api/v1/catalog/search"))
    headers = {"Authorization": f"Bearer {token}"}
    try:
        async with aiohttp.ClientSession() as http:
            for q in ['"NEAR((', "避難 OR *", "a" * 5000, "ﾋﾅﾝｼﾞｮ", "\u202e\u0000x", "🏠 避難所",
                      "title:避難", ")))((( AND NOT"]:
                async with http.get(url, params={"q": q}, headers=headers) as resp:
                    assert resp.status == 200, q
                    body = await resp.json()
                    assert body["@type"] == "Catalog"
            async with http.get(url, params={"q": "ﾋﾅﾝｼﾞｮ"}, headers=headers) as resp:
                assert [d["dct:title"] for d in (await resp.json())["dataset"]] == ["指定避難所"]
            for params, field in (({"limit": "0"}, "limit"), ({"limit": "x"}, "limit"),
                                  ({"from": "yesterday"}, "from"), ({"area": "1" * 300}, "area"),
                                  ({"facets": "maybe"}, "facets"),
                                  ({"cursor": "not-a-cursor"}, "cursor")):
                async with http.get(url, params=params, headers=headers) as resp:
                    body = await resp.json(content_type=None)
                    assert (resp.status, body["code"], body["field"]) == (
                        400, "input.invalid", field), params
            async with http.get(url) as resp:
                assert resp.status == 401
    finally:
        await server.close()


async def test_without_a_node_the_search_says_so(tmp_path, authority, nats_server,
                                                 start_connector, provider):
    server = TestServer(make_app(provider.connector), host="127.0.0.1", port=0)
    await server.start_server()
    token = TokenStore(provider.connector.store).issue(["catalog:read"]).token
    try:
        async with TsunaguClient(str(server.make_url("")).rstrip("/"), token) as client:
            with pytest.raises(ApiError) as refused:
                await client.catalog_search("避難")
            assert (refused.value.status, refused.value.code) == (501, "feature.unavailable")
            assert "catalog_node" in refused.value.detail
    finally:
        await server.close()


async def test_the_registry_is_renewed_before_it_expires(
        tmp_path, authority, nats_server, start_connector, provider, registry_url):
    node = await start_connector(node_config(tmp_path, authority, nats_server,
                                             registry_url=registry_url, refresh_s=3600))
    await until(lambda: node.catalog_node.rounds >= 1)
    # registries are valid 10 minutes: the next round comes at 80 % of that, not in an hour
    wait = await node.catalog_node.round()
    assert 400 < wait <= 480
    short = await start_connector(with_node(participant_config(
        tmp_path, authority, nats_server.url, name="河川事務所", legal_id="8000020041009",
        role="relief_supplier"), registry_url=registry_url, refresh_s=5))
    await until(lambda: short.catalog_node.rounds >= 1)
    assert await short.catalog_node.round() == 5


async def test_operator_mode_the_registry_comes_over_nats(
        tmp_path, authority, space_nats, start_connector):
    from tests.nats_fixtures import operator_config

    provider = await start_provider(start_connector, await operator_config(participant_config(
        tmp_path, authority, "nats://unused", name="仙台市", legal_id="041009",
        role="municipality"), space_nats))
    await provider.datasets.offer_dataset(RIVER, "河川水位", [OPEN])
    node = await start_connector(await operator_config(node_config(
        tmp_path, authority, space_nats), space_nats))  # no registry_url: asked over NATS
    assert node.config.catalog_node.registry_url is None
    await until(lambda: titles(node, "河川") == ["河川水位"], timeout=10.0)
    assert node.metrics.value(FAILURES, stage="registry") == 0


async def test_an_index_that_cannot_be_opened_leaves_the_connector_running(
        tmp_path, authority, nats_server, start_connector, registry_url):
    config = node_config(tmp_path, authority, nats_server, registry_url=registry_url,
                         index="not-a-file")
    (config.data_dir / "not-a-file").mkdir()  # a folder where the index file should be
    node = await start_connector(config)
    assert node.catalog_node.node is None
    assert node.metrics.value(FAILURES, stage="index") == 1
    assert node.nats_connected
