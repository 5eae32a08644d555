"""The catalog node against real connectors on a real nats-server: a full crawl over the DSP
bus, a changed dataset seen on the next crawl of its participant, a revoked participant
disappearing, an offline participant not holding up the others, bad entries dropped and
counted on /metrics."""

from __future__ import annotations

import asyncio
import time

from connector.catalog_node.node import CatalogNode, connector_fetch
from connector.protocol.dsp import messages as m
from tests.catalog.helpers import role
from tests.connector.conftest import participant_config, start_provider
from trust.keys import KeyPair

OPEN = m.offer("urn:tsunagu:test:offer:open", permission=[m.rule("use")])
FOR_OPERATORS = m.offer("urn:tsunagu:test:offer:operators",
                        permission=[m.rule("use", [role("shelter_operator")])])


async def test_crawl_change_revoke_and_offline(tmp_path, authority, nats_server,
                                               start_connector, provider, consumer):
    river_config = participant_config(tmp_path, authority, nats_server.url, name="河川事務所",
                                      legal_id="8000020041009", role="relief_supplier")
    river = await start_provider(start_connector, river_config)
    await river.datasets.offer_dataset("urn:tsunagu:test:dataset:river", "河川水位",
                                       [OPEN], description="広瀬川の水位 (Hirose river levels)")
    await provider.datasets.offer_dataset("urn:tsunagu:test:dataset:support",
                                          "避難行動要支援者名簿", [FOR_OPERATORS])
    # a participant in the registry whose connector is not running
    authority.issue(did=KeyPair.generate().did, name="停止中", legal_id="131016",
                    roles=["municipality"])

    node = CatalogNode()
    node.load_registry(authority.signed_registry(), authority=authority.did)
    fetch = connector_fetch(consumer)
    report = await node.crawl(fetch, timeout=2.0)
    assert set(report.crawled) == {provider.connector.did, river.connector.did,
                                   consumer.did}
    assert len(report.failed) == 1  # the offline one, reported, nobody held up
    titles = {h.dataset.title for h in node.catalog.search("避難").hits}
    assert titles == {"指定避難所", "避難行動要支援者名簿"}
    assert [h.dataset.title for h in node.catalog.search("ひなんじょ").hits] == ["指定避難所"]
    assert [h.dataset.title for h in node.catalog.search("hirose").hits] == ["河川水位"]

    # policy-filtered: a river office may not get the operators-only dataset
    from catalog.policy import Asker
    river_asks = {h.dataset.id for h in node.catalog.search(
        "", asker=Asker(roles=("relief_supplier",)), include_conditional=False).hits}
    assert "urn:tsunagu:test:dataset:support" not in river_asks
    assert "urn:tsunagu:test:dataset:river" in river_asks

    # a changed dataset: visible after the next crawl of its participant, within a second
    await river.datasets.offer_dataset("urn:tsunagu:test:dataset:river", "河川水位（毎時）",
                                       [OPEN])
    started = time.perf_counter()
    node.add_catalog(await fetch(river.connector.did), river.connector.did)
    assert [h.dataset.title for h in node.catalog.search("毎時").hits] == ["河川水位（毎時）"]
    assert time.perf_counter() - started < 1.0

    # revoked: gone from the registry, and so from the catalog
    authority.revoke(did=river.connector.did)
    removed = node.load_registry(authority.signed_registry(), authority=authority.did)
    assert removed == [river.connector.did]
    assert node.catalog.search("河川").total == 0
    metrics = node.metrics()
    assert "tsunagu_catalog_crawl_failures_total" in metrics


async def test_a_slow_participant_does_not_hold_up_the_others(provider, consumer, authority):
    node = CatalogNode()
    node.load_registry(authority.signed_registry(), authority=authority.did)
    real = connector_fetch(consumer)

    async def fetch(did: str) -> dict:
        if did == consumer.did:
            await asyncio.sleep(30)  # never answers in time
        return await real(did)

    started = time.perf_counter()
    report = await node.crawl(fetch, timeout=0.5)
    assert time.perf_counter() - started < 2.0
    assert report.failed == {consumer.did: "timeout"}
    assert node.catalog.search("避難所").total == 1


async def test_entries_that_are_not_dsp_datasets_are_dropped_and_counted(provider, authority):
    node = CatalogNode()
    node.load_registry(authority.signed_registry(), authority=authority.did)
    did = provider.connector.did
    good = {"@id": "urn:ds:good", "@type": "Dataset", "dct:title": "正しい", "hasPolicy": [OPEN],
            "distribution": [{"@type": "Distribution", "format": "nats-jetstream",
                              "accessService": f"{did}#dsp"}]}
    no_distribution = {"@id": "urn:ds:bad", "@type": "Dataset", "dct:title": "不正",
                       "hasPolicy": [OPEN]}
    result = node.add_catalog(m.catalog(f"{did}#catalog", participant_id=did,
                                        datasets=[good]) | {"dataset": [good, no_distribution,
                                                                        42]}, did)
    assert result.admitted == ["urn:ds:good"]
    assert node.catalog.drops[(did, "invalid_schema")] == 2
    assert f'tsunagu_catalog_dropped_total{{participant="{did}",reason="invalid_schema"}} 2' \
        in node.metrics()


async def _until(predicate, timeout: float = 1.0) -> float:
    """Seconds until ``predicate()`` holds; fails after ``timeout``."""
    started = time.perf_counter()
    while not predicate():
        if time.perf_counter() - started > timeout:
            raise AssertionError(f"not within {timeout} s")
        await asyncio.sleep(0.005)
    return time.perf_counter() - started


async def test_change_feed_publish_change_withdraw_within_a_second(
        tmp_path, authority, nats_server, start_connector, provider, consumer):
    from connector.catalog_node.feed import ChangeFeed

    river_config = participant_config(tmp_path, authority, nats_server.url, name="物資センター",
                                      legal_id="8000020041009", role="relief_supplier")
    river = await start_provider(start_connector, river_config)
    node = CatalogNode()
    node.load_registry(authority.signed_registry(), authority=authority.did)
    feed = ChangeFeed(node, consumer.js)
    await feed.sync()
    titles = lambda q: [h.dataset.title for h in node.catalog.search(q).hits]  # noqa: E731
    # what was offered before the node started: caught up from the stream, no crawl
    await _until(lambda: titles("避難所") == ["指定避難所"])

    river_ds = "urn:tsunagu:test:dataset:river"
    await river.datasets.offer_dataset(river_ds, "河川水位", [OPEN])          # published
    assert await _until(lambda: titles("河川") == ["河川水位"]) < 1.0
    await river.datasets.offer_dataset(river_ds, "河川水位（毎時）", [OPEN])  # changed
    assert await _until(lambda: titles("毎時") == ["河川水位（毎時）"]) < 1.0
    assert await river.datasets.withdraw_dataset(river_ds)                    # withdrawn
    assert await _until(lambda: node.catalog.search("河川").total == 0) < 1.0
    assert river_ds not in [d["@id"] for d in river.datasets.list()]

    # the node is down while a dataset is offered: it catches up from its position
    await feed.close()
    await river.datasets.offer_dataset("urn:tsunagu:test:dataset:supplies", "物資の在庫", [OPEN])
    feed = ChangeFeed(node, consumer.js)
    await feed.sync()
    assert await _until(lambda: titles("物資") == ["物資の在庫"]) < 1.0

    # a forged event on the provider's subject (signed by another key) is dropped, counted
    from connector.bus import subjects
    from trust.canonical import canonical_json
    from trust.proofs import sign_document
    forged = sign_document({"type": "tsunagu:CatalogChange", "event": "withdrawn",
                            "provider": river.connector.did, "at": "2026-01-01T00:00:00Z",
                            "dataset": {"@id": "urn:tsunagu:test:dataset:supplies"}},
                           KeyPair.generate())
    await consumer.js.publish(subjects.catalog_subject(river.connector.did),
                              canonical_json(forged),
                              stream=subjects.catalog_stream(river.connector.did))
    await _until(lambda: node.catalog.drops[(river.connector.did, "invalid_signature")] == 1)
    assert titles("物資") == ["物資の在庫"]

    # revoked: the feed stops following, the datasets go
    authority.revoke(did=river.connector.did)
    node.load_registry(authority.signed_registry(), authority=authority.did)
    await feed.sync()
    assert node.catalog.search("物資").total == 0
    await feed.close()


async def test_a_paged_catalog_is_crawled_whole(provider, consumer, authority):
    """The provider answers its catalog in pages on the NATS binding; the crawl and the app
    API's catalog client follow the next-page references to the end."""
    from connector.protocol.catalog_client import CONTINUATION, NEXT_PAGE

    provider.datasets.page_size = 3
    for i in range(9):  # with the fixture's dataset: 10 listed, 4 pages
        await provider.datasets.offer_dataset(f"urn:tsunagu:test:dataset:page{i}",
                                              f"頁{i:02d} 台帳", [OPEN])
    assert await provider.datasets.withdraw_dataset("urn:tsunagu:test:dataset:page4")
    pages, token = [], None
    while True:  # what goes over the bus: each page signed, the next one named
        request = m.catalog_request() | ({CONTINUATION: token} if token else {})
        env, _ = await consumer.bus.request(provider.connector.did, "CatalogRequestMessage",
                                            request)
        pages.append([d["@id"] for d in env.payload.get("dataset", [])])
        token = env.payload.get(NEXT_PAGE)
        if token is None:
            break
    assert [len(p) for p in pages] == [3, 3, 3]
    assert len({i for p in pages for i in p}) == 9

    node = CatalogNode()
    node.load_registry(authority.signed_registry(), authority=authority.did)
    report = await node.crawl(connector_fetch(consumer), timeout=5.0)
    assert not report.failed
    assert node.catalog.search("台帳").total == 8  # page4 withdrawn
    whole = await consumer.catalog.fetch(provider.connector.did)
    assert len(whole["dataset"]) == 9 and NEXT_PAGE not in whole

    # a token this provider never gave is refused, not guessed
    env, _ = await consumer.bus.request(provider.connector.did, "CatalogRequestMessage",
                                        m.catalog_request() | {CONTINUATION: "bm9wZQ"})
    assert env.message_type == "CatalogError"


async def test_endless_pages_do_not_stall_the_crawl(provider, consumer, authority):
    """A hostile participant answers every page with yet another next page (fresh tokens, or
    one token in a circle, or slowly): it fails on a bound or its deadline, counted; the
    others are crawled, and the crawl ends within that deadline."""
    from connector.catalog_node.node import connector_fetch as fetch_of
    from connector.protocol.catalog_client import NEXT_PAGE, PageBounds

    served = {"n": 0}
    mode = {"kind": "fresh"}

    async def endless(env, credential):
        kind, payload = "Catalog", consumer.datasets.catalog()  # whatever token it is given
        served["n"] += 1
        if mode["kind"] == "slow":
            await asyncio.sleep(0.2)
        payload[NEXT_PAGE] = "loop" if mode["kind"] == "circle" else f"t{served['n']}"
        return kind, payload

    consumer._routes["CatalogRequestMessage"] = endless  # the consumer turns hostile
    for kind, code in (("fresh", "catalog.error"), ("circle", "catalog.error"),
                       ("slow", "timeout")):
        mode["kind"], served["n"] = kind, 0
        node = CatalogNode()
        node.load_registry(authority.signed_registry(), authority=authority.did)
        started = time.perf_counter()
        report = await node.crawl(fetch_of(provider.connector, PageBounds(pages=50)),
                                  timeout=1.5)
        assert time.perf_counter() - started < 2.5
        assert report.failed == {consumer.did: code}, kind
        assert provider.connector.did not in report.failed  # itself: answered whole
        assert served["n"] <= 50


async def test_pages_neither_skip_nor_repeat_while_the_catalog_changes(provider):
    """Keyset pages: a dataset withdrawn from a page already read, or offered meanwhile,
    shifts nothing; the new one comes on a later page."""
    from connector.protocol.catalog_client import NEXT_PAGE

    datasets = provider.datasets
    datasets.page_size = 2
    for i in range(4):  # with the fixture's dataset: 5 listed
        await datasets.offer_dataset(f"urn:tsunagu:test:dataset:k{i}", f"台帳{i}", [OPEN])
    first = datasets.catalog()
    read = [d["@id"] for d in first["dataset"]]
    assert await datasets.withdraw_dataset(read[0])
    await datasets.offer_dataset("urn:tsunagu:test:dataset:late", "追加の台帳", [OPEN])
    token = first[NEXT_PAGE]
    while token:
        page = datasets.catalog(token)
        read += [d["@id"] for d in page.get("dataset", [])]
        token = page.get(NEXT_PAGE)
    assert len(read) == len(set(read)) == 6  # the 5 listed at first and the late one
    assert read[-1] == "urn:tsunagu:test:dataset:late"


async def test_an_event_is_judged_later_when_no_fresh_key_history_is_at_hand(authority):
    """Fail closed without dropping: with a key-history source that cannot be reached, an
    event is neither applied nor dropped (the feed redelivers it); once the history comes,
    the same event is applied."""
    from connector.catalog_node.feed import ChangeFeed
    from connector.data.datasets import CHANGE_TYPE, dataset_message
    from connector.runtime.key_book import KeyBook
    from trust.canonical import canonical_json
    from trust.key_history import KeyHistoryCache
    from trust.proofs import sign_document

    key = KeyPair.generate()
    authority.issue(did=key.did, name="仙台市", legal_id="041009", roles=["municipality"])
    node = CatalogNode()
    node.load_registry(authority.signed_registry(), authority=authority.did)
    reachable = {"now": False}

    async def fetch() -> dict:
        if not reachable["now"]:
            raise OSError("the authority is not reachable")
        return authority.key_histories()

    keys = KeyBook(KeyHistoryCache([authority.did]), fetch, min_fetch_interval_s=0)
    feed = ChangeFeed(node, None, keys=keys)  # type: ignore[arg-type]  (no stream read here)
    entry = {"@id": "urn:tsunagu:test:dataset:later", "@type": "Dataset",
             "dct:title": "後で判定", "hasPolicy": [OPEN],
             "distribution": [{"@type": "Distribution", "format": "nats-jetstream",
                               "accessService": f"{key.did}#dsp"}]}
    event = canonical_json(sign_document(
        {"type": CHANGE_TYPE, "event": "changed", "provider": key.did,
         "at": "2026-01-01T00:00:00Z", "dataset": dataset_message(key.did, entry)}, key))
    assert await feed.handle(key.did, event) is None
    assert node.catalog.search("後で").total == 0 and not node.catalog.drops
    reachable["now"] = True
    await keys.refresh(force=True)
    assert await feed.handle(key.did, event) is True
    assert node.catalog.search("後で").total == 1
