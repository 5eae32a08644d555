"""Benchmark: connector memory (issue 17 item 4) holding N records and streaming them to an
app, then a soak at half the measured maximum.

The data space as deployed (bench/pipeline.py: operator mode, provider and consumer each its
own ``tsunagu connector run`` process, at rest encrypted), one transfer:

1. **Hold**: the provider app sends ``--records`` records closed loop (the maximum, as
   ``stream.py`` measures it: ``max_records_per_s``); the consumer app receives each over
   SSE. Then a *second* app subscribes from the start and streams all N held records again
   out of the consumer's store (``replay_records_per_s``). Resident set size of each
   connector process (``/proc/PID/status`` VmRSS), sampled every 0.5 s through both steps:
   the most each held (``provider_rss_mb``, ``consumer_rss_mb``; ``rss_mb`` the larger),
   and after each step (``held_rss_mb``, ``streamed_rss_mb``). The peak since the process
   started (VmHWM, ``*_hwm_mb``) is reported apart: it is reached while the connector
   starts, before any record. **Floor: ``rss_mb`` <= 150 MB at 100,000 records** (issue 17).
2. **Soak** (``--soak-minutes`` > 0): the provider app sends at ``--soak-fraction`` (0.5) of
   that maximum, open loop, for the given minutes; both connectors' RSS is sampled every
   ``--sample-s`` seconds. ``soak_rss_slope_mb_per_min`` is the larger least-squares slope
   of the two over the second half of the samples (the first half includes the stores' and
   caches' warm-up); ``soak_rss_growth_mb`` the larger end - start. Floor (our reading of
   "no growth"): slope <= 0.5 MB/min. Every record must still arrive exactly once.

    .venv/bin/python bench/memory.py --records 100000 --soak-minutes 0 --json out.json
    .venv/bin/python bench/memory.py --records 20000 --soak-minutes 30 --sample-s 60

A 30-minute soak at ~1,750 records/s stores ~3 million records in each connector and in the
stream: several GB of disk in the temporary folder.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.pipeline import (
    DATASET,
    PURPOSE,
    BenchError,
    Receiver,
    check_counts,
    closed_loop,
    deployed,
    latency_stats,
    scheduled_sender,
)
from bench.stream import git_commit, machine, write_json
from connector.api.sdk import TsunaguClient
from connector.cli.store_key import store_key_for
from connector.store.database import open_sqlite

FLOOR_RSS_MB = 150.0
FLOOR_SLOPE_MB_PER_MIN = 0.5
IDLE_NOTE = "figures are only meaningful on an idle machine (see load_avg_start/end)"


def status_mb(pid: int, field: str) -> float:
    """A field of /proc/PID/status in kB (VmRSS, VmHWM), as MB."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return round(int(line.split()[1]) / 1024, 1)
    raise BenchError(f"no {field} for process {pid}")


def slope_per_min(samples: list[tuple[float, float]]) -> float:
    """Least-squares slope of (seconds, MB) samples, in MB per minute (0 for < 2 samples)."""
    if len(samples) < 2:
        return 0.0
    n = len(samples)
    mean_t = sum(t for t, _ in samples) / n
    mean_v = sum(v for _, v in samples) / n
    var = sum((t - mean_t) ** 2 for t, _ in samples)
    if var == 0:
        return 0.0
    cov = sum((t - mean_t) * (v - mean_v) for t, v in samples)
    return cov / var * 60


class Sampler:
    """Samples the connectors' VmRSS every ``interval`` seconds while a phase runs: the most
    each held (the startup peak, VmHWM, is reported apart)."""

    def __init__(self, pids: dict[str, int], interval: float = 0.5) -> None:
        self.pids, self.interval = pids, interval
        self.most = {name: 0.0 for name in pids}
        self._task: asyncio.Task[None] | None = None

    def sample(self) -> None:
        for name, pid in self.pids.items():
            self.most[name] = max(self.most[name], status_mb(pid, "VmRSS"))

    async def _run(self) -> None:
        while True:
            self.sample()
            await asyncio.sleep(self.interval)

    async def __aenter__(self) -> Sampler:
        self._task = asyncio.create_task(self._run())
        return self

    async def __aexit__(self, *exc: object) -> None:
        assert self._task is not None
        self._task.cancel()
        await asyncio.gather(self._task, return_exceptions=True)
        self.sample()


async def replay(endpoint: tuple[str, str], records: int, timeout: float) -> float:
    """A second app subscribes from the start: every held record streamed out of the
    consumer's store again. Its records/s."""
    got, start = 0, time.perf_counter_ns()
    try:
        async with asyncio.timeout(timeout), TsunaguClient(*endpoint, purpose=PURPOSE) as app:
            async for _ in app.subscribe(DATASET, idle_timeout=120):
                got += 1
                if got == records:
                    break
    except TimeoutError:
        raise BenchError(f"replay: {got} of {records} held records streamed within "
                         f"{timeout:.0f}s") from None
    return records / ((time.perf_counter_ns() - start) / 1e9)


async def soak(args: argparse.Namespace, space: Any, receiver: Receiver, rate: float,
               pids: dict[str, int]) -> dict[str, Any]:
    run, total = f"soak{time.time_ns()}", int(rate * args.soak_minutes * 60)
    phase = receiver.expect(run, total)
    failures: list[str] = []
    samples: dict[str, list[tuple[float, float]]] = {name: [] for name in pids}
    sender = asyncio.create_task(scheduled_sender(space.endpoint(space.provider), run, total,
                                                  rate, 0.01, failures))
    start = time.monotonic()
    while not sender.done():
        at = time.monotonic() - start
        for name, pid in pids.items():
            samples[name].append((at, status_mb(pid, "VmRSS")))
        print(f"  soak {at / 60:5.1f} min: " + ", ".join(
            f"{name} {s[-1][1]:.1f} MB" for name, s in samples.items()), flush=True)
        await asyncio.wait([sender], timeout=args.sample_s)
    await sender
    try:
        async with asyncio.timeout(args.timeout):
            await phase.done.wait()
    except TimeoutError:
        store = space.consumers[0].directory / "connector.sqlite"
        db = open_sqlite(store, store_key_for(store, None))
        try:
            stored = db.execute("SELECT count(*) FROM deliveries").fetchone()[0]
        finally:
            db.close()
        raise BenchError(f"soak: {len(phase.received)} of {total} records arrived at the app "
                         f"within {args.timeout:.0f}s after sending ended ({stored} delivered "
                         f"into the consumer's store in all)") from None
    if failures:
        raise BenchError(f"{len(failures)} requests failed during the soak: {failures[0]}")
    for name, pid in pids.items():
        samples[name].append((time.monotonic() - start, status_mb(pid, "VmRSS")))
    half = {name: s[len(s) // 2:] for name, s in samples.items()}
    slopes = {name: round(slope_per_min(s), 3) for name, s in half.items()}
    growth = {name: round(s[-1][1] - s[0][1], 1) for name, s in samples.items()}
    return {"soak_minutes": args.soak_minutes, "soak_rate_per_s": round(rate, 1),
            "soak_records": total, "soak_sample_s": args.sample_s,
            "soak_rss_slope_mb_per_min": max(slopes.values()),
            "soak_rss_growth_mb": max(growth.values()),
            "soak_p99_ms": round(latency_stats(phase.latencies)["p99_ms"], 1),
            "soak": {name: {"slope_mb_per_min": slopes[name], "growth_mb": growth[name],
                            "samples": [(round(t, 1), v) for t, v in samples[name]]}
                     for name in pids}}


async def run(args: argparse.Namespace) -> dict[str, Any]:
    result: dict[str, Any] = {"records": args.records, "batch": args.batch,
                              "concurrency": args.concurrency,
                              "load_avg_start": os.getloadavg(), "note": IDLE_NOTE}
    with tempfile.TemporaryDirectory(prefix="tsunagu-bench-memory-") as tmp:
        async with deployed(Path(tmp), at_rest=True) as space:
            consumer = space.consumers[0]
            pids = {"provider": space.provider.process.proc.pid,
                    "consumer": consumer.process.proc.pid}
            result["start_rss_mb"] = {n: status_mb(p, "VmRSS") for n, p in pids.items()}
            async with Receiver(space.endpoint(consumer)) as receiver:
                async with Sampler(pids) as sampler:
                    held = await closed_loop(
                        receiver, space.endpoint(space.provider), records=args.records,
                        mode="batch", batch=args.batch, concurrency=args.concurrency,
                        timeout=args.timeout)
                    result["held_rss_mb"] = {n: status_mb(p, "VmRSS") for n, p in pids.items()}
                    store = consumer.directory / "connector.sqlite"
                    check_counts(store, args.records, store_key_for(store, None))
                    result["replay_records_per_s"] = round(
                        await replay(space.endpoint(consumer), args.records, args.timeout), 1)
                    result["streamed_rss_mb"] = {n: status_mb(p, "VmRSS")
                                                 for n, p in pids.items()}
                result["max_records_per_s"] = round(held["records_per_s"], 1)
                hwm = {n: status_mb(p, "VmHWM") for n, p in pids.items()}
                result.update(provider_rss_mb=sampler.most["provider"],
                              consumer_rss_mb=sampler.most["consumer"],
                              rss_mb=max(sampler.most.values()),
                              provider_hwm_mb=hwm["provider"], consumer_hwm_mb=hwm["consumer"])
                print(f"{args.records:,} records held and streamed: most RSS provider "
                      f"{result['provider_rss_mb']} MB, consumer {result['consumer_rss_mb']} MB "
                      f"(peaks since start {hwm['provider']} / {hwm['consumer']} MB; max "
                      f"{result['max_records_per_s']:,.0f} records/s, replay "
                      f"{result['replay_records_per_s']:,.0f}/s)", flush=True)
                if args.soak_minutes > 0:
                    rate = args.soak_fraction * held["records_per_s"]
                    result.update(await soak(args, space, receiver, rate, pids))
    result["floors"] = {
        "rss_mb_max": FLOOR_RSS_MB, "rss_ok": result["rss_mb"] <= FLOOR_RSS_MB,
        "slope_mb_per_min_max": FLOOR_SLOPE_MB_PER_MIN,
        "slope_ok": (result["soak_rss_slope_mb_per_min"] <= FLOOR_SLOPE_MB_PER_MIN
                     if "soak_rss_slope_mb_per_min" in result else None)}
    result.update(load_avg_end=os.getloadavg(), machine=machine(), git_commit=git_commit(),
                  at=datetime.now(UTC).isoformat(timespec="seconds"))
    return result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--records", type=int, default=100_000,
                        help="records held (and the closed-loop run measuring the maximum)")
    parser.add_argument("--soak-minutes", type=float, default=0.0,
                        help="minutes of open-loop load after the hold (0: none)")
    parser.add_argument("--soak-fraction", type=float, default=0.5,
                        help="the soak's rate as a fraction of the measured maximum")
    parser.add_argument("--sample-s", type=float, default=60.0, help="RSS sampling interval")
    parser.add_argument("--batch", type=int, default=500)
    parser.add_argument("--concurrency", type=int, default=4)
    parser.add_argument("--timeout", type=float, default=1800.0,
                        help="seconds a phase may take before the run fails")
    parser.add_argument("--json", type=Path, help="write the figures to this file")
    args = parser.parse_args(argv)
    if args.records < 1 or args.soak_minutes < 0 or not 0 < args.soak_fraction <= 1:
        parser.error("--records >= 1, --soak-minutes >= 0, 0 < --soak-fraction <= 1")
    logging.basicConfig(level=logging.WARNING, stream=sys.stderr)
    try:
        result = asyncio.run(run(args))
    except BenchError as exc:
        print(f"bench/memory.py: FAILED: {exc}", file=sys.stderr)
        return 1
    floors = result["floors"]
    print(f"peak connector RSS {result['rss_mb']} MB (floor <= {FLOOR_RSS_MB:.0f}: "
          f"{'met' if floors['rss_ok'] else 'NOT met'}; {IDLE_NOTE})")
    if floors["slope_ok"] is not None:
        print(f"soak {args.soak_minutes:g} min at {result['soak_rate_per_s']:,.0f} records/s: "
              f"RSS slope {result['soak_rss_slope_mb_per_min']} MB/min, growth "
              f"{result['soak_rss_growth_mb']} MB (floor <= {FLOOR_SLOPE_MB_PER_MIN}: "
              f"{'met' if floors['slope_ok'] else 'NOT met'})")
    if args.json:
        write_json(args.json, result)
    return 0 if floors["rss_ok"] and floors["slope_ok"] is not False else 1


if __name__ == "__main__":
    sys.exit(main())
