"""Transfer processes over either DSP binding: the I/O shell around ``dsp.transfer``.

Over HTTPS (connector.dsp_http) the format is ``HttpData-PULL``: the provider's start carries
an HTTP data address with a short-lived token naming the agreement, and the consumer pulls
pages of records with it (connector.dsp_http.pull); everything else below is the same.

Consumer TransferRequest(agreementId, format NATS-JetStream-pull) -> provider checks the
agreement is active and names the sender as assignee -> creates a durable pull consumer on the
dataset stream (AckExplicit, bounded max_ack_pending for back-pressure, deliver all) ->
TransferStart with a data address naming stream, subject filter and consumer -> the consumer
runs a ``PullLoop`` while the transfer is STARTED. Suspension, completion and termination
follow the state machine; leaving STARTED stops the loop, ending the transfer deletes the
durable consumer. Persistence and resends work as in ``connector.protocol.negotiations``.

Finite transfers (format NATS-JetStream-snapshot): at the start the provider records the
stream's last sequence for the dataset's subject filter (0 if empty) as the data address's
``snapshotSequence``. The consumer's pull loop processes nothing beyond it and, once the
durable consumer's ack floor reaches it, sends TransferCompletionMessage; both sides go
COMPLETED and the provider deletes the durable consumer. The bound is kept by the consumer's
connector, like every other usage rule: JetStream has no "stop at sequence" for a consumer,
and a finite transfer is the consumer's own choice under an agreement that would also permit
streaming, so reading further would not exceed what it was granted.

Operator mode: the consumer's NATS account cannot reach the provider's JetStream at all until
the provider has asked the authority to grant it the durable consumer
(``connector.protocol.grants``); the data address then carries the JetStream API prefix the
consumer reads through (``apiPrefix``). When the transfer ends either way (completed, or
terminated by either side) the provider deletes the durable and asks the authority to close
the import.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import logging
import uuid
from dataclasses import replace
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import nats.js.errors
from nats.js.api import AckPolicy, ConsumerConfig, DeliverPolicy
from nats.js.client import JetStreamContext

from connector.bus import subjects
from connector.data.pull import SNAPSHOT, PullLoop, endpoint_properties
from connector.dsp_http.data_plane import HTTP_ENDPOINT_TYPE, PULL_FORMAT, is_http_pull
from connector.dsp_http.pull import HttpPullLoop
from connector.errors import ConnectorCode
from connector.protocol import agreements
from connector.protocol.dsp import messages
from connector.protocol.dsp import transfer as dt
from connector.protocol.dsp.statemachine import ProtocolError, Role
from connector.protocol.dsp.transfer import Transfer, TransferState
from connector.protocol.dsp.validation import validate_message
from connector.protocol.grants import API_PREFIX
from connector.protocol.processes import (
    Outbox,
    ProcessTable,
    Row,
    clear_pending,
    error_reply,
    is_error,
    mark_refused,
)
from trust.credentials import VerifiedCredential
from trust.envelope import Envelope
from trust.errors import TsunaguError

if TYPE_CHECKING:
    from connector.runtime.connector import Connector

log = logging.getLogger(__name__)

TRANSFER_FORMAT = "NATS-JetStream-pull"  # streaming: until completed, suspended, terminated
FINITE_FORMAT = "NATS-JetStream-snapshot"  # what was in the stream at the start, then done
MAX_ACK_PENDING = 1024  # back-pressure: the server stops handing out more until acks come
ACK_WAIT_S = 10.0  # unacked (e.g. the consumer crashed mid-batch) -> redelivered after this
ERROR = "TransferError"
ACK = "TransferProcess"
Reply = tuple[str, dict[str, Any]]


class TransferError(TsunaguError):
    code = ConnectorCode.TRANSFER_REFUSED


def durable_name(provider_pid: str) -> str:
    return "tr_" + hashlib.sha256(provider_pid.encode()).hexdigest()[:24]


def is_finite(format: str | None) -> bool:
    return str(format or "").lower() == FINITE_FORMAT.lower()


async def last_sequence(js: JetStreamContext, stream: str, subject: str) -> int:
    """The stream's last sequence among messages on ``subject`` (a filter); 0 if none."""
    try:
        return int((await js.get_last_msg(stream, subject)).seq)
    except nats.js.errors.NotFoundError:
        return 0


def _columns(record: Transfer, extra: dict[str, Any]) -> dict[str, Any]:
    return {"agreement_id": record.agreement_id or ""}


class TransferService:
    """``connector.transfers``: start (consumer), get, list, wait, suspend, resume,
    complete, terminate; serves both roles."""

    def __init__(self, connector: Connector, *, batch: int = 256, retry_s: float = 1.0,
                 credential_ttl: float = 30.0) -> None:
        self.batch, self.retry_s, self.credential_ttl = batch, retry_s, credential_ttl
        self.loops: dict[str, PullLoop | HttpPullLoop] = {}
        self.connector = connector
        self.table: ProcessTable[Transfer] = ProcessTable(connector, "transfers", Transfer,
                                                          TransferState, _columns)
        self.outbox = Outbox(self.table, self._on_reply, self.retry_s)

    async def startup(self) -> None:
        connector = self.connector
        for message_type in (dt.TRANSFER_REQUEST, dt.TRANSFER_START, dt.TRANSFER_SUSPENSION,
                             dt.TRANSFER_COMPLETION, dt.TRANSFER_TERMINATION):
            connector.route(message_type, self._on_message)
        self._changed()
        for row in self.table.all("state NOT IN ('COMPLETED', 'TERMINATED') OR body LIKE ?",
                                  ('%"pending":{%',)):
            if row.pending is not None:
                self.outbox.kick(row.pid)
            elif row.record.role == Role.PROVIDER and row.record.state == dt.REQUESTED:
                self.outbox.spawn(self._provide(row.pid))
            await self._effects(row)

    async def shutdown(self) -> None:
        for pid in list(self.loops):
            await self.loops.pop(pid).stop()
        await self.outbox.close()

    # --- API -------------------------------------------------------------------------------

    def get(self, pid: str) -> dict[str, Any] | None:
        row = self.table.get(pid)
        return None if row is None else _view(row)

    def list(self) -> list[dict[str, Any]]:
        return [_view(r) for r in self.table.all()]

    async def wait(self, pid: str, *states: str, timeout: float = 10.0) -> dict[str, Any]:
        wanted = set(states or (dt.STARTED, dt.COMPLETED, dt.TERMINATED))
        async with asyncio.timeout(timeout):
            while (view := self.get(pid)) is None or view["state"] not in wanted:
                await asyncio.sleep(0.02)
        return view

    async def start(self, agreement_id: str, *, finite: bool = False,
                    timeout: float = 5.0) -> dict[str, Any]:
        """Consumer: ask the provider to start streaming under ``agreement_id`` (``finite``:
        only what the dataset holds now, then the transfer completes)."""
        agreement = agreements.load(self.connector.store, agreement_id)
        if agreement is None or agreement["role"] != "consumer":
            raise TransferError(f"no agreement {agreement_id} held by this connector",
                                code=ConnectorCode.AGREEMENT_UNKNOWN)
        if agreement["status"] != "active":
            raise TransferError(f"agreement {agreement_id} is {agreement['status']}",
                                code=ConnectorCode.AGREEMENT_INACTIVE)
        pid = f"urn:uuid:{uuid.uuid4()}"
        format = FINITE_FORMAT if finite else TRANSFER_FORMAT
        if self.connector.dsp.over_https(agreement["provider"]):
            if finite:
                raise TransferError("finite transfers are not offered over HTTPS yet; "
                                    "start a streaming one and complete it",
                                    code=ConnectorCode.TRANSFER_UNSUPPORTED_FORMAT)
            format = PULL_FORMAT  # the HTTP pull data plane (connector.dsp_http.data_plane)
        message = messages.transfer_request(
            pid, agreement_id=agreement_id, format=format,
            callback_address=self.connector.dsp.callback_for(agreement["provider"]))
        record = dt.apply_message(None, message, Role.CONSUMER, role=Role.CONSUMER,
                                  counterparty=agreement["provider"])
        with self.connector.store.transaction() as db:
            self.table.save(db, Row(record, pending=message), "transfer")
        self._changed()
        self.outbox.kick(pid)
        await self.outbox.settled(pid, timeout)
        return self.get(pid) or {}

    async def suspend(self, pid: str, reason: str = "") -> dict[str, Any]:
        return await self._send_own(pid, lambda c, p: messages.transfer_suspension(
            c, p, code=ConnectorCode.TRANSFER_SUSPENDED, reason=[reason] if reason else None))

    async def resume(self, pid: str) -> dict[str, Any]:
        """Either side restarts a SUSPENDED transfer (the provider re-sends the address)."""
        row = self.table.get(pid)
        address = row.extra.get("dataAddress") if row and row.record.role == Role.PROVIDER \
            else None
        return await self._send_own(pid, lambda c, p: messages.transfer_start(
            c, p, data_address=address))

    async def complete(self, pid: str) -> dict[str, Any]:
        return await self._send_own(pid, messages.transfer_completion)

    async def terminate(self, pid: str, reason: str = "", *, notify: bool = True
                        ) -> dict[str, Any]:
        return await self._send_own(pid, lambda c, p: messages.transfer_termination(
            c, p, code=ConnectorCode.TRANSFER_TERMINATED, reason=[reason] if reason else None),
            notify=notify)

    async def end_for_agreement(self, agreement_id: str, reason: str, *,
                                notify: bool = True) -> None:
        """The agreement ended: terminate its open transfers (the agreement notice tells the
        consumer, so no per-transfer message unless ``notify``)."""
        for row in self.table.all("agreement_id = ? AND state NOT IN ('COMPLETED', "
                                  "'TERMINATED')", (agreement_id,)):
            await self.terminate(row.pid, reason, notify=False)

    async def renew_all(self, reason: str) -> list[str]:
        """Consumer: end each open transfer and ask for it again from the stream's start.

        After a restore from backup the provider's durable consumer has acknowledged what
        was delivered after the backup, which this store never got: a new transfer reads
        the stream again from its first message, and what is already held is ignored by
        (record id, version), so nothing is lost and nothing reaches an app twice.
        Returns the new transfers' pids."""
        renewed = []
        for row in self.table.all("state NOT IN ('COMPLETED', 'TERMINATED')"):
            if row.record.role != Role.CONSUMER or row.record.agreement_id is None:
                continue
            if row.record.provider_pid is not None:
                await self.terminate(row.pid, reason)
            new = await self.start(row.record.agreement_id,
                                   finite=row.record.format == FINITE_FORMAT)
            renewed.append(new["pid"])
        return renewed

    async def _send_own(self, pid: str, build: Any, *, notify: bool = True) -> dict[str, Any]:
        row = self.table.get(pid)
        if row is None:
            raise ProtocolError(f"no transfer {pid}", code=ConnectorCode.DSP_UNKNOWN_PROCESS)
        if row.record.provider_pid is None:
            raise ProtocolError("the provider has not answered yet; try again",
                                code=ConnectorCode.DSP_NOT_READY)
        message = build(row.record.consumer_pid, row.record.provider_pid)
        row.record = dt.apply_message(row.record, message, row.record.role,
                                      at=datetime.now(UTC))
        row.pending = message if notify else None
        with self.connector.store.transaction() as db:
            self.table.save(db, row, "transfer")
        self._changed()
        await self._effects(row)
        if row.pending is not None:
            self.outbox.kick(pid)
        return _view(row)

    # --- receiving ---------------------------------------------------------------------------

    async def _on_message(self, env: Envelope, credential: VerifiedCredential) -> Reply:
        message = env.payload
        try:
            validate_message(message)
            if message.get("@type") != env.message_type:
                raise ProtocolError("envelope and message disagree on the type",
                                    code=ConnectorCode.DSP_INVALID_MESSAGE)
            return await self._receive(message, credential.did)
        except TsunaguError as exc:
            self.connector.metrics.inc("tsunagu_messages_rejected_total", reason=exc.code)
            return error_reply(message, exc, ERROR)

    def _locate(self, message: dict[str, Any], sender: str) -> Row[Transfer] | None:
        for role, key in ((Role.PROVIDER, "providerPid"), (Role.CONSUMER, "consumerPid")):
            row = self.table.get(str(message.get(key))) if message.get(key) else None
            if row is not None and row.record.role == role and row.record.counterparty == sender:
                return row
        if message["@type"] == dt.TRANSFER_REQUEST:
            return self.table.find(sender, str(message["consumerPid"]))
        return None

    async def _receive(self, message: dict[str, Any], sender: str) -> Reply:
        kind = message["@type"]
        row = self._locate(message, sender)
        if row is None:
            if kind != dt.TRANSFER_REQUEST:
                raise ProtocolError("no such transfer process with this participant",
                                    code=ConnectorCode.DSP_UNKNOWN_PROCESS)
            return self._new_request(message, sender)
        if row.last_in == kind:
            return ACK, dt.ack_message(row.record)  # a resend of what we accepted
        other = Role.CONSUMER if row.record.role == Role.PROVIDER else Role.PROVIDER
        now = datetime.now(UTC)
        row.record = dt.apply_message(row.record, message, other, counterparty=sender, at=now)
        row.last_in = kind
        if message.get("dataAddress"):
            row.extra["dataAddress"] = message["dataAddress"]
        if message.get("code") or message.get("reason"):
            row.extra.update(code=message.get("code"), reason=message.get("reason"))
        if row.record.state in (dt.COMPLETED, dt.TERMINATED):
            row.pending = None
        with self.connector.store.transaction() as db:
            self.table.save(db, row, "transfer")
        self._changed()
        await self._effects(row)
        return ACK, dt.ack_message(row.record)

    def _new_request(self, message: dict[str, Any], sender: str) -> Reply:
        agreement = agreements.load(self.connector.store, str(message["agreementId"]))
        if agreement is None or agreement["role"] != "provider":
            raise TransferError("no such agreement", code=ConnectorCode.TRANSFER_UNKNOWN_AGREEMENT)
        if agreement["consumer"] != sender:
            raise TransferError("the agreement names another assignee",
                                code=ConnectorCode.TRANSFER_NOT_ASSIGNEE)
        if agreement["status"] != "active":
            raise TransferError(f"the agreement is {agreement['status']}",
                                code=ConnectorCode.TRANSFER_AGREEMENT_INACTIVE)
        over_https = self.connector.dsp_http is not None and is_http_pull(message.get("format"))
        if not over_https and \
                not str(message.get("format", "")).lower().startswith("nats-jetstream"):
            raise TransferError(f"format {message.get('format')!r} is not supported; use "
                                f"{TRANSFER_FORMAT}",
                                code=ConnectorCode.TRANSFER_UNSUPPORTED_FORMAT)
        now = datetime.now(UTC)
        record = dt.apply_message(None, message, Role.CONSUMER, role=Role.PROVIDER,
                                  counterparty=sender, at=now)
        record = replace(record, provider_pid=f"urn:uuid:{uuid.uuid4()}")
        row = Row(record, last_in=dt.TRANSFER_REQUEST,
                  extra={"datasetId": agreement["datasetId"]})
        with self.connector.store.transaction() as db:
            self.table.save(db, row, "transfer")
        self._changed()
        self.outbox.spawn(self._provide(row.pid))
        return ACK, dt.ack_message(record)

    # --- provider: make the durable consumer, send the address --------------------------------

    def _check_readable(self, agreement_id: str | None) -> None:
        """An agreement that only grants changes (contributions, e.g. a clinic adding
        checkups to a municipality's dataset) carries no reading: nothing is streamed."""
        agreement = agreements.load(self.connector.store, str(agreement_id))
        if agreement is not None and agreements.write_only(
                agreements.parse(agreement["document"]["signedAgreement"])):
            raise TransferError("the agreement grants changes only, no reading",
                                code=ConnectorCode.TRANSFER_WRITE_ONLY)

    async def _provide(self, pid: str) -> None:
        row = self.table.get(pid)
        if row is None or row.record.state != dt.REQUESTED or row.pending is not None:
            return
        assert row.record.provider_pid is not None
        try:
            self._check_readable(row.record.agreement_id)
            if is_http_pull(row.record.format) and self.connector.dsp_http is not None:
                address = self.connector.dsp_http.data_plane.data_address(row)
            else:
                address = await self._open_stream(row, durable_name(row.record.provider_pid))
        except TransferError as exc:  # the consumer learns why
            log.warning("cannot open the transfer's stream", extra={"pid": pid,
                                                                    "code": exc.code})
            message = messages.transfer_termination(
                row.record.consumer_pid, row.record.provider_pid, code=exc.code,
                reason=[exc.message])
        else:
            row.extra["dataAddress"] = address
            message = messages.transfer_start(row.record.consumer_pid, row.record.provider_pid,
                                              data_address=address)
        c = self.connector
        row.record = dt.apply_message(row.record, message, Role.PROVIDER, at=datetime.now(UTC))
        row.pending = message
        with c.store.transaction() as db:
            self.table.save(db, row, "transfer")
        self._changed()
        self.outbox.kick(pid)

    async def _open_stream(self, row: Row[Transfer], durable: str) -> dict[str, Any]:
        """Create the transfer's durable consumer and, in operator mode, have the authority
        let the consumer's account read it; returns the data address."""
        c = self.connector
        dataset_id = row.extra["datasetId"]
        stream = subjects.dataset_stream(c.did, dataset_id)
        subject = subjects.data_subject(c.did, dataset_id)
        try:
            await c.js.add_consumer(stream, ConsumerConfig(
                durable_name=durable, ack_policy=AckPolicy.EXPLICIT,
                deliver_policy=DeliverPolicy.ALL, filter_subject=subject,
                max_ack_pending=MAX_ACK_PENDING, ack_wait=ACK_WAIT_S))
            snapshot = await last_sequence(c.js, stream, subject) \
                if is_finite(row.record.format) else None
        except Exception as exc:  # no stream, JetStream away
            raise TransferError(f"the dataset stream cannot be read: {type(exc).__name__}",
                                code=ConnectorCode.TRANSFER_NO_STREAM) from exc
        extra = {} if snapshot is None else {SNAPSHOT: str(snapshot)}
        if c.grants is not None:
            agreement = agreements.load(c.store, str(row.record.agreement_id))
            assert agreement is not None  # checked when the request came in
            try:
                extra[API_PREFIX] = await c.grants.grant(agreement["document"], durable)
            except TsunaguError as exc:
                raise TransferError(f"the authority did not open the stream: {exc.message}",
                                    code=ConnectorCode.TRANSFER_NO_GRANT) from exc
        return messages.nats_data_address(subject, stream=stream, consumer=durable,
                                          extra=extra or None)

    async def _close_grant(self, row: Row[Transfer]) -> None:
        """Operator mode: the consumer's import of the ended transfer's durable goes."""
        agreement = agreements.load(self.connector.store, str(row.record.agreement_id))
        if self.connector.grants is None or agreement is None or not row.record.provider_pid:
            return
        try:
            await self.connector.grants.revoke(agreement["document"],
                                               durable_name(row.record.provider_pid))
        except TsunaguError as exc:  # the durable is deleted: the import leads nowhere
            log.warning("the authority did not close the transfer's stream",
                        extra={"pid": row.pid, "code": exc.code})

    async def _effects(self, row: Row[Transfer]) -> None:
        """Bring the loop / durable consumer in line with the record's state."""
        pid, state = row.pid, row.record.state
        if row.record.role == Role.CONSUMER:
            running = self.loops.get(pid)
            if running is not None and running.done and state == dt.STARTED:
                self.loops.pop(pid)  # its snapshot ended but the completion did not go through
                running = None
            if state == dt.STARTED and running is None and row.extra.get("dataAddress"):
                agreement = agreements.load(self.connector.store, str(row.record.agreement_id))
                if agreement is not None and agreement["status"] == "active":
                    address = row.extra["dataAddress"]
                    kind = HttpPullLoop if address.get("endpointType") == HTTP_ENDPOINT_TYPE \
                        and self.connector.dsp_http is not None else PullLoop
                    loop = kind(self.connector, transfer_pid=pid, agreement=agreement,
                                address=address, batch=self.batch,
                                credential_ttl=self.credential_ttl,
                                on_done=self._snapshot_done)
                    self.loops[pid] = loop
                    loop.start()
            elif state != dt.STARTED and running is not None:
                await self.loops.pop(pid).stop()
        elif state in (dt.COMPLETED, dt.TERMINATED) and row.record.provider_pid:
            stream = subjects.dataset_stream(self.connector.did, row.extra["datasetId"])
            with contextlib.suppress(Exception):  # already gone is fine
                await self.connector.js.delete_consumer(stream,
                                                        durable_name(row.record.provider_pid))
            if API_PREFIX in endpoint_properties(row.extra.get("dataAddress") or {}):
                self.outbox.spawn(self._close_grant(row))  # never hold up the DSP reply

    def _snapshot_done(self, pid: str) -> None:
        """A finite transfer's every message is committed: complete it (from another task,
        since completing stops the loop that calls this)."""
        async def complete() -> None:
            try:
                await self.complete(pid)
            except TsunaguError as exc:  # e.g. suspended meanwhile: a resume tries again
                log.warning("cannot complete the finite transfer",
                            extra={"pid": pid, "code": exc.code})
        self.outbox.spawn(complete())

    async def _on_reply(self, pid: str, sent: dict[str, Any], reply_type: str,
                        payload: dict[str, Any]) -> None:
        if is_error(reply_type):
            mark_refused(self.table, pid, sent, payload, "transfer_refused")
            return
        clear_pending(self.table, pid, sent, {"provider_pid": payload.get("providerPid")})
        self._changed()

    def _changed(self) -> None:
        self.table.count_states("tsunagu_transfers")


def _view(row: Row[Transfer]) -> dict[str, Any]:
    r = row.record
    return {"pid": row.pid, "role": str(r.role), "state": str(r.state),
            "consumerPid": r.consumer_pid, "providerPid": r.provider_pid,
            "agreementId": r.agreement_id, "counterparty": r.counterparty, "format": r.format,
            "dataAddress": row.extra.get("dataAddress"), "code": row.extra.get("code"),
            "reason": row.extra.get("reason"), "pending": row.pending is not None,
            "updated": r.updated_at.isoformat()}
