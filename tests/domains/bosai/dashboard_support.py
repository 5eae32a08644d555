"""Test support for the bosai dashboard: a connector running the bosai hub behind its real
app API (aiohttp on 127.0.0.1), and data made through the hub's own APIs.

Reusable by any bosai test that needs the dashboard (the check-in flow tests too): pass
``start_dashboard`` any started ``Connector`` whose services include the bosai hub.

* shelters: a 自治体標準オープンデータセット CSV through ``import_shelters`` (the master), a
  status CSV through ``import_status`` (the timeline);
* people: ``hub.registry.register`` / ``update_stay`` (then ``hub.feed.notify``, as the
  registry does not go through records);
* supply requests: held ``SupplyRequest`` records as the pull loop stores them (until the
  supplies flow publishes them for real), then ``hub.feed.notify``.
"""

from __future__ import annotations

import csv
import io
import json
import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aiohttp.test_utils import TestServer

from connector.api.app import make_app
from connector.api.tokens import TokenStore
from connector.runtime.connector import Connector
from domains.bosai import plugin as bosai_plugin
from domains.bosai import vocab
from domains.bosai.hub import BosaiHub
from domains.bosai.imports import import_shelters, import_status
from tests.api.conftest import connector_config
from tests.held import hold
from trust.status_list import StatusListCache

DATA = Path(__file__).parent / "data"
CITY = "131016"  # 千代田区 (check digit valid)
DASHBOARD_PATH = "/domains/bosai/dashboard/"
HOSTILE = ("<script>alert(1)</script>", '"><img src=x onerror=alert(2)>',
           "'; DROP TABLE bosai_persons; --")


@dataclass(frozen=True)
class Site:
    local_id: str
    name: str
    capacity: int
    at: tuple[float, float] | None = None  # latitude, longitude (default: next door)

    @property
    def id(self) -> str:
        return f"{CITY}-{self.local_id}"


def opendata_csv(sites: Iterable[Site]) -> bytes:
    """A 自治体標準オープンデータセット 指定緊急避難場所一覧 with these sites (UTF-8)."""
    header = next(csv.reader(io.StringIO(
        (DATA / "opendata_emergency.csv").read_text(encoding="utf-8-sig"))))
    out = io.StringIO()
    writer = csv.DictWriter(out, header, restval="")
    writer.writeheader()
    for n, site in enumerate(sites):
        lat, lon = site.at or (35.68 + n * 0.0001, 139.75 + n * 0.0001)
        writer.writerow({"全国地方公共団体コード": CITY, "ID": site.local_id, "名称": site.name,
                         "所在地_連結表記": f"東京都千代田区九段南1-{n + 1}",
                         "緯度": f"{lat:.6f}", "経度": f"{lon:.6f}",
                         "地方公共団体名": "東京都千代田区", "災害種別_地震": "1",
                         "指定避難所との重複": "1", "想定収容人数": str(site.capacity)})
    return out.getvalue().encode()


STATUS_MAPPING = {"columns": {"shelter_id": "避難所ID", "open": "開設状況", "count": "避難者数",
                              "day_count": "昼", "night_count": "夜", "timestamp": "更新日時",
                              "needs": "不足物資", "name": "避難所名"}}


def status_csv(rows: Iterable[dict[str, str]]) -> bytes:
    out = io.StringIO()
    writer = csv.DictWriter(out, list(STATUS_MAPPING["columns"].values()), restval="")
    writer.writeheader()
    for row in rows:
        writer.writerow({STATUS_MAPPING["columns"][k]: v for k, v in row.items()})
    return out.getvalue().encode()


def load_sites(hub: BosaiHub, tmp: Path, sites: Sequence[Site]) -> None:
    path = tmp / f"sites-{uuid.uuid4().hex[:8]}.csv"
    path.write_bytes(opendata_csv(sites))
    report = import_shelters(path, hub.sites, format="opendata")
    assert report.counts()["refused"] == 0, report.to_dict()
    hub.feed.notify("sites")


def load_status(hub: BosaiHub, tmp: Path, rows: Sequence[dict[str, str]], *,
                complete_snapshot: bool = False) -> None:
    name = uuid.uuid4().hex[:8]
    mapping = {**STATUS_MAPPING, "complete_snapshot": complete_snapshot}
    (tmp / f"map-{name}.json").write_text(json.dumps(mapping), encoding="utf-8")
    (tmp / f"status-{name}.csv").write_bytes(status_csv(rows))
    report = import_status(tmp / f"status-{name}.csv", tmp / f"map-{name}.json", hub.sites)
    assert report.counts()["refused"] == 0, report.to_dict()
    hub.feed.notify("ShelterStatus")


def person(family: str, given: str, kana: tuple[str, str], birth: str, *,
           stay: str | None = None, shelter: str | None = None,
           care: Sequence[str] = (), address: str = "東京都千代田区九段南1-2-1") -> dict[str, Any]:
    """A registration form (the registry's own input shape)."""
    form: dict[str, Any] = {"familyName": family, "givenName": given,
                            "familyNameKana": kana[0], "givenNameKana": kana[1],
                            "birthDate": birth, "sex": "female", "address": address,
                            "consentToDisclose": False}
    if stay:
        form["stayLocation"] = {"stayType": stay, **({"shelterId": shelter} if shelter else {})}
    if care:
        form["careCategory"] = list(care)
    return form


def register(hub: BosaiHub, *forms: dict[str, Any]) -> list[str]:
    ids = [hub.registry.register(f, source="test:dashboard", by="staff-1").person_id
           for f in forms]
    hub.feed.notify("Evacuee")
    return ids


def check_in(hub: BosaiHub, person_id: str, shelter_id: str, by: str = "operator-1") -> None:
    """Where a check-in ends up in the registry (the flow itself arrives as a contribution)."""
    hub.registry.update_stay(person_id, {"stayType": "shelter", "shelterId": shelter_id}, by=by)
    hub.feed.notify("Evacuee")


def hold_supply_request(connector: Connector, hub: BosaiHub, *, item: str, quantity: int,
                        status: str, shelter_id: str, urgency: str = "high",
                        for_whom: str = "乳幼児", version: int = 1) -> str:
    """A supply request as a shelter operator's record held under an agreement."""
    record_id = f"urn:uuid:{uuid.uuid4()}"
    body = {"@context": list(vocab.RECORD_CONTEXT), "id": record_id, "type": "SupplyRequest",
            "version": version, "item": item, "quantity": quantity, "urgency": urgency,
            "forWhom": for_whom, "status": status, "shelterId": shelter_id,
            "modified": datetime.now(UTC).isoformat()}
    hold(connector, body, dataset_id="urn:test:supplies", purposes=("relief_supply",),
         agreement_id="urn:uuid:agreement-supplies", event="created")
    hub.feed.notify("SupplyRequest")
    return record_id


# ---------------------------------------------------------------------------- the server

@dataclass
class DashboardServer:
    """The connector's app API (with plug-in routes) on a real socket."""

    connector: Connector
    server: TestServer

    @property
    def hub(self) -> BosaiHub:
        return self.connector.plugin_services["bosai"]

    @property
    def origin(self) -> str:
        return str(self.server.make_url("")).rstrip("/")

    @property
    def url(self) -> str:
        return self.origin + DASHBOARD_PATH

    def token(self, *scopes: str) -> str:
        return TokenStore(self.connector.store).issue(list(scopes), days=1).token

    @staticmethod
    def client() -> aiohttp.ClientSession:
        """An HTTP client that keeps cookies from 127.0.0.1 (aiohttp's default jar does not)."""
        return aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True))

    async def login(self, http: aiohttp.ClientSession, *scopes: str) -> aiohttp.ClientResponse:
        """Log ``http`` in through the form (its cookie jar keeps the session)."""
        async with http.post(self.url + "login", data={"token": self.token(*scopes)},
                             headers={"Origin": self.origin}, allow_redirects=False) as resp:
            assert resp.status == 303, await resp.text()
            return resp

    async def close(self) -> None:
        await self.server.close()


async def start_dashboard(connector: Connector) -> DashboardServer:
    """Serve ``connector``'s app API with the bosai plug-in's routes on 127.0.0.1:0."""
    app = make_app(connector, plugins=[bosai_plugin], heartbeat=0.3, poll_interval=5.0)
    server = TestServer(app, host="127.0.0.1", port=0)
    await server.start_server()
    return DashboardServer(connector, server)


async def start_bosai_connector(tmp_path: Path, authority: Any, nats_url: str) -> Connector:
    cache = StatusListCache([authority.did])
    cache.add(authority.status_list_jwt())
    node = Connector(connector_config(tmp_path, authority, nats_url), status_lists=cache)
    await node.start()
    return node


@pytest.fixture
async def bosai_connector(tmp_path, authority, nats_server):
    node = await start_bosai_connector(tmp_path, authority, nats_server.url)
    try:
        yield node
    finally:
        await node.stop()


@pytest.fixture
async def dashboard(bosai_connector):
    served = await start_dashboard(bosai_connector)
    try:
        yield served
    finally:
        await served.close()


SITES = (Site("001", "番町小学校", 3), Site("002", "九段ホール（福祉避難所）", 40),
         Site("003", "富士見中学校", 200))


def seed(server: DashboardServer, tmp: Path) -> dict[str, str]:
    """Three shelters (two open), five people, care needs and supplies; person ids by name."""
    hub = server.hub
    load_sites(hub, tmp, SITES)
    load_status(hub, tmp, [
        {"shelter_id": SITES[0].id, "open": "開設", "count": "3", "day_count": "2",
         "night_count": "3", "timestamp": "令和6年4月30日午前6時", "needs": "粉ミルク、毛布"},
        {"shelter_id": SITES[1].id, "open": "開設", "count": "1",
         "timestamp": "2024/4/30 6:00"},
        {"shelter_id": SITES[2].id, "open": "閉鎖", "timestamp": "2024/4/30 6:00"}])
    a, b, c = (s.id for s in SITES)
    ids = register(
        hub,
        person("山田", "花子", ("ヤマダ", "ハナコ"), "1950-04-01", stay="shelter", shelter=a,
               care=["elderly"]),
        person("髙橋", "一郎", ("タカハシ", "イチロウ"), "1985-07-12", stay="shelter", shelter=a),
        person("佐藤", "陽菜", ("サトウ", "ヒナ"), "2023-01-20", stay="shelter", shelter=a,
               care=["infant"]),
        person("鈴木", "健", ("スズキ", "ケン"), "1970-03-03", stay="vehicle", care=["disabled"]),
        person("田中", "美咲", ("タナカ", "ミサキ"), "1992-11-30", stay="home"))
    hold_supply_request(server.connector, hub, item="粉ミルク", quantity=10, status="requested",
                        shelter_id=a)
    hold_supply_request(server.connector, hub, item="毛布", quantity=30, status="committed",
                        shelter_id=a)
    hold_supply_request(server.connector, hub, item="紙おむつ", quantity=5, status="delivered",
                        shelter_id=b)
    return dict(zip(("hanako", "ichiro", "hina", "ken", "misaki"), ids, strict=True))
