"""The ``contribution`` section of bench/pmh.py: a clinic's checkup from its app to the
municipality's committed record, under an open-loop offered load.

A real data space (an authority running nats-server in operator mode, a municipality's and a
clinic's connector, each with the pmh hub, as ``tsunagu demo pmh`` builds them). The
clinic's app POSTs ``/domains/pmh/checkups`` (a pregnancy checkup paid by voucher, with blood
pressure and EPDS: three contributions the municipality checks and commits one by one) to
its own connector; the answer (201) comes once the municipality has committed the last.
Requests are sent on a fixed schedule (``--contribution-rate`` per second), whether or not
earlier ones have been answered (open loop), and each latency runs from the moment the
request was due, so a stall counts against every request it delays (no coordinated
omission). Each checkup uses its own voucher (a voucher is used once).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import tempfile
import time
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import aiohttp
import orjson

from authority.space import AuthorityNats
from authority.state import Authority
from bench.stream import percentile
from connector.api.tokens import TokenStore
from connector.runtime.connector import Connector
from domains.pmh.demo.people import families
from domains.pmh.demo.scenario import CITY, CLAIM_RULES, TOKYO, TOWN, agree, hub_of, participant
from domains.pmh.hub.api import CLINIC

FLOOR_MS = 100.0  # p99 at 20 per second
WARMUP = 10  # requests before the measured ones (connections, caches)
DAY = date(2026, 6, 1)


async def _space(workdir: Path, checkups: int) -> tuple[AuthorityNats, list[Connector],
                                                         list[tuple[str, str]]]:
    """The municipality and the clinic, and (mother, voucher) pairs for ``checkups``."""
    authority = Authority.init(workdir / "authority", name="tsunagu pmh bench authority")
    nats = AuthorityNats(authority)
    await nats.start(store_dir=workdir / "nats")
    city = await participant(workdir, authority, nats, CITY)
    clinic = await participant(workdir, authority, nats, TOKYO, api=True)
    hub = hub_of(city)
    await hub.setup_municipality(TOWN, CLAIM_RULES)
    for kind in ("encounters", "observations"):
        await agree(clinic, city, kind)
    months = 12  # vouchers per pregnant mother (a 手帳 has 14)
    pairs = []
    # one in five of the demo's people is a pregnant mother
    people = families(-(-checkups // months) * 5 + 5, DAY, months, TOWN.code)
    for family in people:
        if family.expected_delivery is None:
            continue
        await hub.register("mothers", family.mother, resident_from=date(2024, 4, 1))
        for voucher in family.vouchers:
            await hub.register("checkup-vouchers", voucher)
            pairs.append((family.mother["id"], voucher["id"]))
    return nats, [city, clinic], pairs[:checkups]


def _body(mother: str, voucher: str, n: int) -> bytes:
    day = DAY + timedelta(days=n % 28)
    at = f"{day.isoformat()}T10:00:00+09:00"
    return orjson.dumps({"municipality": TOWN.code, "encounter": {
        "subject": mother, "encounterKind": "pregnancy_checkup", "start": at,
        "clinic": TOKYO.clinic, "voucher": voucher}, "observations": [
        {"measurement": "blood_pressure", "systolic": 118, "diastolic": 72, "effective": at},
        {"measurement": "epds_total", "value": 4, "effective": at}]})


async def _measure(rate: float, seconds: float, workdir: Path) -> dict[str, Any]:
    count = int(rate * seconds)
    nats, running, pairs = await _space(workdir, WARMUP + count)
    try:
        clinic = running[1]
        assert clinic.api is not None
        url = f"http://127.0.0.1:{clinic.api.port}/domains/pmh/checkups"
        token = TokenStore(clinic.store).issue([CLINIC], days=1).token
        headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
        statuses: dict[int, int] = {}
        async with aiohttp.ClientSession(headers=headers) as http:
            async def send(n: int, due: float) -> float:
                await asyncio.sleep(max(0.0, due - time.perf_counter()))
                async with http.post(url, data=_body(*pairs[n], n)) as resp:
                    await resp.read()
                    statuses[resp.status] = statuses.get(resp.status, 0) + 1
                return (time.perf_counter() - due) * 1000

            for n in range(WARMUP):  # closed loop, not measured
                await send(n, time.perf_counter())
            statuses.clear()
            cpu = time.process_time()
            start = time.perf_counter() + 0.1
            latencies = await asyncio.gather(*(send(WARMUP + i, start + i / rate)
                                               for i in range(count)))
            elapsed = time.perf_counter() - start
            cpu = time.process_time() - cpu
        p99 = percentile(latencies, 99)
        return {"contribution_rate_offered_per_s": rate,
                "contribution_checkups": count,
                "contribution_records_per_checkup": 3,
                "contribution_achieved_per_s": round(count / elapsed, 1),
                "contribution_statuses": {str(k): v for k, v in sorted(statuses.items())},
                "contribution_p50_ms": round(percentile(latencies, 50), 1),
                "contribution_p90_ms": round(percentile(latencies, 90), 1),
                "contribution_p99_ms": round(p99, 1),
                "contribution_max_ms": round(max(latencies), 1),
                # Both connectors and the app share this process: CPU per checkup is the
                # figure the other load of a shared machine does not move much.
                "contribution_cpu_ms_per_checkup": round(cpu * 1000 / count, 1),
                "load_average_1m": round(os.getloadavg()[0], 2),
                "contribution_floor_p99_ms": FLOOR_MS,
                "contribution_floor_met": p99 <= FLOOR_MS and statuses == {201: count}}
    finally:
        for connector in reversed(running):
            await connector.stop()
        await nats.close()


def contribution_section(args: argparse.Namespace) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="tsunagu-bench-pmh-") as tmp:
        return asyncio.run(_measure(args.contribution_rate, args.contribution_seconds,
                                    Path(tmp)))
