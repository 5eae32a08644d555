"""Benchmark: the bosai hub at a city's scale (issue 6): dedupe, dashboard first load, live update.

1. ``dedupe_s``: ``--evacuees`` synthetic registrations (households, ~10 % re-registrations
   written differently that must merge, ~1 % near misses that must go to review) registered
   with duplicate detection into a fresh registry: ``domains.bosai.registry.workload``.
2. ``first_load_ms``: a data space as deployed (the authority's nats-server in operator mode,
   the municipality's connector with every service, the bosai hub and its app API on
   127.0.0.1), set up as a municipality (its registry published as signed Evacuee records);
   ``--shelters`` sites imported from a GSI 指定避難所 CSV and a status CSV through the real
   importers, ``--evacuees`` distinct people registered (60 % in shelters, the rest at home,
   in cars, with relatives; ~15 % 要配慮). A staff member logs in through the form with a
   ``bosai:dashboard`` token; the first ``GET /domains/bosai/dashboard/`` with that session
   is timed (it includes building the dashboard's indexes), then ``--loads`` more, each
   after a change so none is served from the cached rendering.
3. ``checkin_to_dashboard_p99_ms``: with the overview's event stream (SSE) open, ``--checkins``
   people move to another shelter one after another; each is timed from the moment the
   check-in is handed over to the moment the stream delivers an event carrying the
   ``shelters`` section rendered after it. ``checkin_path`` says which path a check-in takes
   (``bosai_checkins.py``: by default through a shelter operator's own connector).

Everything runs in this one process and event loop but the nats-server (as bench/stream.py's
in-process topology): the HTTP client shares the CPU with the connector it measures.

    /work/venv/bin/python bench/bosai.py --shelters 100 --evacuees 50000 --json out.json
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import random
import re
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import aiohttp
import orjson

from authority.space import AuthorityNats
from authority.state import Authority
from bench.bosai_checkins import CHECKIN_PATHS, OPERATOR, CheckIns, open_checkins
from bench.stream import BenchError, git_commit, machine, percentile, write_json
from connector.api.tokens import TokenStore
from connector.runtime.connector import Connector
from domains.bosai.dashboard.auth import DASHBOARD
from domains.bosai.demo_space import CITY_CODE, CITY_NAME, api_port, participant
from domains.bosai.registry.workload import measure_dedupe, workload
from domains.bosai.setup import Municipality
from domains.bosai.synthetic import SyntheticShelter, import_into, write_shelter_files

FLOOR_FIRST_LOAD_MS = 1000.0
FLOOR_CHECKIN_P99_MS = 200.0
FLOOR_DEDUPE_S = 10.0
DASHBOARD_PATH = "/domains/bosai/dashboard/"
OTHER_STAYS = ["home", "vehicle", "relatives", "other"]

log = logging.getLogger("bench.bosai")


def population(count: int, sites: list[SyntheticShelter], *, seed: int = 2026
               ) -> list[dict[str, Any]]:
    """``count`` distinct people (the workload's first registrations of each person, not its
    re-registrations), 60 % staying in one of ``sites`` and the rest elsewhere."""
    rng = random.Random(seed)
    drawn = workload(int(count * 1.2) + 50, seed=seed)
    forms = [f for f, kind in zip(drawn.forms, drawn.kinds, strict=True) if kind == "person"]
    if len(forms) < count:
        raise BenchError(f"the workload gave {len(forms)} people, {count} wanted")
    for form in forms[:count]:
        if rng.random() < 0.6:
            form["stayLocation"] = {"stayType": "shelter", "shelterId": rng.choice(sites).id}
        else:
            form["stayLocation"] = {"stayType": rng.choice(OTHER_STAYS)}
    return forms[:count]


class LiveStream:
    """The dashboard's event stream, read in the background: each ``sections`` event with
    the time it arrived."""

    def __init__(self, response: aiohttp.ClientResponse) -> None:
        self.response = response
        self.events: asyncio.Queue[tuple[float, dict[str, Any]]] = asyncio.Queue()
        self.task = asyncio.create_task(self._read())

    async def _read(self) -> None:
        kind = ""
        while line := await self.response.content.readline():
            text = line.decode().rstrip("\n")
            if text.startswith("event: "):
                kind = text[7:]
            elif text.startswith("data: ") and kind == "sections":
                self.events.put_nowait((time.perf_counter(), orjson.loads(text[6:])))

    async def after(self, seq: int, section: str, timeout: float) -> float:
        """When the first event rendered past feed counter ``seq`` carrying ``section``
        arrived (earlier events are dropped)."""
        async with asyncio.timeout(timeout):
            while True:
                at, event = await self.events.get()
                if event["seq"] > seq and section in event["sections"]:
                    return at

    async def close(self) -> None:
        self.task.cancel()
        await asyncio.gather(self.task, return_exceptions=True)
        self.response.release()


async def login(http: aiohttp.ClientSession, origin: str, token: str) -> None:
    async with http.post(origin + DASHBOARD_PATH + "login", data={"token": token},
                         headers={"Origin": origin}, allow_redirects=False) as resp:
        if resp.status != 303:
            raise BenchError(f"dashboard login refused: HTTP {resp.status}")


async def load_page(http: aiohttp.ClientSession, url: str) -> tuple[float, str]:
    started = time.perf_counter()
    async with http.get(url, allow_redirects=False) as resp:
        page = await resp.text()
        took = (time.perf_counter() - started) * 1000
        if resp.status != 200:
            raise BenchError(f"dashboard answered HTTP {resp.status}")
    return took, page


async def measure_dashboard(args: argparse.Namespace, city: Connector, checkins: CheckIns,
                            sites: list[SyntheticShelter], placed: list[tuple[str, str]]
                            ) -> dict[str, Any]:
    hub = city.plugin_services["bosai"]
    origin = f"http://127.0.0.1:{api_port(city)}"
    token = TokenStore(city.store).issue([DASHBOARD], days=1).token
    result: dict[str, Any] = {}
    async with aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as http:
        await login(http, origin, token)
        first, page = await load_page(http, origin + DASHBOARD_PATH)
        if f"{args.evacuees:,}人" not in page:
            raise BenchError("the dashboard does not show every registered person")
        reloads = []
        for _ in range(args.loads):
            hub.feed.notify("Evacuee")  # a change: the next load renders again
            reloads.append((await load_page(http, origin + DASHBOARD_PATH))[0])
        result.update(first_load_ms=round(first, 1), page_bytes=len(page.encode()),
                      reload_p50_ms=round(statistics.median(reloads), 1),
                      reload_max_ms=round(max(reloads), 1), reloads=len(reloads))

        _, page = await load_page(http, origin + DASHBOARD_PATH)
        found = re.search(r'data-live-url="([^"]+)"', page)
        if found is None:
            raise BenchError("the dashboard page names no live stream")
        response = await http.get(origin + found[1].replace("&amp;", "&"))
        stream = LiveStream(response)
        try:
            took = await move_people(args, hub, checkins, stream, sites, placed)
        finally:
            await stream.close()
    result.update(checkins=len(took), checkin_to_dashboard_p50_ms=round(percentile(took, 50), 1),
                  checkin_to_dashboard_p90_ms=round(percentile(took, 90), 1),
                  checkin_to_dashboard_p99_ms=round(percentile(took, 99), 1),
                  checkin_to_dashboard_max_ms=round(max(took), 1))
    return result


async def move_people(args: argparse.Namespace, hub: Any, checkins: CheckIns,
                      stream: LiveStream, sites: list[SyntheticShelter],
                      placed: list[tuple[str, str]]) -> list[float]:
    """Each check-in moves someone staying in a shelter to another one (so the occupancy of
    two shelters changes), then waits for the stream to show it; ``--interval`` apart."""
    rng = random.Random(args.seed)
    took: list[float] = []
    await asyncio.sleep(0.2)  # the stream's first (catch-up) event, if any, is not timed
    while not stream.events.empty():
        stream.events.get_nowait()
    for _ in range(args.checkins):
        index = rng.randrange(len(placed))
        person_id, shelter = placed[index]
        target = rng.choice([s.id for s in sites if s.id != shelter])
        before = hub.feed.seq
        started = time.perf_counter()
        await checkins.check_in(person_id, target)
        try:
            arrived = await stream.after(before, "shelters", timeout=10)
        except TimeoutError:
            raise BenchError("a check-in did not reach the dashboard within 10 s") from None
        took.append((arrived - started) * 1000)
        placed[index] = (person_id, target)
        await asyncio.sleep(max(0.0, args.interval - (time.perf_counter() - started)))
    return took


async def populate(args: argparse.Namespace, city: Connector, root: Path
                   ) -> tuple[list[SyntheticShelter], list[tuple[str, str]], dict[str, Any]]:
    """The city as deployed: set up as a municipality (its registry published as Evacuee
    records, check-ins allowed to the region's operator), its shelters imported, its people
    registered. The sites, (person, shelter) of everyone in a shelter, and timings."""
    hub = city.plugin_services["bosai"]
    started = time.perf_counter()
    await hub.setup_municipality(Municipality(CITY_CODE, CITY_NAME),
                                 operators=[OPERATOR.legal_id])
    files = write_shelter_files(root / "files", args.shelters, at=datetime.now(UTC),
                                seed=args.seed)
    await import_into(hub, files)
    people = population(args.evacuees, files.sites, seed=args.seed)
    stats = await hub.register_many(people, source="bench:population", by="bench")
    if stats.refused or stats.new + stats.review != args.evacuees:
        raise BenchError(f"population: {stats.to_json()}")
    placed = [(r.person_id, f["stayLocation"]["shelterId"])
              for r, f in zip(stats.results, people, strict=True)
              if r is not None and f["stayLocation"]["stayType"] == "shelter"]
    return files.sites, placed, {"register_s": round(time.perf_counter() - started, 1)}


async def measure_space(args: argparse.Namespace, root: Path) -> dict[str, Any]:
    authority = Authority.init(root / "authority", name="bench authority")
    nats = AuthorityNats(authority)
    await nats.start(store_dir=root / "nats")
    running: list[Connector] = []
    checkins: CheckIns | None = None
    try:
        city, _ = await participant(root, authority, nats, "city", CITY_NAME, CITY_CODE,
                                     "municipality", api=True)
        running.append(city)
        city.facts.set("disasterPhase", "response")
        sites, placed, result = await populate(args, city, root)
        started = time.perf_counter()
        checkins = await open_checkins(args.checkin_path, root, authority, nats, city,
                                       running, args.evacuees)
        result.update(operator_ready_s=round(time.perf_counter() - started, 1),
                      checkin_path=checkins.path, checkin_path_detail=checkins.detail)
        result.update(await measure_dashboard(args, city, checkins, sites, placed))
        return result
    finally:
        if checkins is not None:
            await checkins.close()
        for connector in reversed(running):
            try:
                await connector.stop()
            except Exception:
                log.exception("connector stop failed")
        await nats.close()


async def run(args: argparse.Namespace) -> dict[str, Any]:
    result: dict[str, Any] = {"shelters": args.shelters, "evacuees": args.evacuees,
                              "load_avg_start": [round(x, 2) for x in os.getloadavg()]}
    with tempfile.TemporaryDirectory(prefix="tsunagu-bench-bosai-") as tmp:
        root = Path(tmp)
        dedupe = await asyncio.to_thread(measure_dedupe, args.evacuees, directory=root,
                                         seed=args.seed)
        result.update(dedupe_s=dedupe.pop("dedupe_s"),
                      dedupe={k: v for k, v in dedupe.items() if k != "registrations"})
        result.update(await measure_space(args, root))
    result["floors"] = {
        "first_load_max_ms": FLOOR_FIRST_LOAD_MS,
        "first_load_ok": result["first_load_ms"] < FLOOR_FIRST_LOAD_MS,
        "checkin_p99_max_ms": FLOOR_CHECKIN_P99_MS,
        "checkin_p99_ok": result["checkin_to_dashboard_p99_ms"] <= FLOOR_CHECKIN_P99_MS,
        "dedupe_max_s": FLOOR_DEDUPE_S, "dedupe_ok": result["dedupe_s"] < FLOOR_DEDUPE_S}
    result.update(load_avg_end=[round(x, 2) for x in os.getloadavg()], machine=machine(),
                  git_commit=git_commit(), at=datetime.now(UTC).isoformat(timespec="seconds"))
    return result


def met(ok: bool) -> str:
    return "met" if ok else "NOT met"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--shelters", type=int, default=100)
    parser.add_argument("--evacuees", type=int, default=50_000)
    parser.add_argument("--json", type=Path, help="write the figures to this file")
    parser.add_argument("--loads", type=int, default=5,
                        help="dashboard loads after the first (each after a change)")
    parser.add_argument("--checkins", type=int, default=200, help="check-ins to time")
    parser.add_argument("--interval", type=float, default=0.25,
                        help="seconds from one check-in to the next (at least)")
    parser.add_argument("--checkin-path", choices=CHECKIN_PATHS, default="auto",
                        help="through a shelter operator's connector, or the hub's own path")
    parser.add_argument("--seed", type=int, default=2026)
    args = parser.parse_args()
    if args.shelters < 2 or args.evacuees < 10 or args.checkins < 1 or args.loads < 1:
        parser.error("at least 2 shelters, 10 evacuees, 1 check-in and 1 load")
    logging.basicConfig(level=logging.WARNING, stream=sys.stderr)
    try:
        result = asyncio.run(run(args))
    except BenchError as exc:
        print(f"bench/bosai.py: FAILED: {exc}", file=sys.stderr)
        return 1
    floors = result["floors"]
    print(f"{result['shelters']} shelters, {result['evacuees']:,} evacuees "
          f"(load average {result['load_avg_start'][0]} -> {result['load_avg_end'][0]})")
    print(f"dedupe of {result['evacuees']:,} registrations: {result['dedupe_s']:.2f} s "
          f"({result['dedupe']['merged']} merged, {result['dedupe']['review']} to review; "
          f"floor < {FLOOR_DEDUPE_S:.0f} s: {met(floors['dedupe_ok'])})")
    print(f"dashboard first load {result['first_load_ms']:.0f} ms, then p50 "
          f"{result['reload_p50_ms']:.0f} ms (floor < {FLOOR_FIRST_LOAD_MS:.0f} ms: "
          f"{met(floors['first_load_ok'])})")
    print(f"check-in -> dashboard ({result['checkin_path']}, {result['checkins']} check-ins): "
          f"p50 {result['checkin_to_dashboard_p50_ms']:.0f} ms, p99 "
          f"{result['checkin_to_dashboard_p99_ms']:.0f} ms, max "
          f"{result['checkin_to_dashboard_max_ms']:.0f} ms (floor p99 <= "
          f"{FLOOR_CHECKIN_P99_MS:.0f} ms: {met(floors['checkin_p99_ok'])})")
    if args.json:
        write_json(args.json, result)
    return 0


if __name__ == "__main__":
    sys.exit(main())
