"""Real pmh participants for the cross-connector flows: each a full connector onboarded by
the authority on the data space's operator-mode nats-server, running the pmh hub, with its
app API and the pmh routes on a real socket, so apps call their OWN connector over HTTP.

A municipality (千代田区, Tokyo) holds a synthetic family (tests/domains/pmh/family.py); a
clinic in Tokyo and a clinic in Sapporo (里帰り出産) record checkups and vaccinations."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

import aiohttp
import orjson
import pytest
from aiohttp.test_utils import TestServer

from connector.api.app import make_app
from connector.api.tokens import TokenStore
from connector.runtime.connector import Connector
from domains.pmh import plugin as pmh_plugin
from domains.pmh.hub.claims import Rule
from domains.pmh.hub.offering import offer_id
from domains.pmh.hub.service import PmhHub
from domains.pmh.hub.setup import Municipality
from tests.connector.conftest import status_lists
from tests.domains.pmh import family
from tests.e2e.conftest import operator_participant, tuning

CHIYODA = Municipality("131016", "千代田区")
TOKYO_CLINIC_NUMBER = "5800001205000"  # fictional 法人番号s, check digits valid
SAPPORO_CLINIC_NUMBER = "4011105005400"
TOKYO_CLINIC = {"code": "1312345678", "name": "つなぐ産婦人科クリニック"}
SAPPORO_CLINIC = {"code": "0112345678", "name": "さっぽろ母子クリニック"}
# 千代田区's 里帰り claim rules (data the municipality sets): cap in yen, months to claim.
CLAIM_RULES = {"pregnancy_checkup": Rule(5000, 12), "postpartum_checkup": Rule(5000, 6)}
# Synthetic unit prices (yen per voucher used) the town settles with clinics at.
VOUCHER_PRICES = {"pregnancy_checkup": 5040, "infant_checkup_1m": 6000,
                  "infant_checkup_3_4m": 6000}


@dataclass
class PmhNode:
    connector: Connector
    server: TestServer

    @property
    def did(self) -> str:
        return self.connector.did

    @property
    def hub(self) -> PmhHub:
        return self.connector.plugin_services["pmh"]

    @property
    def origin(self) -> str:
        return str(self.server.make_url("")).rstrip("/")

    def token(self, *scopes: str, subjects: list[str] | None = None) -> str:
        return TokenStore(self.connector.store).issue(list(scopes), days=1,
                                                      subjects=subjects).token

    async def call(self, method: str, path: str, body: Any = None, *scopes: str,
                   subjects: list[str] | None = None) -> tuple[int, Any]:
        """Call this connector's pmh route as an app with ``scopes``."""
        headers = {"Content-Type": "application/json"}
        if scopes:
            headers["Authorization"] = f"Bearer {self.token(*scopes, subjects=subjects)}"
        async with aiohttp.ClientSession() as http, http.request(
                method, f"{self.origin}/domains/pmh/{path}", headers=headers,
                data=orjson.dumps(body) if body is not None else None) as resp:
            return resp.status, await resp.json(content_type=None)

    async def agree(self, provider: PmhNode, dataset: str, purpose: str
                    ) -> dict[str, Any]:
        c = self.connector
        started = await c.negotiations.start(provider.did, dataset, offer_id(dataset),
                                             purpose=purpose)
        return await c.negotiations.wait(started["pid"], timeout=20)

    async def close(self) -> None:
        await self.server.close()
        if not self.connector.nc.is_closed:
            await self.connector.stop()


async def start_pmh_node(tmp_path: Path, authority: Any, nats: Any, *, name: str,
                         legal_id: str, role: str) -> PmhNode:
    folder = tmp_path / f"{role}-{name}"
    folder.mkdir(parents=True, exist_ok=True)
    config = await operator_participant(folder, authority, nats, name=name, legal_id=legal_id,
                                        role=role)
    connector = Connector(config, tuning=tuning(), status_lists=status_lists(authority))
    await connector.start()
    server = TestServer(make_app(connector, plugins=[pmh_plugin]), host="127.0.0.1", port=0)
    await server.start_server()
    return PmhNode(connector, server)


StartPmh = Callable[..., Awaitable[PmhNode]]


@pytest.fixture
async def start_pmh(tmp_path, authority, e2e_nats) -> AsyncIterator[StartPmh]:
    running: list[PmhNode] = []

    async def start(**kwargs: Any) -> PmhNode:
        node = await start_pmh_node(tmp_path, authority, e2e_nats, **kwargs)
        running.append(node)
        return node

    yield start
    for node in reversed(running):
        await node.close()


async def municipality(start_pmh: StartPmh) -> PmhNode:
    """千代田区, set up, holding the synthetic mother (resident since 2025), her child and
    two pregnancy checkup vouchers (sequence 5 and 6)."""
    city = await start_pmh(name="千代田区", legal_id=CHIYODA.code, role="municipality")
    await city.hub.setup_municipality(CHIYODA, CLAIM_RULES, VOUCHER_PRICES)
    await city.hub.register("mothers", _own(family.mother()),
                            resident_from=date(2025, 1, 1))
    await city.hub.register("children", family.child(), resident_from=date(2026, 8, 3))
    await city.hub.register("checkup-vouchers", family.voucher())
    await city.hub.register("checkup-vouchers", family.voucher(
        id=VOUCHER_6, sequence=6, voucherNumber="131016-06"))
    return city


def _own(record: dict[str, Any]) -> dict[str, Any]:
    """A record as the municipality first publishes it (the connector sets these)."""
    return {k: v for k, v in record.items() if k not in ("version", "modified")}


VOUCHER_6 = "urn:uuid:0b6f4a4e-1c1e-4f0a-9e1a-000000000018"


async def clinic(start_pmh: StartPmh, city: PmhNode, *, number: str, name: str,
                 kinds: tuple[str, ...] = ("encounters", "observations", "immunizations")
                 ) -> PmhNode:
    """A clinic with agreements for the municipality's datasets ``kinds``."""
    node = await start_pmh(name=name, legal_id=number, role="medical_institution")
    for kind in kinds:
        done = await node.agree(city, CHIYODA.dataset(kind), "maternal_child_health")
        assert done["state"] == "FINALIZED", done
    return node
