"""Benchmark: what encryption at rest (SQLCipher) costs a connector store, against the same
store in plain SQLite, measured in the same run.

Workloads, each on a fresh store file through ``connector.store.database.Store`` (WAL,
``synchronous=FULL``, ``secure_delete``: as the connector runs it), plain and encrypted in
alternation, ``--rounds`` times, medians reported:

- ``commit_each``: one transaction per record (a record row, its version body and an audit
  line), as a single publish through the app API commits;
- ``batch``: ``--batch`` records per transaction, as a batch publish or a pulled batch does;
- ``read``: every body read back by id, in random order (the usage gate's reads);
- ``open``: opening the store (the key check and schema read).

Bodies are ~700 bytes of JSON, the size of the stream bench's signed records.

    .venv/bin/python bench/at_rest.py --records 5000 --json out.json
"""

from __future__ import annotations

import argparse
import json
import random
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import orjson

from connector.store.database import Store
from trust.at_rest import AtRestKey, generate_key

SCHEMA = """
CREATE TABLE IF NOT EXISTS bench_records (id TEXT PRIMARY KEY, version INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS bench_versions (id TEXT NOT NULL, version INTEGER NOT NULL,
    body BLOB NOT NULL, PRIMARY KEY (id, version));
CREATE TABLE IF NOT EXISTS bench_audit (seq INTEGER PRIMARY KEY, line TEXT NOT NULL);
"""


def body(n: int) -> bytes:
    return orjson.dumps({
        "@context": ["https://www.w3.org/ns/credentials/v2"], "id": f"urn:bench:{n}",
        "type": "Record", "name": f"避難所 {n} 山田花子 ヤマダハナコ", "version": 1,
        "description": "x" * 420, "proof": {"type": "DataIntegrityProof",
                                            "proofValue": "z" + "5" * 86}})


def open_store(path: Path, key: bytes | None) -> Store:
    store = Store(path, key)
    store.db.executescript(SCHEMA)
    return store


def write(store: Store, records: int, batch: int, offset: int = 0) -> None:
    for start in range(0, records, batch):
        with store.transaction() as db:
            for n in range(offset + start, offset + min(start + batch, records)):
                db.execute("INSERT INTO bench_records VALUES (?, 1)", (f"urn:bench:{n}",))
                db.execute("INSERT INTO bench_versions VALUES (?, 1, ?)",
                           (f"urn:bench:{n}", body(n)))
                db.execute("INSERT INTO bench_audit (line) VALUES (?)",
                           (f'{{"event":"published","record":"urn:bench:{n}"}}',))


def timed(step: Callable[[], None]) -> float:
    started = time.perf_counter()
    step()
    return time.perf_counter() - started


def one_round(root: Path, key: bytes | None, records: int, batch: int) -> dict[str, float]:
    name = "encrypted" if key else "plain"
    each = open_store(root / f"{name}-each.sqlite", key)
    many = open_store(root / f"{name}-batch.sqlite", key)
    ids = [f"urn:bench:{n}" for n in range(records)]
    random.Random(7).shuffle(ids)
    try:
        commit_each = timed(lambda: write(each, records, 1))
        batched = timed(lambda: write(many, records, batch))

        def read() -> None:
            for record_id in ids:
                many.query("SELECT body FROM bench_versions WHERE id = ?", (record_id,))
        reading = timed(read)
    finally:
        each.close()
        many.close()
    opening = timed(lambda: Store(root / f"{name}-batch.sqlite", key).close())
    return {"commit_each_per_s": records / commit_each, "batch_per_s": records / batched,
            "read_per_s": records / reading, "open_ms": opening * 1000}


def run(records: int, batch: int, rounds: int) -> dict[str, Any]:
    key = AtRestKey(generate_key()).store_key
    results: dict[str, list[dict[str, float]]] = {"plain": [], "encrypted": []}
    for n in range(rounds):
        # Alternate which goes first, so neither always gets the warmer page cache.
        order = [("plain", None), ("encrypted", key)]
        for name, store_key in (order if n % 2 == 0 else order[::-1]):
            with tempfile.TemporaryDirectory(prefix="tsunagu-at-rest-") as tmp:
                results[name].append(one_round(Path(tmp), store_key, records, batch))
    summary: dict[str, Any] = {"records": records, "batch": batch, "rounds": rounds}
    for name, runs in results.items():
        summary[name] = {metric: statistics.median(r[metric] for r in runs)
                         for metric in runs[0]}
    summary["ratio_encrypted_to_plain"] = {
        metric: summary["encrypted"][metric] / summary["plain"][metric]
        for metric in summary["plain"]}
    return summary


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--records", type=int, default=5000)
    parser.add_argument("--batch", type=int, default=500)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--json", type=Path, help="write the figures to this file")
    args = parser.parse_args()
    if args.records < 1 or args.batch < 1 or args.rounds < 1:
        parser.error("--records, --batch and --rounds must be at least 1")
    summary = run(args.records, args.batch, args.rounds)
    for name in ("plain", "encrypted"):
        s = summary[name]
        print(f"{name:9}  commit each {s['commit_each_per_s']:8,.0f}/s  batch "
              f"{s['batch_per_s']:8,.0f}/s  read {s['read_per_s']:8,.0f}/s  open "
              f"{s['open_ms']:.2f} ms")
    ratios = summary["ratio_encrypted_to_plain"]
    print("encrypted / plain: " + ", ".join(f"{k} {v:.2f}" for k, v in ratios.items()))
    if args.json:
        args.json.write_text(json.dumps(summary, indent=2) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
