"""Erasure of a deleted record's earlier versions: from the store, and from its JetStream stream.

Deleting a record publishes a signed tombstone (connector.records), so consumers learn of the
deletion. Personal data must then be gone, not hidden: the provider's store and its dataset
stream would otherwise keep every earlier version forever, a consumer starting a transfer
later would replay them all, and every consumer would keep what it had received.

Every store runs with ``secure_delete`` and checkpoints its WAL after a committed erasure
(``connector.store.database.Store.erased``), so erased bodies stay neither in free pages nor in WAL
frames.

* In the store, ``erase_in_store`` runs in the tombstone's own transaction: the bodies of the
  earlier versions are replaced by a stub holding only id and version (so the version history
  and the audit chain, which name versions, stay whole).
* At every consumer, the usage gate deletes the earlier versions it holds in the transaction
  that stores the received tombstone (``connector.control.gate.UsageGate.admit``), and an
  earlier version redelivered after the tombstone is not stored again.
* In the stream, the messages of those versions are deleted one by one (``js.delete_msg``),
  by sequence numbers kept from JetStream's publish acks (``record_versions.stream_seq``).
  This is an outbox too: ``msg_erased = 0`` on an erased version is pending work, done by
  ``erase_pending`` after each flush and by the records retry loop while NATS is away, and
  after a crash. A version is erased from the stream only once its tombstone is in the
  stream, so no consumer ever sees a record vanish without its deletion event.

``msg_erased``: 0 pending; 1 not in the stream (deleted now, or never sent); 2 the stream
refuses deletes (made with ``deny_delete`` before erasure existed; see docs/security.md);
3 the sequence is unknown (published before sequences were recorded).
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import nats.errors
from nats.js.errors import APIError

from connector.bus import subjects
from connector.data.record_rows import RecordRows

if TYPE_CHECKING:
    from connector.runtime.connector import Connector

log = logging.getLogger(__name__)

GONE, REFUSED, UNKNOWN_SEQ = 1, 2, 3
# JetStream's error for a message delete that failed: "no message found" (already gone:
# done) or "message delete not permitted" (a deny_delete stream).
_MSG_DELETE_FAILED = 10057
# "sequence N not found": the sequence is outside the stream's range (its first messages
# were deleted or aged out meanwhile): not in the stream either, so done.
_SEQUENCE_NOT_FOUND = 10043
_BATCH = 500
ERASED = "tsunagu_record_versions_erased_total"


def erase_in_store(db: Any, connector: Connector, record_id: str, tombstone_version: int,
                   at: str) -> int:
    """In the tombstone's transaction: erase the bodies of every earlier version. Versions
    that were never sent are not sent any more (the outbox skips erased rows). Returns how
    many versions were erased; audited (identifiers only)."""
    count = RecordRows.erase_before(db, record_id, tombstone_version, at)
    if count:
        connector.audit.append("erasure", record=record_id, versions=count, where="store",
                               before=tombstone_version)
        connector.store.erased()
    return count


async def erase_pending(connector: Connector) -> int:
    """Delete the stream messages of erased versions; stop at the first NATS failure (the
    rest stays pending for the next call). Returns how many messages were deleted."""
    c, deleted = connector, 0
    while True:
        rows = connector.records.rows.to_erase_from_streams(_BATCH)
        if not rows:
            return deleted
        for row in rows:
            record_id, version, seq, dataset_id = (row.record_id, row.version, row.stream_seq,
                                                   row.dataset_id)
            outcome = UNKNOWN_SEQ if seq is None else None
            if outcome is None:
                stream = subjects.dataset_stream(c.did, dataset_id)
                try:
                    await c.js.delete_msg(stream, seq)
                    outcome, deleted = GONE, deleted + 1
                except APIError as exc:
                    if exc.err_code not in (_MSG_DELETE_FAILED, _SEQUENCE_NOT_FOUND):
                        raise
                    refused = "not permitted" in (exc.description or "")
                    outcome = REFUSED if refused else GONE
                except (TimeoutError, nats.errors.Error) as exc:
                    log.warning("stream erasure not done yet, kept pending",
                                extra={"record": record_id, "version": version,
                                       "error": type(exc).__name__})
                    return deleted
            _done(c, record_id, version, seq, outcome)


def _done(c: Connector, record_id: str, version: int, seq: int | None, outcome: int) -> None:
    result = {GONE: "deleted", REFUSED: "stream_refuses_deletes",
              UNKNOWN_SEQ: "sequence_unknown"}[outcome]
    with c.store.transaction() as db:
        RecordRows.mark_stream_erasure(db, record_id, version, outcome)
        c.audit.append("erasure", datetime.now(UTC), record=record_id, version=version,
                       where="stream", stream_seq=seq, result=result)
    if outcome == GONE:
        c.metrics.inc(ERASED)
    else:
        log.warning("a deleted record's earlier version could not be erased from its stream",
                    extra={"record": record_id, "version": version, "result": result})
