"""The consumer's pull loop: fetch a batch, check each record, store, then ack.

Per record: JSON -> proof by the provider (eddsa-jcs-2022) -> provider credential still valid
(checked at most every ``credential_ttl`` seconds) -> agreement permits ``read`` now (decided
once per batch: the clock, claims and agreement are the same for every record in it).
Refused records go to ``dead_letters`` with code and reason, and are acked: one bad record
must not stop the stream. Accepted ones enter ``held_records`` and ``deliveries`` with INSERT
OR IGNORE in one transaction per batch, then each message is double-acked. A crash between
commit and ack only causes a redelivery, which the unique (record id, version) ignores:
exactly once at the app.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import nats.errors
import orjson
from nats.aio.msg import Msg

from connector import agreements
from trust.errors import TsunaguError
from trust.proofs import verify_document

if TYPE_CHECKING:
    from connector.runtime import Connector

log = logging.getLogger(__name__)

DELIVERED = "tsunagu_deliveries_total"
DEAD = "tsunagu_dead_letters_total"


class RecordRefused(TsunaguError):
    code = "record.refused"


def endpoint_properties(address: dict[str, Any]) -> dict[str, str]:
    return {p["name"]: p["value"] for p in address.get("endpointProperties", [])}


class PullLoop:
    """Reads one transfer's durable consumer until stopped."""

    def __init__(self, connector: Connector, *, transfer_pid: str, agreement: dict[str, Any],
                 address: dict[str, Any], batch: int = 256, fetch_timeout: float = 0.5,
                 credential_ttl: float = 30.0) -> None:
        self.connector = connector
        self.transfer_pid = transfer_pid
        self.agreement = agreement
        props = endpoint_properties(address)
        self.stream, self.durable = props["stream"], props["consumer"]
        self.batch, self.fetch_timeout, self.credential_ttl = batch, fetch_timeout, credential_ttl
        document = agreement["document"]["signedAgreement"]
        self.provider = agreement["provider"]
        self.dataset_id = agreement["datasetId"]
        self.purpose = agreement.get("purpose")
        self.policy = agreements.parse(document, ignore_purpose=self.purpose is None)
        self.agreed_at = agreements.agreement_time(document)
        own = connector.checker.check(connector.identity.credential, connector.did)
        self.claims = agreements.Claims.of(own)
        self._credential_checked: tuple[float, TsunaguError | None] | None = None
        self._stopping = False
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self._task = asyncio.get_running_loop().create_task(self._run(),
                                                            name=f"pull {self.durable}")

    async def stop(self, timeout: float = 5.0) -> None:
        """Finish the batch in hand (so nothing waits for ack_wait), then stop."""
        self._stopping = True
        if self._task is None:
            return
        try:
            await asyncio.wait_for(asyncio.shield(self._task), timeout)
        except TimeoutError:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    async def _run(self) -> None:
        sub = None
        while not self._stopping:
            try:
                if sub is None:
                    sub = await self.connector.js.pull_subscribe_bind(durable=self.durable,
                                                                      stream=self.stream)
                msgs = await sub.fetch(self.batch, timeout=self.fetch_timeout)
            except (TimeoutError, nats.errors.TimeoutError):
                continue
            except Exception as exc:  # NATS away, consumer gone: keep trying, never die
                log.warning("pull failed, retrying", extra={"transfer": self.transfer_pid,
                                                            "error": type(exc).__name__})
                await asyncio.sleep(0.5)
                continue
            try:
                await self.handle(msgs)
            except Exception:
                log.exception("batch not stored; it will be redelivered")
                await asyncio.sleep(0.5)
        if sub is not None:
            with contextlib.suppress(Exception):
                await sub.unsubscribe()

    async def handle(self, msgs: list[Msg]) -> None:
        now = datetime.now(UTC)
        verdict = self._batch_verdict(now)
        accepted: list[tuple[Msg, dict[str, Any]]] = []
        refused: list[tuple[Msg, TsunaguError]] = []
        if verdict is not None:
            refused = [(msg, verdict) for msg in msgs]
        else:
            # Every record's proof is verified, off the event loop: Ed25519 verification
            # releases the GIL, so it overlaps with the loop's own work on another core.
            checked = await asyncio.to_thread(self._check_all, msgs)
            for msg, result in zip(msgs, checked, strict=True):
                if isinstance(result, TsunaguError):
                    refused.append((msg, result))
                else:
                    accepted.append((msg, result))
        delivered = self._store(accepted, refused, now)
        await asyncio.gather(*(msg.ack_sync() for msg in msgs))
        m = self.connector.metrics
        if delivered:
            m.inc(DELIVERED, delivered, dataset=self.dataset_id)
            hook = getattr(self.connector, "notify_deliveries", None)
            if callable(hook):
                hook()
        for _, exc in refused:
            m.inc(DEAD, code=exc.code)

    def _batch_verdict(self, now: datetime) -> TsunaguError | None:
        """Why no record of this batch may be taken (credential, agreement), or None."""
        try:
            self._check_provider(now)
        except TsunaguError as exc:
            return exc
        decision = agreements.decide(self.policy, self.claims, action="read",
                                     target=self.dataset_id, now=now, purpose=self.purpose,
                                     agreed_at=self.agreed_at,
                                     performed=agreements.CONNECTOR_DUTIES,
                                     facts=self.connector.facts.operands())
        if decision.permitted:
            return None
        where, why = agreements.explain_denial(decision)
        return RecordRefused(f"agreement does not permit receiving now: {where}: {why}",
                             code="usage.denied")

    def _check_provider(self, now: datetime) -> None:
        loop_time = asyncio.get_running_loop().time()
        cached = self._credential_checked
        if cached is None or loop_time - cached[0] > self.credential_ttl:
            error: TsunaguError | None = None
            try:
                self.connector.checker.check(self.agreement.get("providerCredential"),
                                             self.provider, now)
            except TsunaguError as exc:
                error = exc
            self._credential_checked = cached = (loop_time, error)
        if cached[1] is not None:
            raise cached[1]

    def _check_all(self, msgs: list[Msg]) -> list[dict[str, Any] | TsunaguError]:
        """``_check`` of each message, in order: the record, or why it is refused."""
        results: list[dict[str, Any] | TsunaguError] = []
        for msg in msgs:
            try:
                results.append(self._check(msg))
            except TsunaguError as exc:
                results.append(exc)
        return results

    def _check(self, msg: Msg) -> dict[str, Any]:
        try:
            record = orjson.loads(msg.data)
        except orjson.JSONDecodeError:
            raise RecordRefused("record is not JSON", code="record.malformed") from None
        if not isinstance(record, dict) or not isinstance(record.get("id"), str) \
                or not isinstance(record.get("version"), int):
            raise RecordRefused("record has no id and integer version", code="record.malformed")
        verify_document(record, expected_controller=self.provider)
        return record

    def _store(self, accepted: list[tuple[Msg, dict[str, Any]]],
               refused: list[tuple[Msg, TsunaguError]], now: datetime) -> int:
        c, at = self.connector, now.isoformat()
        delivered = 0
        with c.store.transaction() as db:
            for msg, record in accepted:
                event = msg.subject.rsplit(".", 1)[-1]
                db.execute("INSERT OR IGNORE INTO held_records (id, version, agreement_id, "
                           "dataset_id, provider, event, body, received) VALUES "
                           "(?, ?, ?, ?, ?, ?, ?, ?)",
                           (record["id"], record["version"], self.agreement["id"],
                            self.dataset_id, self.provider, event, msg.data, at))
                inserted = db.execute(
                    "INSERT OR IGNORE INTO deliveries (dataset_id, agreement_id, record_id, "
                    "version, event, at) VALUES (?, ?, ?, ?, ?, ?)",
                    (self.dataset_id, self.agreement["id"], record["id"], record["version"],
                     event, at)).rowcount
                if inserted:
                    delivered += 1
                    c.audit.append("delivery", now, record=record["id"],
                                   version=record["version"], agreement=self.agreement["id"],
                                   transfer=self.transfer_pid)
            for msg, exc in refused:
                seq = msg.metadata.sequence.stream
                if db.execute("SELECT 1 FROM dead_letters WHERE transfer_pid = ? AND "
                              "stream_seq = ?", (self.transfer_pid, seq)).fetchone():
                    continue  # a redelivery of a letter already written
                db.execute("INSERT INTO dead_letters (transfer_pid, stream_seq, code, reason, "
                           "at) VALUES (?, ?, ?, ?, ?)",
                           (self.transfer_pid, seq, exc.code, exc.message[:1000], at))
                c.audit.append("dead_letter", now, transfer=self.transfer_pid, stream_seq=seq,
                               code=exc.code)
        return delivered
