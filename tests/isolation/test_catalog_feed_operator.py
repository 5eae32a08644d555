"""The catalog change feed in operator mode (issue 16 item 2): every participant's catalog
stream lives in its own NATS account, and a catalog node in another account follows them
all through the imports the authority's account JWTs give it (``follow_catalogs``). Real
connectors on the data space's operator-mode nats-server (the tests/e2e fixtures)."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import pytest

from authority.accounts import NatsAccountManager
from connector.bus import subjects
from connector.catalog_node.feed import ChangeFeed
from connector.catalog_node.node import CatalogNode, connector_fetch
from connector.data.datasets import CHANGE_TYPE
from connector.protocol.dsp import messages as m
from tests.connector.test_catalog_node import _until as until
from tests.e2e import conftest as e2e
from tests.e2e import test_key_rotation
from tests.e2e.conftest import Node, operator_participant
from trust.canonical import canonical_json
from trust.keys import KeyPair
from trust.proofs import sign_document

authority, provider, consumer_config = e2e.authority, e2e.provider, e2e.consumer_config
# connectors that fetch the authority's key histories, as deployed
start_node = test_key_rotation.start_node
OPEN = m.offer("urn:tsunagu:test:offer:open", permission=[m.rule("use")])
RIVER = "urn:tsunagu:test:dataset:river"


@pytest.fixture
async def catalog(start_node, consumer_config) -> Node:
    """The catalog node's connector: a participant of its own account."""
    return await start_node(consumer_config)


def titles(node: CatalogNode, query: str) -> list[str]:
    return sorted(h.dataset.title for h in node.catalog.search(query).hits)


async def feed_messages(node: Node) -> int:
    """Messages a participant's own CATALOG_FEED stream captured (0: it imports nothing)."""
    js = node.connector.js
    return (await js.stream_info(subjects.CATALOG_FEED_STREAM)).state.messages


async def test_a_node_in_another_account_follows_every_participant(
        tmp_path, authority, space_nats, start_node, provider, catalog):
    assert await space_nats.follow_catalogs(catalog.did) >= 1  # the provider (and authority)
    river = await start_node(await operator_participant(
        tmp_path, authority, space_nats, name="河川事務所", legal_id="8000020041009",
        role="relief_supplier"))  # onboarded after: its import is added then
    node = CatalogNode()
    node.load_registry(authority.signed_registry(), authority=authority.did)
    report = await node.crawl(connector_fetch(catalog.connector), timeout=3.0)
    assert {provider.did, river.did} <= set(report.crawled)
    keys = catalog.connector.checker.keys
    feed = ChangeFeed(node, catalog.connector.js, imported=True, own=catalog.did, keys=keys)
    await feed.sync()

    await river.datasets.offer_dataset(RIVER, "河川水位", [OPEN])               # published
    assert await until(lambda: titles(node, "河川") == ["河川水位"]) < 1.0
    await river.datasets.offer_dataset(RIVER, "河川水位（毎時）", [OPEN])     # changed
    assert await until(lambda: titles(node, "毎時") == ["河川水位（毎時）"]) < 1.0
    assert await river.datasets.withdraw_dataset(RIVER)                         # withdrawn
    assert await until(lambda: node.catalog.search("河川").total == 0) < 1.0
    await provider.datasets.offer_dataset("urn:tsunagu:test:dataset:map", "ハザードマップ",
                                          [OPEN])
    assert await until(lambda: titles(node, "ハザード") == ["ハザードマップ"]) < 1.0
    # the node's own datasets come from its own stream (its account imports nothing of it)
    await catalog.datasets.offer_dataset("urn:tsunagu:test:dataset:own", "運営記録", [OPEN])
    assert await until(lambda: titles(node, "運営") == ["運営記録"]) < 1.0

    # a participant whose account does not follow catalogs captures nothing
    rogue = ChangeFeed(CatalogNode(), provider.connector.js, imported=True,
                       durable="rogue")
    await rogue.sync()
    await river.datasets.offer_dataset(RIVER, "河川水位", [OPEN])
    assert await until(lambda: titles(node, "河川") == ["河川水位"]) < 1.0
    assert await feed_messages(catalog) == 5  # river 4, provider 1 (not its own)
    assert await feed_messages(provider) == 0
    await rogue.close()

    # the node is down while datasets change: it catches up from its durable position
    await feed.close()
    await river.datasets.offer_dataset("urn:tsunagu:test:dataset:supplies", "物資の在庫",
                                       [OPEN])
    assert await river.datasets.withdraw_dataset(RIVER)
    await asyncio.sleep(0.2)
    assert titles(node, "物資") == []
    feed = ChangeFeed(node, catalog.connector.js, imported=True, own=catalog.did, keys=keys)
    await feed.sync()
    assert await until(lambda: titles(node, "物資") == ["物資の在庫"]) < 1.0
    assert node.catalog.search("河川").total == 0

    # revoked: its account (and the node's import of it) goes, and so do its datasets
    authority.revoke(did=river.did, reason="test")
    assert await space_nats.revoke(river.did)
    removed = node.load_registry(authority.signed_registry(), authority=authority.did)
    assert removed == [river.did]
    await feed.sync()
    assert node.catalog.search("物資").total == 0
    assert titles(node, "ハザード") == ["ハザードマップ"]
    await feed.close()


async def test_events_verify_against_the_key_history_after_a_rotation(
        authority, space_nats, provider, catalog):
    await space_nats.follow_catalogs(catalog.did)
    identity, old_key = provider.did, provider.connector.identity.key
    node = CatalogNode()
    node.load_registry(authority.signed_registry(), authority=authority.did)
    feed = ChangeFeed(node, catalog.connector.js, imported=True, own=catalog.did,
                      keys=catalog.connector.checker.keys)
    blind = CatalogNode()  # the same events judged by the DID's key alone
    blind.load_registry(authority.signed_registry(), authority=authority.did)
    blind_feed = ChangeFeed(blind, catalog.connector.js, imported=True, durable="blind")
    await feed.sync()
    await blind_feed.sync()

    new_key = KeyPair.generate()
    issued = authority.rotate_key(did=identity, new_key=new_key.did)
    await provider.connector.rotate_key(new_key, issued.jwt)
    await provider.datasets.offer_dataset("urn:tsunagu:test:dataset:rotated", "回転後の台帳",
                                          [OPEN])
    # the node learns the new key from the authority's key history at the first event
    assert await until(lambda: titles(node, "台帳") == ["回転後の台帳"]) < 1.0
    await until(lambda: blind.catalog.drops[(identity, "invalid_signature")] >= 1)
    assert titles(blind, "台帳") == []

    # the rotated-out key signing after its period ended is refused (key.rotated_out)
    [old] = [p for p in authority.key_history(identity) if p.key == old_key.did]
    assert old.valid_until is not None
    late = sign_document({"type": CHANGE_TYPE, "event": "withdrawn", "provider": identity,
                          "at": "2026-01-01T00:00:00Z",
                          "dataset": {"@id": "urn:tsunagu:test:dataset:rotated"}},
                         old_key, created=old.valid_until + timedelta(seconds=1))
    # (no expected-stream header: the node's stream captures it too, as connectors publish)
    await provider.connector.js.publish(subjects.catalog_subject(identity),
                                        canonical_json(late))
    await until(lambda: node.catalog.drops[(identity, "invalid_signature")] == 1)
    assert titles(node, "台帳") == ["回転後の台帳"]
    await feed.close()
    await blind_feed.close()


def test_only_the_catalog_nodes_account_grows_with_the_participants() -> None:
    """Account JWT bytes: a participant's account is the same size whether or not a node
    follows catalogs (one export); the node's account grows by one import per participant."""
    def sizes(n: int, with_node: bool) -> tuple[int, int]:
        manager = NatsAccountManager()
        dids = [KeyPair.generate().did for _ in range(n)]
        for did in dids:
            manager.onboard(did)
        if with_node:
            manager.follow_catalogs(dids[0])
        return len(manager.account_jwt(dids[0])), len(manager.account_jwt(dids[-1]))

    node_10, other_10 = sizes(10, True)
    node_40, other_40 = sizes(40, True)
    _, plain_40 = sizes(40, False)
    per_participant = (node_40 - node_10) / 30 - (other_40 - other_10) / 30
    assert 0 < per_participant < 400, per_participant  # the node's import, base64 in the JWT
    assert other_40 == plain_40  # following catalogs costs the others nothing


def test_accounts_from_before_catalog_exports_get_them_pushed_first() -> None:
    """State written before catalog exports: following catalogs gives every other account
    its export, and those JWTs are pushed before the node's, which imports from them."""
    manager = NatsAccountManager()
    node, old = KeyPair.generate().did, KeyPair.generate().did
    manager.onboard(node)
    manager.onboard(old)
    manager.operator_config()  # everything so far is on the server
    state = manager.to_state()
    for account in state["accounts"]:  # as an older authority wrote it
        account["exports"] = [e for e in account["exports"] if e["name"] != "catalog"]
    state.pop("catalogNodes")
    manager = NatsAccountManager.from_state(state)
    assert manager.follow_catalogs(node) == 1
    assert manager.pending == [manager.account_of(old), manager.account_of(node)]
    restored = NatsAccountManager.from_state(manager.to_state())
    assert restored.catalog_nodes() == [node]
