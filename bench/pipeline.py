"""The record pipeline as deployed, shared by the benchmarks that stream records through it
(bench/stream.py, bench/latency.py, bench/fanout.py).

An authority running the data space's nats-server in operator mode, a provider and a
consumer connector each in its own ``tsunagu connector run`` process (the harness of
tests/e2e/processes.py), a dataset, an agreement and a started transfer; the provider *app*
hands records over through the app API and the consumer *app* reads them with the SDK (SSE).
Each record carries, in ``description``, the ``perf_counter_ns`` it counts its latency from
(when it was handed over, or, open loop, when it was due).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
import orjson

from connector.api.sdk import TsunaguClient, _segment
from connector.protocol.dsp import messages as m
from connector.store.database import open_sqlite
from trust import jsonld
from trust.legal_id import corporate_number_check_digit

DATASET = "urn:tsunagu:bench:dataset:shelters"
PURPOSE = "disaster_response"
OFFER = m.offer("urn:tsunagu:bench:offer:open", permission=[m.rule("use", [
    m.constraint("tsunagu:role", "isAnyOf", ["shelter_operator", "municipality"]),
    m.constraint("odrl:purpose", "eq", PURPOSE)])])
SCHEMA = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "type": "object",
    "required": ["id", "type", "name", "description"],
    "properties": {"name": {"type": "string", "minLength": 1},
                   "description": {"type": "string"}},
}
CONTEXT = [jsonld.CREDENTIALS_V2, jsonld.TSUNAGU_V1]
SENT = "sent_ns="
PREFIX = "urn:tsunagu:bench:"

Endpoint = tuple[str, str]  # (app API URL, bearer token)


class BenchError(Exception):
    """A step did not finish or produced wrong results; the message says which."""


def record(run: str, n: int, sent_ns: int) -> dict[str, Any]:
    return {"@context": CONTEXT, "id": f"{PREFIX}{run}:{n}", "type": "Record",
            "name": f"避難所 {n}", "description": f"{SENT}{sent_ns}"}


def percentile(values: list[float], q: float) -> float:
    """Nearest-rank percentile (q in 0..100) of a non-empty list."""
    ordered = sorted(values)
    rank = max(1, min(len(ordered), round(q / 100 * len(ordered) + 0.5)))
    return ordered[rank - 1]


def latency_stats(latencies: list[float]) -> dict[str, float]:
    return dict(p50_ms=percentile(latencies, 50), p90_ms=percentile(latencies, 90),
                p99_ms=percentile(latencies, 99), max_ms=max(latencies))


class Poster:
    """The provider app's HTTP client for the record routes of one dataset."""

    def __init__(self, http: aiohttp.ClientSession, endpoint: Endpoint) -> None:
        url, token = endpoint
        self.http = http
        self.headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
        self.base = f"{url}/api/v1/datasets/{_segment(DATASET)}/records"
        self.busy = 0  # requests answered 503 api.busy and sent again

    async def send(self, records: list[dict[str, Any]], *, batch: bool = True) -> None:
        path, body = (self.base + ":batch", {"records": records}) if batch else \
            (self.base, records[0])
        data = orjson.dumps(body)
        while True:
            async with self.http.post(path, data=data, headers=self.headers) as resp:
                raw = await resp.read()
                if resp.status == 503 and "Retry-After" in resp.headers:
                    # The connector's back-pressure (api.busy): nothing was written; an app
                    # sends the same request again after the delay it names.
                    self.busy += 1
                    await asyncio.sleep(float(resp.headers["Retry-After"]))
                    continue
                if resp.status >= 300:
                    raise BenchError(f"publish refused: HTTP {resp.status} {raw[:300]!r}")
                return


async def publisher(endpoint: Endpoint, run: str, total: int, *, mode: str, batch: int,
                    concurrency: int, first_sent: list[int]) -> None:
    """Closed loop: the provider app hands over every record as fast as the API takes them,
    ``concurrency`` requests in flight (the maximum throughput)."""
    async with aiohttp.ClientSession() as http:
        poster = Poster(http, endpoint)
        queue: asyncio.Queue[range] = asyncio.Queue()
        size = batch if mode == "batch" else 1
        for start in range(0, total, size):
            queue.put_nowait(range(start, min(total, start + size)))

        async def worker() -> None:
            while not queue.empty():
                numbers = queue.get_nowait()
                sent = time.perf_counter_ns()
                if not first_sent:
                    first_sent.append(sent)
                await poster.send([record(run, n, sent) for n in numbers],
                                  batch=mode == "batch")

        await asyncio.gather(*(worker() for _ in range(concurrency)))


@dataclass
class Phase:
    """What the consumer app received of one run (records ``PREFIX<run>:<n>``)."""
    total: int
    latencies: list[float] = field(default_factory=list)
    received: list[int] = field(default_factory=list)  # perf_counter_ns of each arrival
    sizes: list[int] = field(default_factory=list)  # bytes of the first record
    done: asyncio.Event = field(default_factory=asyncio.Event)

    def cut(self, total: int) -> None:
        """Fewer records were sent than expected: ``total`` is all there will be."""
        self.total = total
        if len(self.latencies) >= total:
            self.done.set()


class Receiver:
    """The consumer app: one SDK subscription (SSE) for the whole session, each event
    counted for the run its record belongs to (open-loop runs follow one another on the
    same transfer, so one subscription sees them all)."""

    def __init__(self, endpoint: Endpoint) -> None:
        self.endpoint = endpoint
        self.phases: dict[str, Phase] = {}
        self.ready = asyncio.Event()
        self.task: asyncio.Task[None] | None = None

    def expect(self, run: str, total: int) -> Phase:
        self.phases[run] = phase = Phase(total)
        return phase

    async def _run(self) -> None:
        async with TsunaguClient(*self.endpoint, purpose=PURPOSE) as client:
            stream = client.subscribe(DATASET, idle_timeout=120)
            self.ready.set()
            async for event in stream:
                now = time.perf_counter_ns()
                assert event.record is not None
                run, _, _ = event.record["id"][len(PREFIX):].rpartition(":")
                phase = self.phases.get(run)
                if phase is None:
                    continue
                sent = int(event.record["description"][len(SENT):])
                phase.latencies.append((now - sent) / 1e6)
                phase.received.append(now)
                if not phase.sizes:
                    phase.sizes.append(len(orjson.dumps(event.record)))
                if len(phase.latencies) >= phase.total:
                    phase.done.set()

    async def __aenter__(self) -> Receiver:
        self.task = asyncio.create_task(self._run())
        ready = asyncio.create_task(self.ready.wait())
        await asyncio.wait([ready, self.task], return_when=asyncio.FIRST_COMPLETED)
        if not self.ready.is_set():
            ready.cancel()
            await self.task  # raises what stopped the subscription
        return self

    async def __aexit__(self, *exc: object) -> None:
        assert self.task is not None
        self.task.cancel()
        await asyncio.gather(self.task, return_exceptions=True)

    async def wait(self, run: str, publishing: asyncio.Task[Any], timeout: float) -> int:
        """Until every record of ``run`` arrived; the perf_counter_ns publishing ended.
        Fails with the counts after ``timeout`` seconds or when publishing failed."""
        phase = self.phases[run]
        try:
            async with asyncio.timeout(timeout):
                await publishing
                published_at = time.perf_counter_ns()
                await phase.done.wait()
        except TimeoutError:
            raise BenchError(
                f"run {run} did not finish within {timeout:.0f}s: {len(phase.latencies)} of "
                f"{phase.total} received, publisher "
                f"{'done' if publishing.done() else 'still sending'}") from None
        finally:
            publishing.cancel()
            await asyncio.gather(publishing, return_exceptions=True)
        return published_at


async def closed_loop(receiver: Receiver, provider: Endpoint, *, records: int, mode: str,
                      batch: int, concurrency: int, timeout: float) -> dict[str, Any]:
    """One closed-loop run: throughput (records / (last receive - first send)) and latency."""
    run = f"max{time.time_ns()}"
    phase = receiver.expect(run, records)
    first_sent: list[int] = []
    pub = asyncio.create_task(publisher(provider, run, records, mode=mode, batch=batch,
                                        concurrency=concurrency, first_sent=first_sent))
    published_at = await receiver.wait(run, pub, timeout)
    elapsed_s = (phase.received[-1] - first_sent[0]) / 1e9
    return dict(records_per_s=records / elapsed_s, elapsed_s=elapsed_s,
                publish_s=(published_at - first_sent[0]) / 1e9,
                **latency_stats(phase.latencies), payload_bytes=phase.sizes[0])


async def scheduled_sender(endpoint: Endpoint, run: str, total: int, rate: float,
                           tick_s: float, failures: list[str],
                           stop: asyncio.Event | None = None) -> tuple[int, int]:
    """Open loop: record *n* is due at ``start + n / rate`` whether or not earlier requests
    were answered; every ``tick_s`` the records due are handed over in one batch request
    that is not awaited before the next tick. Each record carries its *due* time, so the
    latency measured from it includes any wait for the sender or the API (no coordinated
    omission). Sends ``total`` records, fewer when ``stop`` is set first. Returns the most
    requests that were in flight at once and the records sent."""
    async with aiohttp.ClientSession(
            connector=aiohttp.TCPConnector(limit=0)) as http:  # no client-side queue
        poster = Poster(http, endpoint)
        in_flight: set[asyncio.Task[None]] = set()
        most = 0

        async def send(records: list[dict[str, Any]]) -> None:
            try:
                await poster.send(records)
            except (BenchError, aiohttp.ClientError) as exc:
                failures.append(str(exc))

        start = time.perf_counter_ns() + int(tick_s * 1e9)
        sent = 0
        while sent < total and not (stop is not None and stop.is_set()):
            now = time.perf_counter_ns()
            due = min(total, int((now - start) * rate / 1e9) + 1) if now >= start else 0
            if due > sent:
                batch = [record(run, n, start + int(n * 1e9 / rate)) for n in range(sent, due)]
                task = asyncio.create_task(send(batch))
                in_flight.add(task)
                task.add_done_callback(in_flight.discard)
                most = max(most, len(in_flight))
                sent = due
            await asyncio.sleep(tick_s)
        await asyncio.gather(*in_flight)
        return most, sent


async def open_loop(receiver: Receiver, provider: Endpoint, *, rate: float, records: int,
                    tick_s: float, timeout: float) -> dict[str, Any]:
    """One open-loop run at ``rate`` records/s: latency from each record's due time to its
    arrival in the consumer app, and the rate the consumer app actually received."""
    run = f"open{time.time_ns()}"
    phase = receiver.expect(run, records)
    failures: list[str] = []
    sender = asyncio.create_task(scheduled_sender(provider, run, records, rate, tick_s,
                                                  failures))
    await receiver.wait(run, sender, timeout)
    if failures:
        raise BenchError(f"{len(failures)} requests failed at {rate:.0f}/s: {failures[0]}")
    span_s = (phase.received[-1] - phase.received[0]) / 1e9
    return dict(offered_per_s=round(rate, 1), records=records,
                delivered_per_s=round((records - 1) / span_s, 1) if span_s > 0 else None,
                most_requests_in_flight=sender.result()[0],
                **{k: round(v, 2) for k, v in latency_stats(phase.latencies).items()})


def check_counts(store: Path, records: int, key: bytes | None) -> None:
    """Every record delivered exactly once by the consumer connector, none dead-lettered."""
    db = open_sqlite(store, key)
    try:
        dead = db.execute("SELECT count(*) FROM dead_letters").fetchone()[0]
        delivered = db.execute("SELECT count(*) FROM deliveries").fetchone()[0]
    finally:
        db.close()
    if dead or delivered != records:
        raise BenchError(f"{delivered} delivered, {dead} dead letters")


async def negotiations_over_api(consumer: TsunaguClient, provider_did: str, runs: int
                                ) -> list[float]:
    """Milliseconds from the consumer app's negotiation call to FINALIZED seen through the
    API (polled every 1 ms), so it includes two HTTP hops per poll."""
    took: list[float] = []
    for _ in range(runs):
        began = time.perf_counter()
        started = await consumer.negotiate(provider_did, DATASET, OFFER["@id"],
                                           purpose=PURPOSE)
        deadline = time.monotonic() + 10
        while (view := await consumer.negotiation(started.pid)).state not in (
                "FINALIZED", "TERMINATED"):
            if time.monotonic() > deadline:
                raise BenchError(f"negotiation still {view.state} after 10 s")
            await asyncio.sleep(0.001)
        if view.state != "FINALIZED":
            raise BenchError(f"negotiation ended {view.state}: {view.model_dump()}")
        took.append((time.perf_counter() - began) * 1000)
    return took


@dataclass
class Deployed:
    """A running data space: the provider, its consumers (one agreement and transfer each),
    and the negotiation times of the first consumer."""
    provider: Any  # tests.e2e.processes.Participant
    consumers: list[Any]
    negotiation_ms: list[float]
    space: Any = None  # the tests.e2e.processes.DataSpace, to onboard more participants

    @staticmethod
    def endpoint(participant: Any) -> Endpoint:
        return participant.api_url, participant.token


CONSUMER_IDS = "7000012050002"  # the first consumer's 法人番号; others are numbered after it


async def contract(provider: Any, consumer: Any, negotiations: int) -> list[float]:
    """``negotiations`` timed negotiations, then a transfer on the last agreement, STARTED."""
    async with TsunaguClient(consumer.api_url, consumer.token, purpose=PURPOSE) as c_app:
        took = await negotiations_over_api(c_app, provider.did, negotiations)
        agreement = (await c_app.negotiations())[-1].agreement_id
        assert agreement is not None
        transfer = await c_app.transfer(agreement)
        async with asyncio.timeout(20):
            while (await c_app.get_transfer(transfer.pid)).state != "STARTED":
                await asyncio.sleep(0.01)
    return took


@asynccontextmanager
async def deployed(root: Path, *, at_rest: bool = True, negotiations: int = 1,
                   consumers: int = 1, record_proofs: str = "per-record"
                   ) -> AsyncIterator[Deployed]:
    """The data space as deployed, each connector its own process (tests/e2e/processes.py):
    a provider offering DATASET, ``consumers`` consumers (each its own participant, NATS
    account and user) with an agreement and a STARTED transfer each."""
    from tests.e2e.processes import DataSpace  # the harness the process tests use

    space = await asyncio.to_thread(DataSpace, root, at_rest=at_rest)
    try:
        provider = await asyncio.to_thread(space.onboard, "city", "仙台市", "041009",
                                           "municipality")
        async with TsunaguClient(provider.api_url, provider.token) as p_app:
            await p_app.offer_dataset(DATASET, "指定避難所", [OFFER], schema=SCHEMA,
                                      record_proofs=record_proofs)
        joined = []
        took: list[float] = []
        for i in range(consumers):
            consumer = await join(space, i)
            times = await contract(provider, consumer, negotiations if i == 0 else 1)
            took = took or times
            joined.append(consumer)
        yield Deployed(provider, joined, took, space)
    finally:
        await asyncio.to_thread(space.close)


async def join(space: Any, i: int) -> Any:
    """Consumer number ``i`` onboarded (a participant, NATS account and connector process of
    its own); its contract is made by ``contract``."""
    return await asyncio.to_thread(space.onboard, f"npo{i}" if i else "npo",
                                   f"避難所運営 {i + 1}", consumer_legal_id(i),
                                   "shelter_operator")


def consumer_legal_id(i: int) -> str:
    """A distinct valid 法人番号 per consumer (the first is CONSUMER_IDS)."""
    if i == 0:
        return CONSUMER_IDS
    base = f"{12050002 + i * 10:012d}"
    return f"{corporate_number_check_digit(base)}{base}"


_GC_SERIES = {"tsunagu_gc_pause_max_seconds": "max_ms",
              "tsunagu_gc_pause_seconds_total": "total_ms",
              "tsunagu_gc_collections_total": "collections"}


async def gc_figures(api_url: str) -> dict[str, float]:
    """A connector process's garbage-collector figures since it started, from its /metrics
    (connector.runtime.gc_pauses): ``gen2_max_ms``, ``gen2_total_ms``, ``gen2_collections``
    and the same for generations 0 and 1."""
    async with aiohttp.ClientSession() as http, http.get(f"{api_url}/metrics") as resp:
        resp.raise_for_status()
        text = await resp.text()
    figures: dict[str, float] = {}
    for line in text.splitlines():
        name, _, rest = line.partition("{")
        if name not in _GC_SERIES or 'generation="' not in rest:
            continue
        generation = rest.split('generation="', 1)[1].split('"', 1)[0]
        value = float(rest.rsplit(" ", 1)[1])
        unit = _GC_SERIES[name]
        figures[f"gen{generation}_{unit}"] = round(value * 1000, 2) if unit.endswith("ms") \
            else value
    return figures
