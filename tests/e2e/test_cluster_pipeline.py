"""The real record pipeline on a 3-node cluster started from the configs
``tsunagu authority nats-config --shape cluster`` writes: the authority serves on the cluster
(account changes pushed to one node reach all), both connectors get the three URLs and
``stream_replicas = 3``, and the dataset stream's leader is SIGKILLed while the provider
publishes and the consumer receives. Every record reaches the consumer once while that node
is still down, and the node catches up when it is back."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from authority.nats_deploy import write_cluster
from authority.space import AuthorityNats
from bench.cluster import loopback_spec, running, server_from
from connector.bus import subjects
from connector.bus.server import EmbeddedNatsServer
from connector.runtime.config import ConnectorConfig
from tests.e2e.conftest import (
    CITY_CODE,
    CITY_OFFER,
    DATASET,
    OPEN_OFFER,
    OPERATOR_NUMBER,
    Node,
    negotiate,
    operator_participant,
    record,
)

N = 600


@pytest.fixture
async def cluster(authority, tmp_path: Path) -> AsyncIterator[dict[str, EmbeddedNatsServer]]:
    specs = [loopback_spec(f"n{i}") for i in (1, 2, 3)]
    await write_cluster(AuthorityNats(authority), tmp_path / "conf", specs, cluster="tsunagu",
                        store_root=tmp_path / "s")
    servers = {s.name: server_from(tmp_path / "conf", s.name, tmp_path / "s") for s in specs}
    async with running(list(servers.values())):
        yield servers


@pytest.fixture
async def e2e_nats(authority, cluster) -> AsyncIterator[AuthorityNats]:
    nats = AuthorityNats(authority)
    await nats.start(url=",".join(s.url for s in cluster.values()))
    try:
        yield nats
    finally:
        await nats.close()


def on_cluster(config: ConnectorConfig, nats: AuthorityNats) -> ConnectorConfig:
    """What `connector init --authority` writes from a cluster's announcement."""
    assert nats.url is not None
    settings = config.nats.model_copy(update={"urls": nats.url.split(","),
                                              "stream_replicas": 3})
    return config.model_copy(update={"nats": settings})


@pytest.fixture
async def provider(tmp_path, authority, e2e_nats, start_node) -> Node:
    config = await operator_participant(tmp_path, authority, e2e_nats, name="仙台市",
                                        legal_id=CITY_CODE, role="municipality")
    node = await start_node(on_cluster(config, e2e_nats))
    await node.datasets.offer_dataset(DATASET, "指定避難所", [OPEN_OFFER, CITY_OFFER])
    return node


@pytest.fixture
async def consumer_config(tmp_path, authority, e2e_nats) -> ConnectorConfig:
    config = await operator_participant(tmp_path, authority, e2e_nats, name="避難所運営",
                                        legal_id=OPERATOR_NUMBER, role="shelter_operator")
    return on_cluster(config, e2e_nats)


async def until_delivered(node: Node, n: int, timeout: float) -> int:
    deadline = time.monotonic() + timeout
    while (count := node.count("SELECT count(*) FROM deliveries")) < n:
        if time.monotonic() > deadline:
            break
        await asyncio.sleep(0.05)
    return count


async def test_records_arrive_once_across_a_killed_stream_leader(provider, consumer, cluster):
    stream = subjects.dataset_stream(provider.did, DATASET)
    info = await provider.connector.js.stream_info(stream)
    assert info.config.num_replicas == 3 and info.cluster is not None
    done = await negotiate(consumer, provider)
    transfer = await consumer.connector.transfers.start(done["agreementId"])
    await consumer.connector.transfers.wait(transfer["pid"], "STARTED")

    async def publish_all() -> None:
        for n in range(N):
            await provider.records.publish(DATASET, record(n))

    publishing = asyncio.create_task(publish_all())
    assert await until_delivered(consumer, N // 3, 60.0) >= N // 3
    leader = (await provider.connector.js.stream_info(stream)).cluster.leader
    cluster[leader].kill()  # mid-stream: the provider publishes, the consumer pulls
    killed_at = consumer.count("SELECT count(*) FROM deliveries")
    # Everything goes through while that node stays down (an R1 stream on it would stall).
    await asyncio.wait_for(publishing, 120.0)
    assert killed_at < N
    assert await until_delivered(consumer, N, 90.0) == N
    ids = [r[0] for r in consumer.connector.store.query("SELECT record_id FROM deliveries")]
    assert sorted(ids) == sorted(record(n)["id"] for n in range(N))  # each exactly once
    assert (await provider.connector.js.stream_info(stream)).state.messages == N

    await cluster[leader].restart(timeout=30.0)  # and it catches up from the others

    async def current() -> bool:
        replicas = (await provider.connector.js.stream_info(stream)).cluster.replicas or []
        return len(replicas) == 2 and all(r.current for r in replicas)

    deadline = time.monotonic() + 30.0
    while not await current():
        assert time.monotonic() < deadline, "the restarted node did not catch up"
        await asyncio.sleep(0.2)
