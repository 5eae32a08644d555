"""Benchmark: end-to-end record streaming through two connectors, against raw JetStream.

One run, one authority running the data space's nats-server in operator mode (each connector
logs in with its own NATS user and reads the other's data through the stream grant of its
agreement, as deployed), two connectors, each with every data-exchange service and its app
API on 127.0.0.1 (port 0):

1. negotiation to FINALIZED, ``--negotiations`` times (consumer service call -> FINALIZED seen
   in the consumer's store, polled every 1 ms): p50 / p90;
2. a transfer is started; the consumer *app* subscribes with the SDK (SSE ``/events``); the
   provider *app* publishes N records through the provider's app API (``POST
   /api/datasets/{id}/records:batch`` in batches of ``--batch``, or one ``POST .../records``
   per record with ``--mode single``). Each record carries its send time (``perf_counter_ns``
   when the app handed it over) in ``description``; latency = receive time in the consumer
   app - send time; throughput = N / (last receive - first send);
3. the raw nats-py JetStream baseline (bench/baseline_jetstream.py: publish_async, then pull
   fetch + ack) with payloads of the same size as the signed records on the wire.

Prints a summary and the ratio records_per_s / baseline_fetch_per_s; ``--json PATH`` writes
every figure (and machine, N, payload bytes, git commit). Exits 1 with a reason when any step
does not finish within its time bound (``--timeout`` for the streaming step).

    /work/venv/bin/python bench/stream.py --records 20000 --json out.json
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import nats
import orjson

from authority.space import AuthorityNats, save_creds
from authority.state import Authority
from bench.baseline_jetstream import baseline
from bench.cpu import cpu_seconds, us_per_item
from bench.pipeline import (
    DATASET,
    OFFER,
    PURPOSE,
    SCHEMA,
    BenchError,
    Endpoint,
    Receiver,
    check_counts,
    closed_loop,
    deployed,
    percentile,
)
from connector.api.app import OPENAPI_PATH, ApiServer
from connector.api.tokens import TokenStore
from connector.bus.server import EmbeddedNatsServer
from connector.cli.store_key import store_key_for
from connector.data.datasets import DatasetService
from connector.runtime.config import ConnectorConfig
from connector.runtime.connector import Connector, Tuning
from trust.at_rest import generate_key, write_key_file
from trust.keys import KeyPair, save_key
from trust.sealing import ContentKey, bound_to, open_sealed, seal
from trust.status_list import StatusListCache

ROOT = Path(__file__).resolve().parents[1]
FLOOR_RATIO = 0.35  # issue 17: 0.35 the floor, 0.5 the target
FLOOR_NEGOTIATION_MS = 50.0

log = logging.getLogger("bench.stream")


async def participant(root: Path, authority: Authority, space: AuthorityNats, *, name: str,
                      legal_id: str, role: str, at_rest: bool = True) -> ConnectorConfig:
    folder = root / f"participant-{legal_id}"
    key_file = root / f"{legal_id}.at-rest.key"
    if at_rest:
        write_key_file(key_file, generate_key())
    key = KeyPair.generate()
    save_key(key, folder / "participant.pem")
    issued = authority.issue(did=key.did, name=name, legal_id=legal_id, roles=[role])
    (folder / "credential.jwt").write_text(issued.jwt, encoding="ascii")
    save_creds(folder / "nats.creds", await space.onboard(key.did))
    return ConnectorConfig.model_validate({
        "participant": {"name": name, "data_dir": str(folder)},
        "authority": {"dids": [authority.did]},
        "nats": {"urls": [space.url], "credentials_file": str(folder / "nats.creds"),
                 "reconnect_time_wait": 0.1},
        "api": {"host": "127.0.0.1", "port": 0},
        **({"at_rest": {"key": f"file:{key_file}"}} if at_rest else {}),
    })


async def start_connector(config: ConnectorConfig, authority: Authority
                          ) -> tuple[Connector, DatasetService, ApiServer, str]:
    cache = StatusListCache([authority.did])
    cache.add(authority.status_list_jwt())
    connector = Connector(config, tuning=Tuning(negotiation_retry_s=0.5, transfer_retry_s=0.5),
                          status_lists=cache, api=True,
                          api_options={"heartbeat": 15.0, "poll_interval": 2.0})
    await connector.start()
    token = TokenStore(connector.store).issue(["admin"], days=1).token
    assert connector.api is not None
    return connector, connector.datasets, connector.api, token


async def negotiations(consumer: Connector, provider_did: str, runs: int) -> list[float]:
    """Milliseconds from the consumer starting a negotiation to FINALIZED in its store."""
    took: list[float] = []
    for _ in range(runs):
        began = time.perf_counter()
        started = await consumer.negotiations.start(provider_did, DATASET, OFFER["@id"],
                                                    purpose=PURPOSE)
        async with asyncio.timeout(10):
            while (view := consumer.negotiations.get(started["pid"]))["state"] not in (
                    "FINALIZED", "TERMINATED"):
                await asyncio.sleep(0.001)
        if view["state"] != "FINALIZED":
            raise BenchError(f"negotiation ended {view['state']}: {view.get('code')}")
        took.append((time.perf_counter() - began) * 1000)
    return took


def has_batch_route() -> bool:
    paths = orjson.loads(OPENAPI_PATH.read_bytes())["paths"]
    return "/api/v1/datasets/{dataset}/records:batch" in paths


def git_commit() -> str | None:
    try:
        out = subprocess.run(["git", "rev-parse", "HEAD"], cwd=ROOT, capture_output=True,
                             text=True, timeout=5, check=True).stdout.strip()
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"],
                               cwd=ROOT, capture_output=True, text=True, timeout=5).stdout
        return out + ("+dirty" if dirty.strip() else "")
    except (OSError, subprocess.SubprocessError):
        return None


def write_json(path: Path, result: dict[str, Any]) -> None:
    """The figures of a run, as the JSON file ``--json`` names (UTF-8, Japanese kept)."""
    path.write_text(json.dumps(result, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")


def machine() -> dict[str, Any]:
    model = None
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return {"python": platform.python_version(), "platform": platform.platform(),
            "cpus": os.cpu_count(), "cpu_model": model}


async def stream(args: argparse.Namespace, mode: str, provider: Endpoint,
                 consumer: Endpoint) -> dict[str, Any]:
    """Step 2: the provider app publishes, the consumer app subscribes."""
    async with Receiver(consumer) as receiver:
        return await closed_loop(receiver, provider, records=args.records, mode=mode,
                                 batch=args.batch, concurrency=args.concurrency,
                                 timeout=args.timeout)


async def in_process(args: argparse.Namespace, mode: str, root: Path) -> dict[str, Any]:
    """Both connectors in this process (one event loop, one GIL)."""
    result: dict[str, Any] = {}
    running: list[Connector] = []
    authority = Authority.init(root / "authority", name="bench authority")
    space = AuthorityNats(authority)
    await space.start(store_dir=root / "space-nats")
    try:
        prov_cfg = await participant(root, authority, space, name="仙台市",
                                     legal_id="041009", role="municipality",
                                     at_rest=args.at_rest == "on")
        cons_cfg = await participant(root, authority, space, name="避難所運営",
                                     legal_id="7000012050002", role="shelter_operator",
                                     at_rest=args.at_rest == "on")
        provider, datasets, prov_api, prov_token = await start_connector(prov_cfg, authority)
        running.append(provider)
        consumer, _, cons_api, cons_token = await start_connector(cons_cfg, authority)
        running.append(consumer)
        await datasets.offer_dataset(DATASET, "指定避難所", [OFFER], SCHEMA,
                                     record_proofs=args.record_proofs)

        took = await negotiations(consumer, provider.did, args.negotiations)
        result.update(negotiation_stats(took))
        agreement_id = consumer.negotiations.list()[-1]["agreementId"]
        transfer = await consumer.transfers.start(agreement_id)
        started = await consumer.transfers.wait(transfer["pid"], "STARTED", timeout=10)
        if started["state"] != "STARTED":
            raise BenchError(f"transfer is {started['state']}, not STARTED")
        result.update(await stream(args, mode, (f"http://127.0.0.1:{prov_api.port}", prov_token),
                                   (f"http://127.0.0.1:{cons_api.port}", cons_token)))
        check_counts(consumer.store.path, args.records, consumer.store_key)
    finally:
        for connector in reversed(running):
            try:
                await connector.stop()
            except Exception:
                log.exception("connector stop failed")
        await space.close()
    return result


async def in_processes(args: argparse.Namespace, mode: str, root: Path) -> dict[str, Any]:
    """Each connector its own ``tsunagu connector run`` process, as participants run them;
    the authority serves its status list and runs the nats-server from a third
    (bench/pipeline.py over tests/e2e/processes.py)."""
    result: dict[str, Any] = {}
    async with deployed(root, at_rest=args.at_rest == "on", negotiations=args.negotiations,
                        record_proofs=args.record_proofs) as space:
        result.update(negotiation_stats(space.negotiation_ms))
        consumer = space.consumers[0]
        pids = {"provider": space.provider.process.proc.pid,
                "consumer": consumer.process.proc.pid}
        before = {role: cpu_seconds(pid) for role, pid in pids.items()}
        result.update(await stream(args, mode, space.endpoint(space.provider),
                                   space.endpoint(consumer)))
        for role, pid in pids.items():  # CPU per record in each connector process
            result[f"{role}_cpu_us_per_record"] = us_per_item(before[role], cpu_seconds(pid),
                                                              args.records)
        store = consumer.directory / "connector.sqlite"
        check_counts(store, args.records, store_key_for(store, None))  # the key init made
    return result


def negotiation_stats(took: list[float]) -> dict[str, Any]:
    return dict(negotiation_runs=len(took), negotiation_p50_ms=statistics.median(took),
                negotiation_p90_ms=percentile(took, 90), negotiation_max_ms=max(took))


async def run(args: argparse.Namespace) -> dict[str, Any]:
    mode = args.mode
    if mode == "auto":
        mode = "batch" if has_batch_route() else "single"
    result: dict[str, Any] = {"records": args.records, "mode": mode,
                              "at_rest": args.at_rest, "record_proofs": args.record_proofs,
                              "batch": args.batch if mode == "batch" else 1,
                              "concurrency": args.concurrency, "topology": args.topology}
    with tempfile.TemporaryDirectory(prefix="tsunagu-bench-") as tmp:
        root = Path(tmp)
        steps = in_processes if args.topology == "processes" else in_process
        result.update(await steps(args, mode, root))
        # 3. the raw baseline: a server of its own without auth, same payload size
        server = EmbeddedNatsServer(root / "nats")
        await server.start()
        try:
            nc = await nats.connect(server.url)
            try:
                result.update(await baseline(nc, records=args.records,
                                             payload_size=result["payload_bytes"]))
            finally:
                await nc.close()
        finally:
            await server.stop()
    result["ratio"] = result["records_per_s"] / result["baseline_fetch_per_s"]
    result.update(sealing_cost(result["payload_bytes"], args.records))
    result["floors"] = {
        "ratio_min": FLOOR_RATIO, "ratio_ok": result["ratio"] >= FLOOR_RATIO,
        "negotiation_p50_max_ms": FLOOR_NEGOTIATION_MS,
        "negotiation_ok": result["negotiation_p50_ms"] < FLOOR_NEGOTIATION_MS}
    result.update(machine=machine(), git_commit=git_commit(),
                  at=datetime.now(UTC).isoformat(timespec="seconds"))
    return result


def sealing_cost(payload_bytes: int, records: int) -> dict[str, float]:
    """What sealing adds per record (trust.sealing), measured alone on this machine: the
    provider seals each message, the consumer opens it (XChaCha20-Poly1305, one content key
    per stream epoch; the key exchange happens once per epoch and is not per record)."""
    key, payload = ContentKey.generate(), os.urandom(payload_bytes)
    context = bound_to("tsunagu.data.provider.dataset.created", "urn:bench:record@1")
    started = time.perf_counter()
    sealed = [seal(key, payload, context=context) for _ in range(records)]
    sealed_at = time.perf_counter()
    for item in sealed:
        open_sealed(key, item, context=context)
    opened_at = time.perf_counter()
    return {"seal_us_per_record": round((sealed_at - started) / records * 1e6, 2),
            "open_us_per_record": round((opened_at - sealed_at) / records * 1e6, 2),
            "sealed_bytes_overhead": len(sealed[0]) - payload_bytes}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--records", type=int, default=20_000)
    parser.add_argument("--json", type=Path, help="write the figures to this file")
    parser.add_argument("--negotiations", type=int, default=20,
                        help="negotiations to FINALIZED to time (p50)")
    parser.add_argument("--mode", choices=["auto", "batch", "single"], default="auto",
                        help="batch route if the API has it (auto), or one POST per record")
    parser.add_argument("--batch", type=int, default=500, help="records per batch request")
    parser.add_argument("--concurrency", type=int, default=4,
                        help="app requests in flight at once")
    parser.add_argument("--topology", choices=["processes", "in-process"], default="processes",
                        help="each connector its own process (as deployed), or both in this "
                             "one")
    parser.add_argument("--at-rest", choices=["on", "off"], default="on",
                        help="stores and keys encrypted at rest (on, as `connector init` sets "
                             "up) or plain (`init --plain-at-rest`), to measure what it costs")
    parser.add_argument("--record-proofs", choices=["per-record", "batch"],
                        default="per-record", help="how the provider signs the records "
                        "(trust.batch_proofs for batch)")
    parser.add_argument("--timeout", type=float, default=600.0,
                        help="seconds the streaming step may take before it fails")
    args = parser.parse_args()
    if args.records < 1 or args.negotiations < 1:
        parser.error("--records and --negotiations must be at least 1")
    logging.basicConfig(level=logging.WARNING, stream=sys.stderr)
    try:
        result = asyncio.run(run(args))
    except BenchError as exc:
        print(f"bench/stream.py: FAILED: {exc}", file=sys.stderr)
        return 1
    print(f"end to end ({result['mode']}, {result['topology']}): {result['records']} records of "
          f"{result['payload_bytes']} B in {result['elapsed_s']:.2f}s = "
          f"{result['records_per_s']:,.0f} records/s; latency p50 {result['p50_ms']:.1f} ms, "
          f"p99 {result['p99_ms']:.1f} ms")
    print(f"raw JetStream: publish_async {result['baseline_publish_per_s']:,.0f}/s, "
          f"pull fetch {result['baseline_fetch_per_s']:,.0f}/s")
    print(f"ratio end-to-end / pull fetch = {result['ratio']:.3f} (floor {FLOOR_RATIO}: "
          f"{'met' if result['floors']['ratio_ok'] else 'NOT met'})")
    print(f"sealing per record: seal {result['seal_us_per_record']} us, open "
          f"{result['open_us_per_record']} us, +{result['sealed_bytes_overhead']} B")
    print(f"negotiation to FINALIZED p50 {result['negotiation_p50_ms']:.1f} ms over "
          f"{result['negotiation_runs']} runs (floor < {FLOOR_NEGOTIATION_MS:.0f} ms: "
          f"{'met' if result['floors']['negotiation_ok'] else 'NOT met'})")
    if args.json:
        write_json(args.json, result)
    return 0


if __name__ == "__main__":
    sys.exit(main())
