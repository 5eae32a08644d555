"""Benchmark: latency under load, provider app -> consumer app, open loop at fixed rates.

The data space as deployed (bench/pipeline.py: operator-mode nats-server, each connector its
own process, the consumer reading through the stream grant of its agreement). First the
maximum is measured as bench/stream.py measures it (closed loop: batches of ``--batch``,
``--concurrency`` requests in flight; records / (last receive - first send)); then, on the
same transfer and the same consumer app subscription, one open-loop run per ``--rates``
fraction of that maximum: record *n* is due at ``start + n / rate``, every ``--tick-ms`` the
records due go in one batch request that is not awaited (so queueing shows as latency), and
each record's latency runs from its *due* time to its arrival in the consumer app (no
coordinated omission). Floor: p99 <= 100 ms at 50 % of the maximum.

    .venv/bin/python bench/latency.py --records 10000 --json out.json

Figures are only meaningful on an idle machine: on 2 cores the connectors, nats-server and
both apps share the CPU with whatever else runs (the JSON keeps the load average at start
and end).
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import sys
import tempfile
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.pipeline import (
    BenchError,
    Receiver,
    check_counts,
    closed_loop,
    deployed,
    gc_figures,
    open_loop,
)
from bench.stream import git_commit, machine, write_json
from connector.cli.store_key import store_key_for

FLOOR_P99_MS = 100.0
FLOOR_AT = 0.5  # the fraction of the maximum the floor applies to
IDLE_NOTE = ("figures are only meaningful on an idle machine: compare load_avg_start/end "
             "with the core count")


def rate_key(fraction: float) -> str:
    """'at_50' for 0.5: the prefix of one rate's flat keys (at_50_p99_ms, ...)."""
    return f"at_{round(fraction * 100):d}"


async def run(args: argparse.Namespace) -> dict[str, Any]:
    result: dict[str, Any] = {"records": args.records, "max_records": args.max_records,
                              "batch": args.batch, "concurrency": args.concurrency,
                              "tick_ms": args.tick_ms, "at_rest": args.at_rest,
                              "record_proofs": args.record_proofs,
                              "load_avg_start": os.getloadavg(), "note": IDLE_NOTE}
    with tempfile.TemporaryDirectory(prefix="tsunagu-bench-latency-") as tmp:
        async with deployed(Path(tmp), at_rest=args.at_rest == "on",
                            record_proofs=args.record_proofs) as space:
            provider = space.endpoint(space.provider)
            consumer = space.consumers[0]
            async with Receiver(space.endpoint(consumer)) as receiver:
                maximum = await closed_loop(receiver, provider, records=args.max_records,
                                            mode="batch", batch=args.batch,
                                            concurrency=args.concurrency,
                                            timeout=args.timeout)
                top = maximum["records_per_s"]
                result["max_records_per_s"] = round(top, 1)
                result["max_p50_ms"] = round(maximum["p50_ms"], 2)
                result["max_p99_ms"] = round(maximum["p99_ms"], 2)
                result["payload_bytes"] = maximum["payload_bytes"]
                result["rates"] = {}
                for fraction in args.rates:
                    figures = await open_loop(receiver, provider, rate=top * fraction,
                                              records=args.records,
                                              tick_s=args.tick_ms / 1000,
                                              timeout=args.timeout)
                    result["rates"][f"{fraction:g}"] = figures
                    for name in ("p50_ms", "p90_ms", "p99_ms", "max_ms", "offered_per_s",
                                 "delivered_per_s"):
                        result[f"{rate_key(fraction)}_{name}"] = figures[name]
            # The longest stop of each connector's event loop for its garbage collector.
            result["provider_gc"] = await gc_figures(space.provider.api_url)
            result["consumer_gc"] = await gc_figures(consumer.api_url)
            store = consumer.directory / "connector.sqlite"
            check_counts(store, args.max_records + args.records * len(args.rates),
                         store_key_for(store, None))
    floor = result["rates"].get(f"{FLOOR_AT:g}")
    result["floors"] = {"p99_at_50_max_ms": FLOOR_P99_MS,
                        "p99_at_50_ok": None if floor is None else
                        floor["p99_ms"] <= FLOOR_P99_MS}
    result.update(load_avg_end=os.getloadavg(), machine=machine(), git_commit=git_commit(),
                  at=datetime.now(UTC).isoformat(timespec="seconds"))
    return result


def fractions(text: str) -> list[float]:
    try:
        values = [float(part) for part in text.split(",") if part.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"--rates takes fractions like 0.25,0.5: {text!r}") from None
    if not values or any(not 0 < v <= 1 for v in values):
        raise argparse.ArgumentTypeError(f"each rate must be in (0, 1]: {text!r}")
    return values


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--records", type=int, default=10_000,
                        help="records per open-loop rate")
    parser.add_argument("--max-records", type=int,
                        help="records for measuring the maximum (default: --records)")
    parser.add_argument("--rates", type=fractions, default=[0.25, 0.5, 0.75],
                        help="offered rates as fractions of the measured maximum")
    parser.add_argument("--batch", type=int, default=500, help="closed loop: batch size")
    parser.add_argument("--concurrency", type=int, default=4,
                        help="closed loop: requests in flight")
    parser.add_argument("--tick-ms", type=float, default=10.0,
                        help="open loop: the records due are sent every this many ms")
    parser.add_argument("--at-rest", choices=["on", "off"], default="on")
    parser.add_argument("--record-proofs", choices=["per-record", "batch"],
                        default="per-record", help="how the provider signs the records")
    parser.add_argument("--timeout", type=float, default=600.0,
                        help="seconds each run may take before the benchmark fails")
    parser.add_argument("--json", type=Path, help="write the figures to this file")
    args = parser.parse_args(argv)
    args.max_records = args.max_records or args.records
    if args.records < 10 or args.max_records < 10 or args.tick_ms <= 0:
        parser.error("--records and --max-records must be at least 10, --tick-ms positive")
    logging.basicConfig(level=logging.WARNING, stream=sys.stderr)
    try:
        result = asyncio.run(run(args))
    except BenchError as exc:
        print(f"bench/latency.py: FAILED: {exc}", file=sys.stderr)
        return 1
    print(f"maximum (closed loop, {args.max_records} records): "
          f"{result['max_records_per_s']:,.0f} records/s")
    for fraction, figures in result["rates"].items():
        print(f"{float(fraction):>5.0%} = {figures['offered_per_s']:>8,.0f}/s offered, "
              f"{figures['delivered_per_s'] or 0:>8,.0f}/s delivered: p50 "
              f"{figures['p50_ms']:.1f} ms, p99 {figures['p99_ms']:.1f} ms, max "
              f"{figures['max_ms']:.1f} ms")
    for role in ("provider", "consumer"):
        gc_ = result[f"{role}_gc"]
        print(f"{role} garbage collector: longest pause {gc_.get('gen2_max_ms', 0):.1f} ms "
              f"(full), {gc_.get('gen1_max_ms', 0):.1f} ms (gen 1); "
              f"{gc_.get('gen2_collections', 0):.0f} full collections")
    ok = result["floors"]["p99_at_50_ok"]
    print(f"floor p99 <= {FLOOR_P99_MS:.0f} ms at 50 %: "
          f"{'not run' if ok is None else 'met' if ok else 'NOT met'} "
          f"(load average {result['load_avg_start'][0]:.2f} -> "
          f"{result['load_avg_end'][0]:.2f}; {IDLE_NOTE})")
    if args.json:
        write_json(args.json, result)
    return 0 if ok is not False else 1


if __name__ == "__main__":
    sys.exit(main())
