"""Records held under an agreement, without running a provider: for tests of what reads them.

``hold`` stores a record exactly as the pull loop does (through ``UsageGate.admit``, in one
transaction), under an agreement this connector holds as consumer; ``agreement`` makes that
agreement (signed by a throwaway provider key) if it does not exist yet, with an offer that
permits ``use`` for the purposes given (any purpose when none is given).
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import orjson

from connector.protocol import agreements
from connector.protocol.dsp import messages as m
from connector.runtime.connector import Connector
from trust.keys import KeyPair

PROVIDER_KEY = KeyPair.generate()


def permissive_offer(offer_id: str, *purposes: str, duties: list[dict[str, Any]] | None = None,
                     constraints: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    found = list(constraints or [])
    if purposes:
        found.append(m.constraint("odrl:purpose", "isAnyOf", list(purposes)))
    rule = m.rule("use", found)
    if duties:
        rule["duty"] = duties
    return m.offer(offer_id, permission=[rule])


def agreement(connector: Connector, agreement_id: str, dataset_id: str, *purposes: str,
              offer: dict[str, Any] | None = None, status: str = "active",
              provider: str | None = None) -> str:
    """The consumer-side agreement ``agreement_id`` (made once; later calls change nothing)."""
    if connector.agreements.get(agreement_id) is not None:
        return agreement_id
    now = datetime.now(UTC)
    terms = offer or permissive_offer(f"{agreement_id}:offer", *purposes)
    built = agreements.build(terms, agreement_id=agreement_id, dataset_id=dataset_id,
                             provider=provider or PROVIDER_KEY.did, consumer=connector.did,
                             at=now)
    signed = agreements.sign(built, PROVIDER_KEY)
    with connector.store.transaction() as db:
        agreements.insert(db, agreement=signed, role="consumer", status=status, extra={},
                          now=now)
    connector.gate.changed()
    return agreement_id


def hold(connector: Connector, record: dict[str, Any], *, dataset_id: str,
         agreement_id: str, event: str | None = None, purposes: tuple[str, ...] = (),
         provider: str | None = None, notify: bool = True) -> int:
    """Store ``record`` as received under ``agreement_id`` (made if new) and wake streams;
    its delivery's sequence number (the event stream's cursor)."""
    agreement(connector, agreement_id, dataset_id, *purposes, provider=provider)
    version = record.get("version", 1)
    kind = event or ("created" if version == 1 else "updated")
    with connector.store.transaction() as db:
        connector.gate.admit(db, agreement_id=agreement_id, dataset_id=dataset_id,
                             provider=provider or PROVIDER_KEY.did,
                             transfer_pid="urn:uuid:test-transfer",
                             accepted=[(record, kind, orjson.dumps(record))], refused=[],
                             now=datetime.now(UTC))
    if notify:
        connector.gate.feed.notify()
    return int(connector.store.query("SELECT max(seq) FROM deliveries")[0][0] or 0)
