"""Real bosai participants for the cross-connector flows: each a full connector (datasets,
records, contracts, transfers, usage, contributions, the bosai hub) logged in to the data
space's operator-mode nats-server with its own credentials, and its app API with the bosai
routes on a real socket (``start_dashboard``), so apps call their OWN connector over HTTP.

Reused by the flow tests and the browser tests (check-in seen on the dashboard).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp
import orjson
import pytest

from connector.runtime.connector import Connector
from domains.bosai.hub import BosaiHub
from domains.bosai.setup import Municipality
from tests.connector.conftest import status_lists
from tests.domains.bosai.dashboard_support import DashboardServer, start_dashboard
from tests.e2e.conftest import Node, operator_participant, tuning

PURPOSE = "disaster_response"
CHIYODA = Municipality("131016", "千代田区")  # the sites of dashboard_support are here
SENDAI = Municipality("041009", "仙台市")
OPERATOR_NUMBER = "7000012050002"
OTHER_OPERATOR_NUMBER = "6700001205001"
HOSPITAL_NUMBER = "5800001205000"
SUPPLIER_NUMBER = "4011105005400"  # check digit valid (a fictional 法人番号)


@dataclass
class BosaiNode:
    node: Node
    api: DashboardServer

    @property
    def connector(self) -> Connector:
        return self.node.connector

    @property
    def did(self) -> str:
        return self.node.did

    @property
    def hub(self) -> BosaiHub:
        return self.connector.plugin_services["bosai"]

    def token(self, *scopes: str) -> str:
        return self.api.token(*scopes)

    async def post(self, path: str, body: Any, *scopes: str) -> tuple[int, Any]:
        """POST JSON to this connector's bosai route as an app with ``scopes``."""
        headers = {"Authorization": f"Bearer {self.token(*scopes)}"} if scopes else {}
        async with aiohttp.ClientSession() as http, http.post(
                f"{self.api.origin}/domains/bosai/{path}", data=orjson.dumps(body),
                headers={**headers, "Content-Type": "application/json"}) as resp:
            return resp.status, await resp.json(content_type=None)

    async def agree(self, provider: BosaiNode, dataset: str, *, transfer: bool = True,
                    purpose: str = PURPOSE) -> dict[str, Any]:
        """Negotiate the dataset's (only) offer; start the transfer if it was agreed."""
        c = self.connector
        started = await c.negotiations.start(provider.did, dataset, f"{dataset}:offer",
                                             purpose=purpose)
        done = await c.negotiations.wait(started["pid"], timeout=20)
        if transfer and done["state"] == "FINALIZED":
            t = await c.transfers.start(done["agreementId"])
            await c.transfers.wait(t["pid"], "STARTED", timeout=20)
        return done

    async def held(self, record_id: str, version: int | None = None,
                   timeout: float = 10.0) -> dict[str, Any] | None:
        """The newest held copy of a record (at least ``version``) once delivered."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            rows = self.connector.store.query(
                "SELECT body FROM held_records WHERE id = ? AND version >= ? "
                "ORDER BY version DESC LIMIT 1", (record_id, version or 1))
            if rows:
                return orjson.loads(rows[0][0])
            await asyncio.sleep(0.05)
        return None

    def records(self, dataset: str) -> list[dict[str, Any]]:
        return [orjson.loads(r[0]) for r in self.connector.store.query(
            "SELECT body FROM records WHERE dataset_id = ? AND deleted = 0 ORDER BY id",
            (dataset,))]

    async def close(self) -> None:
        await self.api.close()
        if not self.connector.nc.is_closed:
            await self.connector.stop()


async def start_bosai_node(tmp_path: Path, authority: Any, nats: Any, *, name: str,
                           legal_id: str, role: str, phase: str | None = "response"
                           ) -> BosaiNode:
    """A participant onboarded by the authority, running the bosai hub and its routes;
    ``phase``: the disaster phase it asserts (every connector decides with its own facts)."""
    folder = tmp_path / f"{role}-{name}"  # two participants may share a legal id
    folder.mkdir(parents=True, exist_ok=True)
    config = await operator_participant(folder, authority, nats, name=name, legal_id=legal_id,
                                        role=role)
    connector = Connector(config, tuning=tuning(), status_lists=status_lists(authority))
    await connector.start()
    if phase is not None:
        connector.facts.set("disasterPhase", phase)
    node = Node(connector, connector.datasets, connector.records, config)
    return BosaiNode(node, await start_dashboard(connector))


StartBosai = Callable[..., Awaitable[BosaiNode]]


@pytest.fixture
async def start_bosai(tmp_path, authority, e2e_nats) -> AsyncIterator[StartBosai]:
    """Start bosai participants on the data space's NATS; all stopped after the test."""
    running: list[BosaiNode] = []

    async def start(**kwargs: Any) -> BosaiNode:
        node = await start_bosai_node(tmp_path, authority, e2e_nats, **kwargs)
        running.append(node)
        return node

    yield start
    for node in reversed(running):
        await node.close()
