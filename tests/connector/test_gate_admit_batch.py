"""The usage gate stores a pulled batch with a few statements for the whole batch (issue 17):
the outcome must be what storing its records one by one, in order, gives. A real consumer
connector (its SQLite store on disk, nats-server) and the gate's own ``admit``."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import orjson

from connector.errors import ConnectorCode
from connector.runtime.connector import Connector
from tests.held import PROVIDER_KEY, agreement
from trust.errors import TsunaguError

DATASET = "urn:tsunagu:test:dataset:admit-batch"
AGREEMENT = "urn:uuid:admit-batch-agreement"


def record(record_id: str, version: int) -> dict[str, Any]:
    return {"id": record_id, "version": version, "type": "Thing", "name": f"v{version}"}


def admit(connector: Connector, batch: list[tuple[dict[str, Any], str]],
          refused: list[tuple[int, TsunaguError]] = ()) -> int:
    with connector.store.transaction() as db:
        return connector.gate.admit(
            db, agreement_id=AGREEMENT, dataset_id=DATASET, provider=PROVIDER_KEY.did,
            transfer_pid="urn:uuid:admit-batch-transfer",
            accepted=[(r, event, orjson.dumps(r)) for r, event in batch],
            refused=list(refused), now=datetime.now(UTC))


def held(connector: Connector) -> set[tuple[str, int, str]]:
    return set(connector.store.query("SELECT id, version, event FROM held_records "
                                     "WHERE dataset_id = ?", (DATASET,)))


def delivered(connector: Connector) -> list[tuple[str, int]]:
    return [tuple(r) for r in connector.store.query(
        "SELECT record_id, version FROM deliveries WHERE dataset_id = ? ORDER BY seq",
        (DATASET,))]


async def test_a_batch_is_stored_as_its_records_one_by_one_in_order(consumer) -> None:
    agreement(consumer, AGREEMENT, DATASET)
    a, b, c = "urn:tsunagu:test:a", "urn:tsunagu:test:b", "urn:tsunagu:test:c"
    assert admit(consumer, [(record(a, 1), "created"), (record(c, 4), "deleted")]) == 2

    new = admit(consumer, [
        (record(a, 2), "updated"),   # held, then erased by the deletion after it
        (record(a, 5), "deleted"),   # the tombstone: erases a@1 (earlier batch) and a@2
        (record(a, 3), "updated"),   # arrives after the deletion in the same batch: dropped
        (record(a, 6), "updated"),   # newer than the deletion: a new life, kept
        (record(b, 1), "created"),
        (record(b, 1), "created"),   # the same version twice: delivered once
        (record(c, 2), "updated"),   # below a deletion held from the earlier batch: dropped
    ], refused=[(17, TsunaguError("bad proof", code=ConnectorCode.RECORD_REFUSED))])

    assert new == 4
    assert held(consumer) == {(a, 5, "deleted"), (a, 6, "updated"), (b, 1, "created"),
                              (c, 4, "deleted")}
    assert delivered(consumer) == [(a, 1), (c, 4), (a, 2), (a, 5), (a, 6), (b, 1)]
    erasures = consumer.audit.entries("erasure")
    assert [(e["record"], e["versions"], e["before"]) for e in erasures] == [(a, 2, 5)]
    assert consumer.audit.entries("delivery")[-1]["records"] == 4

    # The same batch again (a redelivery) adds nothing and changes nothing.
    assert admit(consumer, [(record(a, 2), "updated"), (record(b, 1), "created")]) == 0
    assert delivered(consumer)[-1] == (b, 1) and len(delivered(consumer)) == 6
    assert [(d["streamSeq"], d["code"]) for d in consumer.gate.dead_letters()] == [
        (17, "record.refused")]


