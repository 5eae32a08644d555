"""The consumer's pull loop: fetch a batch, check each record, store, then ack.

Per record: opened with the stream's content key of its epoch (trust.sealing; asked of the
provider once per epoch, connector.data.content_keys; an unsealed, altered or moved message is
refused), then what every binding checks (connector.data.receiving): JSON -> proof by the
provider (eddsa-jcs-2022) -> provider credential still valid (checked at most every
``credential_ttl`` seconds) -> agreement permits ``read`` now (decided once per batch: the
clock, claims and agreement are the same for every record in it).
Then the domains' content rules (connector.content_rules: no My Number in free text). Refused
records go to ``dead_letters`` with code and reason (field paths, never values), are acked
(one bad record must not stop the stream), and nothing else of them is stored; a record
refused after its proof verified is reported to its provider (connector.refusals).
Accepted ones enter ``held_records`` and ``deliveries`` with INSERT
OR IGNORE in one transaction per batch, through the usage gate (connector.control.gate:
a tombstone erases the versions held before it, domain plug-ins get what their decision
releases, one audit line per batch), then acked, the last ack confirmed by the server
(``ack_all``). A crash between commit and ack only causes a redelivery, which the unique
(record id, version) ignores: exactly once at the app.

Finite (snapshot) transfers: the data address carries ``snapshotSequence``, the stream's last
sequence for the filter when the provider started. The loop never processes or acks a message
beyond it (and sizes its fetches so it rarely fetches one); once the durable consumer's ack
floor reaches it, every message up to the snapshot is committed (dead letters are acked too)
and ``on_done`` is called once. The ack floor lives on the server, so a restarted loop finds
out where it stands without local bookkeeping.

``tsunagu_stream_lag{transfer}``: messages still waiting for this transfer (the last fetched
message's ``num_pending``; for a snapshot, only those up to the snapshot sequence).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import nats.errors
from nats.aio.msg import Msg

from connector.bus.subjects import api_prefix
from connector.data.content_keys import ContentKeyRefused
from connector.data.lost_deliveries import DeliveryGaps, hand_back
from connector.data.receiving import DEAD, DELIVERED, LoopTask, Receiver, RecordRefused
from connector.errors import ConnectorCode
from connector.protocol.grants import API_PREFIX
from trust.errors import TsunaguError
from trust.sealing import SEAL_HEADER, ContentKey, SealError, bound_to, epoch_of, open_sealed

if TYPE_CHECKING:
    from connector.runtime.connector import Connector

log = logging.getLogger(__name__)

__all__ = ["DEAD", "DELIVERED", "LAG", "SNAPSHOT", "PullLoop", "RecordRefused"]

LAG = "tsunagu_stream_lag"
SNAPSHOT = "snapshotSequence"  # endpoint property of a finite transfer's data address
FETCH_TIMEOUT_S = 0.5  # a long pull's expiry: also the bound on a lost delivery's pause


def endpoint_properties(address: dict[str, Any]) -> dict[str, str]:
    return {p["name"]: p["value"] for p in address.get("endpointProperties", [])}


def snapshot_sequence(address: dict[str, Any]) -> int | None:
    """The last stream sequence a finite transfer covers; None for a streaming transfer."""
    value = endpoint_properties(address).get(SNAPSHOT)
    return None if value is None else int(value)


def within_snapshot(msgs: list[Msg], snapshot: int | None) -> list[Msg]:
    """The messages a transfer may process: all of them, or those up to its snapshot."""
    if snapshot is None:
        return msgs
    return [m for m in msgs if m.metadata.sequence.stream <= snapshot]


async def ack_all(msgs: list[Msg]) -> None:
    """Ack every message with one round trip: plain acks, then the last one confirmed.
    The server handles one connection's messages in order, so its reply to the last ack
    means every earlier ack was processed too (ack_sync per message cost a round trip each)."""
    for msg in msgs[:-1]:
        await msg.ack()
    await msgs[-1].ack_sync()


class PullLoop(LoopTask):
    """Reads one transfer's durable consumer until stopped."""

    def __init__(self, connector: Connector, *, transfer_pid: str, agreement: dict[str, Any],
                 address: dict[str, Any], batch: int = 256, fetch_timeout: float = FETCH_TIMEOUT_S,
                 credential_ttl: float = 30.0,
                 on_done: Callable[[str], None] | None = None) -> None:
        self.connector = connector
        self.transfer_pid = transfer_pid
        self.agreement = agreement
        props = endpoint_properties(address)
        self.stream, self.durable = props["stream"], props["consumer"]
        self.provider = agreement["provider"]
        self.js = self._jetstream(props.get(API_PREFIX))
        self.snapshot, self.on_done = snapshot_sequence(address), on_done
        self._highest = 0  # highest stream sequence seen (sizes snapshot fetches)
        self.batch, self.fetch_timeout = batch, fetch_timeout
        self.receiver = Receiver(connector, transfer_pid=transfer_pid, agreement=agreement,
                                 credential_ttl=credential_ttl)
        self.dataset_id = self.receiver.dataset_id
        self._gaps = DeliveryGaps()  # deliveries lost to an account update (lost_deliveries)
        connector.metrics.describe(LAG, "messages waiting to be delivered, per transfer")

    def _jetstream(self, prefix: str | None) -> Any:
        """The connector's own JetStream (one server, no isolation), or, in operator mode,
        the provider's consumer as the authority's grant imported it into our account."""
        if prefix is None:
            return self.connector.js
        if prefix != api_prefix(self.provider):  # only ever our own import of this provider
            raise RecordRefused("the data address names another provider's JetStream",
                                code=ConnectorCode.TRANSFER_BAD_ADDRESS)
        return self.connector.nc.jetstream(prefix=prefix)

    def start(self) -> None:  # type: ignore[override]
        super().start(f"pull {self.durable}")

    async def _run(self) -> None:
        sub = None
        check = True  # is the snapshot perhaps complete? (at start, after idle or its end)
        unstored = False  # a batch failed: it waits for ack_wait, not for a NAK loop
        while not self._stopping:
            try:
                if sub is None:
                    sub = await self.js.pull_subscribe_bind(durable=self.durable,
                                                            stream=self.stream)
                if check and await self._snapshot_committed(sub):
                    self._set_lag(0)
                    if self.on_done is not None:
                        self.on_done(self.transfer_pid)
                    break
                check = False
                msgs = await sub.fetch(self._fetch_size(), timeout=self.fetch_timeout)
            except (TimeoutError, nats.errors.TimeoutError):
                self._set_lag(0)  # nothing was waiting to be delivered
                check = True
                if not unstored:  # holding nothing: anything pending was lost on the way
                    await self._hand_back(sub)
                continue
            except Exception as exc:  # NATS away, consumer gone: keep trying, never die
                log.warning("pull failed, retrying", extra={"transfer": self.transfer_pid,
                                                            "error": type(exc).__name__})
                await asyncio.sleep(0.5)
                continue
            skipped = self._gaps.skipped(m.metadata.sequence.consumer for m in msgs)
            msgs = self._within_snapshot(msgs)
            check = self.snapshot is not None and self._highest >= self.snapshot
            if not msgs:
                continue
            try:
                await self.handle(msgs)
                unstored = False
                self._set_lag(self._lag(msgs))
                if skipped:  # a delivery before this batch never arrived
                    await self._hand_back(sub)
            except Exception as exc:
                # Name the cause: a JSON log line otherwise carries only the exception's class,
                # and an operator must see e.g. store.unavailable "database or disk is full".
                why = ({"code": exc.code, "reason": exc.message} if isinstance(exc, TsunaguError)
                       else {"code": type(exc).__name__})
                log.exception("batch not stored; it will be redelivered",
                              extra={"transfer": self.transfer_pid, **why})
                unstored = True
                await asyncio.sleep(0.5)
        if sub is not None:
            with contextlib.suppress(Exception):
                await sub.unsubscribe()

    async def _hand_back(self, sub: Any) -> None:
        """NAK what the server counts as delivered but this loop never got, so it comes
        again now rather than after ack_wait (connector.data.lost_deliveries)."""
        if sub is None:
            return
        try:
            if count := await hand_back(self.connector.nc, sub, self.stream, self.durable,
                                       upto=self.snapshot):
                log.info("deliveries lost on the way asked again",
                         extra={"transfer": self.transfer_pid, "count": count})
        except Exception as exc:  # best effort: ack_wait still redelivers them
            log.warning("could not check for lost deliveries",
                        extra={"transfer": self.transfer_pid, "error": type(exc).__name__})

    # --- finite transfers and lag ------------------------------------------------------------

    async def _snapshot_committed(self, sub: Any) -> bool:
        if self.snapshot is None:
            return False
        if self.snapshot == 0:
            return True  # the dataset was empty at the start
        info = await sub.consumer_info()
        if info.delivered is not None:  # fetches are sized from here (see _fetch_size)
            self._highest = max(self._highest, info.delivered.stream_seq)
        floor = info.ack_floor.stream_seq if info.ack_floor is not None else 0
        return bool(floor >= self.snapshot)

    def _fetch_size(self) -> int:
        """A snapshot's fetches ask for no more than remain up to it: redeliveries come first
        and lie below the highest delivered sequence, so nothing past the snapshot is handed
        out (the stream holds only the dataset's subjects, so its sequences are contiguous)."""
        left = self.batch if self.snapshot is None else self.snapshot - self._highest
        # Past the snapshot only redeliveries can still belong to it: fetch a whole batch.
        return min(self.batch, left) if left > 0 else self.batch

    def _within_snapshot(self, msgs: list[Msg]) -> list[Msg]:
        """The messages to process. Any beyond the snapshot (should a fetch still bring one)
        are left unacked: not part of this transfer; the durable consumer goes at completion."""
        for msg in msgs:
            self._highest = max(self._highest, msg.metadata.sequence.stream)
        return within_snapshot(msgs, self.snapshot)

    def _lag(self, msgs: list[Msg]) -> int:
        last = msgs[-1].metadata
        pending = int(last.num_pending or 0)
        if self.snapshot is not None:
            pending = min(pending, max(0, self.snapshot - self._highest))
        return pending

    def _set_lag(self, value: int) -> None:
        self.connector.metrics.set(LAG, value, transfer=self.transfer_pid)

    async def handle(self, msgs: list[Msg]) -> None:
        now = datetime.now(UTC)
        receiver = self.receiver
        verdict = receiver.batch_verdict(now)
        if verdict is not None:
            checked: list[Any] = [verdict for _ in msgs]
        else:
            # The content keys first (a provider that does not answer leaves the batch
            # unacked, to be read again); then every record opened and checked.
            keys = await self._content_keys(msgs)
            checked = await receiver.check_all(msgs, lambda msg: self._open(msg, keys))
        accepted = [(result, msg.subject.rsplit(".", 1)[-1])
                    for msg, result in zip(msgs, checked, strict=True)
                    if not isinstance(result, TsunaguError)]
        refused = [(msg.metadata.sequence.stream, result)
                   for msg, result in zip(msgs, checked, strict=True)
                   if isinstance(result, TsunaguError)]
        delivered = receiver.store(accepted, refused, now)
        await ack_all(msgs)
        receiver.stored(delivered, [exc for _, exc in refused])

    async def _content_keys(self, msgs: list[Msg]) -> dict[str, ContentKey | TsunaguError]:
        """The key (or why there is none) of each epoch the batch is sealed under."""
        keys: dict[str, ContentKey | TsunaguError] = {}
        for msg in msgs:
            try:
                epoch = epoch_of((msg.headers or {}).get(SEAL_HEADER))
            except SealError:
                continue  # refused in _open, with the reason
            if epoch is None or epoch in keys:
                continue
            try:
                keys[epoch] = await self.connector.content_keys.key_for(
                    self.agreement, self.stream, epoch)
            except ContentKeyRefused as exc:
                keys[epoch] = exc
        return keys

    def _open(self, msg: Msg, keys: dict[str, ContentKey | TsunaguError]) -> bytes:
        """The plaintext of a sealed message. Unsealed data is refused: a provider seals
        everything, so plaintext on a data stream is a fault or an injection."""
        headers = msg.headers or {}
        epoch = epoch_of(headers.get(SEAL_HEADER))
        if epoch is None:
            raise RecordRefused("the record was not sealed (trust.sealing): refused",
                                code=ConnectorCode.RECORD_UNSEALED)
        key = keys[epoch]
        if isinstance(key, TsunaguError):
            raise key
        return open_sealed(key, msg.data,
                           context=bound_to(msg.subject, headers.get("Nats-Msg-Id", "")))
