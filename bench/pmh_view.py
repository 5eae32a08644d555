"""bench/pmh.py's ``view`` section: the health-department view's first load at a city's
scale, through a data space as deployed (the authority's nats-server in operator mode, the
municipality's connector with every service and its app API on 127.0.0.1).

The municipality publishes ``--pregnancies`` pregnancy registrations (expected deliveries
spread over the next 280 days) and ``--view-children`` children (born over 6 years), each
child with a 3-4 month checkup voucher and two recorded vaccinations (published as its own
records in batches, as an import would: the hub's record listener indexes each in the
transaction that stores it). A staff member logs in through the form with a
``pmh:dashboard`` token; the first ``GET /domains/pmh/dashboard/`` is timed
(``view_first_load_ms``, floor 1 s), then ``--loads`` more (``view_reload_p50_ms``).
"""

from __future__ import annotations

import argparse
import random
import statistics
import tempfile
import time
import uuid
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

import aiohttp

from authority.space import AuthorityNats
from authority.state import Authority
from bench.stream import BenchError
from connector.api.tokens import TokenStore
from domains.bosai.demo_space import api_port, participant
from domains.pmh import vocab
from domains.pmh.hub import index
from domains.pmh.hub.followups import JAPAN
from domains.pmh.hub.setup import Municipality
from domains.pmh.views.auth import DASHBOARD

FLOOR_MS = 1000.0
TOWN = Municipality("131016", "千代田区")
PATH = "/domains/pmh/dashboard/"
BATCH = 1000
CONTEXT = list(vocab.RECORD_CONTEXT)


def _id() -> str:
    return f"urn:uuid:{uuid.uuid4()}"


def _records(args: argparse.Namespace, today: date, rng: random.Random
             ) -> dict[str, list[dict[str, Any]]]:
    out: dict[str, list[dict[str, Any]]] = {"pregnancy-registrations": [], "children": [],
                                             "checkup-vouchers": [], "immunizations": []}
    for _ in range(args.pregnancies):
        expected = today + timedelta(days=rng.randrange(0, 280))
        out["pregnancy-registrations"].append({
            "@context": CONTEXT, "id": _id(), "type": vocab.PREGNANCY, "mother": _id(),
            "handbookIssued": (expected - timedelta(days=230)).isoformat(),
            "expectedDelivery": expected.isoformat(),
            "issuingMunicipality": TOWN.to_json(), "handbookNumber": "R8-0001"})
    for n in range(args.view_children):
        child, born = _id(), today - timedelta(days=rng.randrange(60, 6 * 365))
        out["children"].append({"@context": CONTEXT, "id": child, "type": vocab.CHILD,
                                "birthDate": born.isoformat(),
                                "sex": rng.choice(("female", "male"))})
        out["checkup-vouchers"].append({
            "@context": CONTEXT, "id": _id(), "type": vocab.VOUCHER, "subject": child,
            "voucherKind": "infant_checkup_3_4m", "sequence": 1, "issuer": TOWN.to_json(),
            "voucherNumber": f"131016-{n:06d}", "validFrom": born.isoformat()})
        for dose in (1, 2):
            out["immunizations"].append({
                "@context": CONTEXT, "id": _id(), "type": vocab.IMMUNIZATION,
                "subject": child, "vaccine": rng.choice(("dpt_ipv_hib", "pneumococcal")),
                "doseNumber": dose, "series": "1期初回",
                "occurred": (born + timedelta(days=60 + 28 * dose)).isoformat(),
                "clinic": {"code": "1312345678"}})
    return out


async def _publish(city: Any, kind: str, records: list[dict[str, Any]]) -> None:
    dataset = TOWN.dataset(kind)
    for start in range(0, len(records), BATCH):
        with city.store.transaction() as db:
            city.records.stage(db, dataset, records[start:start + BATCH])
        await city.records.flush()


async def _load(http: aiohttp.ClientSession, url: str) -> tuple[float, str]:
    started = time.perf_counter()
    async with http.get(url, allow_redirects=False) as resp:
        page = await resp.text()
        if resp.status != 200:
            raise BenchError(f"the view answered HTTP {resp.status}")
    return (time.perf_counter() - started) * 1000, page


async def measure(args: argparse.Namespace) -> dict[str, Any]:
    rng, today = random.Random(args.seed), datetime.now(JAPAN).date()
    with tempfile.TemporaryDirectory(prefix="pmh-view-") as folder:
        root = Path(folder)
        authority = Authority.init(root / "authority", name="bench authority")
        nats = AuthorityNats(authority)
        await nats.start(store_dir=root / "nats")
        try:
            city, _ = await participant(root, authority, nats, "city", TOWN.name, TOWN.code,
                                        "municipality", api=True)
            try:
                hub = city.plugin_services["pmh"]
                await hub.setup_municipality(TOWN)
                started = time.perf_counter()
                for kind, records in _records(args, today, rng).items():
                    await _publish(city, kind, records)
                publish_s = time.perf_counter() - started
                origin = f"http://127.0.0.1:{api_port(city)}"
                token = TokenStore(city.store).issue([DASHBOARD], days=1).token
                jar = aiohttp.CookieJar(unsafe=True)
                async with aiohttp.ClientSession(cookie_jar=jar) as http:
                    async with http.post(origin + PATH + "login", data={"token": token},
                                         headers={"Origin": origin},
                                         allow_redirects=False) as resp:
                        if resp.status != 303:
                            raise BenchError(f"login refused: HTTP {resp.status}")
                    first, page = await _load(http, origin + PATH)
                    counted = index.trimesters(city.store, datetime.now(JAPAN).date())
                    if sum(counted.values()) != args.pregnancies or any(
                            f'<td class="num">{n}</td>' not in page for n in counted.values()):
                        raise BenchError(f"the view does not count every pregnancy: {counted}")
                    reloads = []
                    for _ in range(args.loads):
                        hub.changes += 1
                        reloads.append((await _load(http, origin + PATH))[0])
            finally:
                await city.stop()
        finally:
            await nats.close()
    return {"view_pregnancies": args.pregnancies, "view_children": args.view_children,
            "view_publish_s": round(publish_s, 1),
            "view_first_load_ms": round(first, 1),
            "view_reload_p50_ms": round(statistics.median(reloads), 1) if reloads else None,
            "view_page_bytes": len(page.encode()),
            "view_floor_ms": FLOOR_MS, "view_floor_met": first < FLOOR_MS}
