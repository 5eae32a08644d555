"""What a consumer does with the records of a transfer, whichever way they came: NATS
(connector.data.pull) or the HTTPS pull data plane (connector.dsp_http.pull).

Per batch: the provider's credential still valid (checked at most every ``credential_ttl``
seconds) and the agreement permitting ``read`` now (once per batch: the clock, claims and
agreement are the same for every record in it). Per record: JSON with an id and an integer
version -> proof by the provider (eddsa-jcs-2022; signed by a key not known yet: the
authority's key history is fetched once before anything is refused) -> the domains' content
rules. Then the batch through the usage gate in one transaction (connector.control.gate:
held records, deliveries, dead letters, one audit line); refusals counted, and those refused
after their proof verified reported to the provider (connector.data.refusals).
"""

from __future__ import annotations

import abc
import asyncio
import contextlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any, TypeVar

import orjson

from connector.data import refusals
from connector.errors import ConnectorCode
from connector.protocol import agreements
from trust.batch_proofs import VerifiedRoots
from trust.errors import TrustCode, TsunaguError
from trust.proofs import RECORD_SUITES, verify_document

if TYPE_CHECKING:
    from connector.runtime.connector import Connector

T = TypeVar("T")
DELIVERED = "tsunagu_deliveries_total"
DEAD = "tsunagu_dead_letters_total"


@dataclass(frozen=True, slots=True)
class Opened:
    """A received record as checked: parsed, and the plaintext bytes it was read from."""

    record: dict[str, Any]
    data: bytes


class RecordRefused(TsunaguError):
    code = ConnectorCode.RECORD_REFUSED


class Refused(TsunaguError):
    """A record refused after its proof verified: its provider is told (connector.refusals)."""

    def __init__(self, cause: TsunaguError, record_id: str, version: int) -> None:
        super().__init__(cause.message, code=cause.code, **cause.details)
        self.record_id, self.version = record_id, version


def key_unknown(result: object) -> bool:
    """Signed by a key this connector may not know yet (not: one it knows rotated out)."""
    if not isinstance(result, TsunaguError):
        return False
    return result.code == TrustCode.KEY_HISTORY_UNKNOWN or (
        result.code == TrustCode.PROOF_WRONG_SIGNER and "key" in result.details)


class LoopTask(abc.ABC):
    """A transfer's pull loop as a task: ``_run`` until ``stop`` (both bindings' loops)."""

    receiver: Receiver
    _stopping = False
    _task: asyncio.Task[None] | None = None

    @abc.abstractmethod
    async def _run(self) -> None:
        """The binding's loop: fetch, ``receiver`` checks and stores, until stopped."""

    @property
    def done(self) -> bool:
        """The loop has ended (stopped, or a finite transfer is complete)."""
        return self._task is not None and self._task.done()

    def start(self, name: str) -> None:
        self._task = asyncio.get_running_loop().create_task(self._run(), name=name)

    async def stop(self, timeout: float = 5.0) -> None:
        """Finish the batch in hand (so nothing is left half done), then stop."""
        self._stopping = True
        self.receiver.cancel_notices()
        if self._task is None:
            return
        try:
            await asyncio.wait_for(asyncio.shield(self._task), timeout)
        except TimeoutError:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task


class Receiver:
    """One transfer's checks and store, shared by the bindings' pull loops."""

    def __init__(self, connector: Connector, *, transfer_pid: str, agreement: dict[str, Any],
                 credential_ttl: float = 30.0) -> None:
        self.connector = connector
        self.transfer_pid = transfer_pid
        self.agreement = agreement
        self.provider = agreement["provider"]
        self.credential_ttl = credential_ttl
        document = agreement["document"]["signedAgreement"]
        self.dataset_id = agreement["datasetId"]
        self.purpose = agreement.get("purpose")
        self.policy = agreements.parse(document, ignore_purpose=self.purpose is None,
                                       ignore_fields=True)
        self.agreed_at = agreements.agreement_time(document)
        own = connector.checker.check(connector.identity.credential, connector.did)
        self.claims = agreements.Claims.of(own)
        self._credential_checked: tuple[float, TsunaguError | None] | None = None
        self._notices: set[asyncio.Task[None]] = set()  # refusal notices in flight
        # Batch proofs (trust.batch_proofs): one signature check per provider batch.
        self._verified_roots = VerifiedRoots()
        connector.metrics.describe(DELIVERED, "records stored by the consumer, per dataset")
        connector.metrics.inc(DELIVERED, 0, dataset=self.dataset_id)  # the series exists

    def cancel_notices(self) -> None:
        for notice in list(self._notices):  # best effort: the dead letters stay
            notice.cancel()

    # --- the batch ---------------------------------------------------------------------------

    def batch_verdict(self, now: datetime) -> TsunaguError | None:
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
                             code=ConnectorCode.USAGE_DENIED)

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

    # --- each record -------------------------------------------------------------------------

    def check(self, data: bytes) -> Opened:
        """The record in ``data`` as checked, or the reason it is refused (raised)."""
        try:
            record = orjson.loads(data)
        except orjson.JSONDecodeError:
            raise RecordRefused("record is not JSON", code=ConnectorCode.RECORD_MALFORMED) from None
        if not isinstance(record, dict) or not isinstance(record.get("id"), str) \
                or not isinstance(record.get("version"), int):
            raise RecordRefused("record has no id and integer version",
                                code=ConnectorCode.RECORD_MALFORMED)
        verify_document(record, expected_controller=self.provider,
                        key_check=self.connector.checker.keys.check_proof,
                        suites=RECORD_SUITES, verified_roots=self._verified_roots)
        try:
            self.connector.content_rules.check(record)
        except TsunaguError as exc:
            raise Refused(exc, record["id"], record["version"]) from None
        return Opened(record, data)

    async def check_all(self, items: Sequence[T], open_: Callable[[T], bytes]
                        ) -> list[Opened | TsunaguError]:
        """``check`` of each item's bytes (``open_``: e.g. unsealing; its error refuses the
        item), off the event loop: Ed25519 and the AEAD release the GIL. Keys not known yet:
        one key-history fetch, then again."""
        checked = await asyncio.to_thread(self._check_each, items, open_)
        unknown = [str(r.details.get("key", "")) for r in checked
                   if isinstance(r, TsunaguError) and key_unknown(r)]
        if unknown and await self.connector.checker.keys.refresh(unknown=unknown):
            checked = await asyncio.to_thread(self._check_each, items, open_)
        return checked

    def _check_each(self, items: Sequence[T], open_: Callable[[T], bytes]
                    ) -> list[Opened | TsunaguError]:
        results: list[Opened | TsunaguError] = []
        for item in items:
            try:
                results.append(self.check(open_(item)))
            except TsunaguError as exc:
                results.append(exc)
        return results

    # --- storing -----------------------------------------------------------------------------

    def store(self, accepted: list[tuple[Opened, str]], refused: list[tuple[int, TsunaguError]],
              now: datetime) -> int:
        """The batch through the usage gate, in one transaction (connector.control.gate);
        ``accepted``: (record, event); ``refused``: (position in the provider's stream,
        why)."""
        c = self.connector
        with c.store.transaction() as db:
            return c.gate.admit(
                db, agreement_id=self.agreement["id"], dataset_id=self.dataset_id,
                provider=self.provider, transfer_pid=self.transfer_pid,
                accepted=[(opened.record, event, opened.data) for opened, event in accepted],
                refused=refused, now=now)

    def stored(self, delivered: int, refused: list[TsunaguError]) -> None:
        """After the commit: metrics, open event streams, the provider told of refusals."""
        m = self.connector.metrics
        if delivered:
            m.inc(DELIVERED, delivered, dataset=self.dataset_id)
            self.connector.gate.feed.notify()  # open event streams read on
        for exc in refused:
            m.inc(DEAD, code=exc.code)
        notices = [refusals.notice(self.agreement["id"], exc.record_id, exc.version, exc)
                   for exc in refused if isinstance(exc, Refused)]
        if notices:
            task = asyncio.get_running_loop().create_task(
                refusals.tell_provider(self.connector, self.provider, notices))
            self._notices.add(task)
            task.add_done_callback(self._notices.discard)
