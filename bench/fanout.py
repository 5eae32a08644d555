"""Benchmark: fan-out, one provider to 1, 10, 50 consumer connectors (issue 17 item 3).

For each count in ``--consumers``, a data space as deployed (bench/pipeline.py): the
authority's nats-server in operator mode, the provider and every consumer each its own
``tsunagu connector run`` process and participant (its own NATS account and user), each
consumer with its own agreement, stream grant and STARTED transfer, and its own app reading
with the SDK (SSE, one subscription per consumer, all in this process). The provider app
hands over ``--records`` records closed loop (batches of ``--batch``, ``--concurrency`` in
flight), each delivered to every consumer app.

Figures per count: aggregate delivered records/s (consumers x records / (last arrival at any
consumer - first handover)); per consumer its records/s, p50/p99 latency (handover -> its
app) and its *finish lag* (its last arrival - the provider app's last handover answered).
The single-consumer figure is measured in the same run (1 is added to ``--consumers`` unless
given or ``--no-baseline``). Floor: aggregate at the largest count >= 0.8 x single.

``--churn`` (default; at the largest count, when 2 or more): while the provider app sends
``--churn-rate`` records/s open loop, a new consumer joins and the provider ends the last
consumer's agreement; the longest gap between arrivals at every other consumer during each is
its pause (``grant_max_pause_ms``, ``revoke_max_pause_ms``), and the longest any record
handed over in each window took to arrive (``grant_max_delay_ms``, ``revoke_max_delay_ms``:
a delivery lost to an account update shows here); floor 1 s each.

    .venv/bin/python bench/fanout.py --consumers 1,10,50 --records 5000 --json out.json

Each connector is a process, as participants run them: 50 consumers are 51 connector
processes on this machine (RSS of each in the JSON, ``rss_mb``), so the 50-consumer figure
needs the memory for them and, like every figure here, an idle machine.
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
    BenchError,
    Phase,
    Receiver,
    check_counts,
    contract,
    deployed,
    join,
    latency_stats,
    publisher,
    scheduled_sender,
)
from bench.stream import git_commit, machine, write_json
from connector.api.sdk import TsunaguClient
from connector.cli.store_key import store_key_for

FLOOR_RATIO = 0.8
FLOOR_PAUSE_MS = 1000.0  # granting or revoking one consumer pauses no other for longer
IDLE_NOTE = "figures are only meaningful on an idle machine (see load_avg_start/end)"


def rss_mb(pid: int) -> float | None:
    """Resident set size of a process from /proc (Linux), in MB."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return round(int(line.split()[1]) / 1024, 1)
    except OSError:
        pass
    return None


def largest_gap_ms(phase: Phase, start: int, end: int) -> float:
    """The longest time between two arrivals in one consumer app around [start, end] (ns):
    a consumer paused by another's grant or revocation shows as one long gap."""
    times = [t for t in phase.received if start <= t <= end]
    times = [start, *times, end]
    return max(b - a for a, b in zip(times, times[1:], strict=False)) / 1e6


def largest_delay_ms(phase: Phase, start: int, end: int) -> float:
    """The longest any record handed over (due) in [start, end] (ns) took to arrive: a
    delivery lost to an account update and handed back late shows here even when later
    records keep arriving (and so no gap between arrivals shows it)."""
    delays = [lat for lat, at in zip(phase.latencies, phase.received, strict=True)
              if start <= at - lat * 1e6 <= end]
    return max(delays, default=0.0)


async def churn(args: argparse.Namespace, space: Any, receivers: list[Receiver]
                ) -> dict[str, Any]:
    """While the provider app sends ``--churn-rate`` records/s open loop, a new consumer
    joins (onboarding, agreement, grant, transfer), then the provider ends the last
    consumer's agreement (its grant revoked); the longest gap between arrivals at every
    *other* consumer during each window is its pause (floor 1 s)."""
    stayers, leaving = receivers[:-1], space.consumers[-1]
    run, most = f"churn{time.time_ns()}", int(args.churn_rate * args.churn_seconds)
    phases = [r.expect(run, most) for r in stayers]
    failures: list[str] = []
    stop = asyncio.Event()
    sender = asyncio.create_task(scheduled_sender(
        space.endpoint(space.provider), run, most, args.churn_rate, 0.01, failures, stop))
    await asyncio.sleep(1.0)  # streaming steadily before anything changes
    grant_start = time.perf_counter_ns()
    newcomer = await join(space.space, len(space.consumers))
    await contract(space.provider, newcomer, 1)
    grant_end = time.perf_counter_ns()
    provider = space.provider
    async with TsunaguClient(provider.api_url, provider.token) as app:
        agreement = [a for a in await app.agreements() if a.consumer == leaving.did][-1]
        revoke_start = time.perf_counter_ns()  # the provider revokes: ends the agreement
        await app.terminate_agreement(agreement.id, "bench: revocation while others stream")
    revoke_end = time.perf_counter_ns() + int(1e9)  # the call and the second after it
    await asyncio.sleep(2.0)  # streaming on past that window
    if sender.done():
        raise BenchError(f"the churn stream ({args.churn_seconds:.0f} s at most) ended before "
                         "the grant and revocation did: raise --churn-seconds")
    stop.set()
    try:
        async with asyncio.timeout(args.timeout):
            _, sent = await sender
            for phase in phases:
                phase.cut(sent)
            await asyncio.gather(*(p.done.wait() for p in phases))
    except TimeoutError:
        raise BenchError("the remaining consumers did not receive every churn record within "
                         f"{args.timeout:.0f}s") from None
    if failures:
        raise BenchError(f"{len(failures)} requests failed during churn: {failures[0]}")
    grant = [largest_gap_ms(p, grant_start, grant_end) for p in phases]
    revoke = [largest_gap_ms(p, revoke_start, revoke_end) for p in phases]
    grant_delay = [largest_delay_ms(p, grant_start, grant_end) for p in phases]
    revoke_delay = [largest_delay_ms(p, revoke_start, revoke_end) for p in phases]
    return {"churn_rate_per_s": args.churn_rate, "churn_records": sent,
            "grant_window_s": round((grant_end - grant_start) / 1e9, 2),
            "grant_max_pause_ms": round(max(grant), 1),
            "revoke_max_pause_ms": round(max(revoke), 1),
            "grant_max_delay_ms": round(max(grant_delay), 1),
            "revoke_max_delay_ms": round(max(revoke_delay), 1),
            "churn_p99_ms": round(max(latency_stats(p.latencies)["p99_ms"] for p in phases), 1)}


async def one_count(args: argparse.Namespace, count: int, root: Path) -> dict[str, Any]:
    async with deployed(root, at_rest=args.at_rest == "on", consumers=count) as space:
        receivers = [Receiver(space.endpoint(c)) for c in space.consumers]
        for receiver in receivers:
            await receiver.__aenter__()
        try:
            run = f"fan{time.time_ns()}"
            phases = [r.expect(run, args.records) for r in receivers]
            first_sent: list[int] = []
            pub = asyncio.create_task(publisher(
                space.endpoint(space.provider), run, args.records, mode="batch",
                batch=args.batch, concurrency=args.concurrency, first_sent=first_sent))
            try:
                async with asyncio.timeout(args.timeout):
                    await pub
                    published = time.perf_counter_ns()
                    await asyncio.gather(*(p.done.wait() for p in phases))
            except TimeoutError:
                got = sorted(len(p.latencies) for p in phases)
                raise BenchError(f"{count} consumers: not all {args.records} records arrived "
                                 f"within {args.timeout:.0f}s (fewest {got[0]}, most "
                                 f"{got[-1]})") from None
            for consumer in space.consumers:
                store = consumer.directory / "connector.sqlite"
                check_counts(store, args.records, store_key_for(store, None))
            last = max(p.received[-1] for p in phases)
            print(f"{count:>3} consumers: every record delivered, aggregate "
                  f"{count * args.records / ((last - first_sent[0]) / 1e9):,.0f} records/s",
                  flush=True)
            churned: dict[str, Any] = {}
            if args.churn and count >= 2 and count == max(args.consumers):
                try:  # a failed churn keeps the fan-out figures, and fails the run
                    churned = await churn(args, space, receivers)
                except (BenchError, TimeoutError) as exc:
                    churned = {"churn_error": f"{type(exc).__name__}: {exc}"}
                    print(f"churn failed: {churned['churn_error']}", file=sys.stderr)
        finally:
            for receiver in receivers:
                await receiver.__aexit__(None, None, None)
        per = []
        for consumer, phase in zip(space.consumers, phases, strict=True):
            span = (phase.received[-1] - first_sent[0]) / 1e9
            per.append({"records_per_s": round(args.records / span, 1),
                        "finish_lag_ms": round((phase.received[-1] - published) / 1e6, 1),
                        **{k: round(v, 1) for k, v in latency_stats(phase.latencies).items()},
                        "rss_mb": rss_mb(consumer.process.proc.pid)})
        provider_rss = rss_mb(space.provider.process.proc.pid)
    return {"consumers": count, "records": args.records,
            "aggregate_records_per_s": round(count * args.records
                                             / ((last - first_sent[0]) / 1e9), 1),
            "max_finish_lag_ms": max(c["finish_lag_ms"] for c in per),
            "max_p99_ms": max(c["p99_ms"] for c in per),
            "min_records_per_s": min(c["records_per_s"] for c in per),
            "provider_rss_mb": provider_rss, **churned, "per_consumer": per}


async def run(args: argparse.Namespace) -> dict[str, Any]:
    result: dict[str, Any] = {"records": args.records, "batch": args.batch,
                              "concurrency": args.concurrency, "at_rest": args.at_rest,
                              "load_avg_start": os.getloadavg(), "note": IDLE_NOTE,
                              "by_consumers": {}}
    for count in args.consumers:
        with tempfile.TemporaryDirectory(prefix=f"tsunagu-bench-fanout-{count}-") as tmp:
            figures = await one_count(args, count, Path(tmp))
        result["by_consumers"][str(count)] = figures
        print(f"{count:>3} consumers: aggregate {figures['aggregate_records_per_s']:,.0f} "
              f"records/s, slowest consumer {figures['min_records_per_s']:,.0f}/s, max finish "
              f"lag {figures['max_finish_lag_ms']:,.0f} ms, max p99 "
              f"{figures['max_p99_ms']:,.0f} ms", flush=True)
    top = result["by_consumers"][str(max(args.consumers))]
    single = result["by_consumers"].get("1")
    for key in ("consumers", "aggregate_records_per_s", "max_finish_lag_ms", "max_p99_ms",
                "min_records_per_s", "grant_max_pause_ms", "revoke_max_pause_ms",
                "grant_max_delay_ms", "revoke_max_delay_ms", "grant_window_s",
                "churn_p99_ms"):
        if key in top:
            result[key] = top[key]
    result["churn_error"] = top.get("churn_error")
    result["single_records_per_s"] = single["aggregate_records_per_s"] if single else None
    result["ratio_to_single"] = round(top["aggregate_records_per_s"]
                                      / single["aggregate_records_per_s"], 3) if single else None
    pauses = [result[k] for k in ("grant_max_pause_ms", "revoke_max_pause_ms",
                                  "grant_max_delay_ms", "revoke_max_delay_ms") if k in result]
    result["floors"] = {"ratio_to_single_min": FLOOR_RATIO,
                        "ratio_ok": None if result["ratio_to_single"] is None
                        else result["ratio_to_single"] >= FLOOR_RATIO,
                        "pause_max_ms": FLOOR_PAUSE_MS,
                        "pause_ok": max(pauses) <= FLOOR_PAUSE_MS if pauses else None}
    result.update(load_avg_end=os.getloadavg(), machine=machine(), git_commit=git_commit(),
                  at=datetime.now(UTC).isoformat(timespec="seconds"))
    return result


def counts(text: str) -> list[int]:
    try:
        values = sorted({int(v) for v in text.split(",") if v.strip()})
    except ValueError:
        raise argparse.ArgumentTypeError(f"--consumers takes counts like 1,10,50: {text!r}"
                                         ) from None
    if not values or values[0] < 1:
        raise argparse.ArgumentTypeError(f"--consumers must be counts of at least 1: {text!r}")
    return values


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--consumers", type=counts, default=[1, 10, 50])
    parser.add_argument("--records", type=int, default=5000, help="records the provider sends")
    parser.add_argument("--no-baseline", action="store_true",
                        help="do not add the single-consumer run to --consumers")
    parser.add_argument("--churn", action=argparse.BooleanOptionalAction, default=True,
                        help="at the largest count (>= 2), measure the pause a grant and a "
                             "revocation cause the other consumers")
    parser.add_argument("--churn-rate", type=float, default=100.0,
                        help="records/s sent open loop while one joins and one leaves")
    parser.add_argument("--churn-seconds", type=float, default=300.0,
                        help="the longest that stream may last (it stops 2 s after the "
                             "revocation; the join must finish within it)")
    parser.add_argument("--batch", type=int, default=500)
    parser.add_argument("--concurrency", type=int, default=4)
    parser.add_argument("--at-rest", choices=["on", "off"], default="on")
    parser.add_argument("--timeout", type=float, default=900.0,
                        help="seconds each count's streaming may take before it fails")
    parser.add_argument("--json", type=Path, help="write the figures to this file")
    args = parser.parse_args(argv)
    if args.records < 1:
        parser.error("--records must be at least 1")
    if not args.no_baseline and 1 not in args.consumers:
        args.consumers = [1, *args.consumers]
    logging.basicConfig(level=logging.WARNING, stream=sys.stderr)
    try:
        result = asyncio.run(run(args))
    except BenchError as exc:
        print(f"bench/fanout.py: FAILED: {exc}", file=sys.stderr)
        return 1
    floors = result["floors"]
    print(f"aggregate at {result['consumers']} consumers / single = "
          f"{result['ratio_to_single']} (floor {FLOOR_RATIO}: {met(floors['ratio_ok'])}; "
          f"{IDLE_NOTE})")
    if floors["pause_ok"] is not None:
        print(f"pause of the other consumers: grant {result['grant_max_pause_ms']:,.0f} ms "
              f"(window {result['grant_window_s']} s), revocation "
              f"{result['revoke_max_pause_ms']:,.0f} ms; longest a record handed over meanwhile "
              f"waited: {result['grant_max_delay_ms']:,.0f} / {result['revoke_max_delay_ms']:,.0f}"
              f" ms (floor <= {FLOOR_PAUSE_MS:.0f} ms: "
              f"{met(floors['pause_ok'])})")
    if args.json:
        write_json(args.json, result)
    return 0 if floors["ratio_ok"] is not False and floors["pause_ok"] is not False \
        and not result["churn_error"] else 1


def met(ok: bool | None) -> str:
    return "not measured" if ok is None else "met" if ok else "NOT met"


if __name__ == "__main__":
    sys.exit(main())
