"""Persisted DSP processes and their outbox, shared by negotiations and transfers.

A process row holds the pure state-machine record (connector.dsp) plus what the I/O shell
needs: the message it still has to send (``pending``: the outbox) and the last message it
accepted (``last_in``, so a resent message gets an ACK instead of an error). Every change is
written inside the caller's store transaction.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import asdict, dataclass, field, fields, replace
from datetime import datetime
from typing import TYPE_CHECKING, Any, Generic, TypeVar

from connector.bus.messaging import RemoteUnreachable
from connector.protocol.dsp import messages
from connector.protocol.dsp.statemachine import Process, Role
from connector.store.database import dumps, loads
from trust.errors import TsunaguError

if TYPE_CHECKING:
    from connector.runtime.connector import Connector

log = logging.getLogger(__name__)

P = TypeVar("P", bound=Process[Any])
Reply = tuple[str, dict[str, Any]]


@dataclass
class Row(Generic[P]):
    record: P
    pending: dict[str, Any] | None = None  # the message we still owe the counterparty
    last_in: str | None = None  # kind of the last message accepted from the counterparty
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def pid(self) -> str:
        own = self.record.consumer_pid if self.record.role == Role.CONSUMER \
            else self.record.provider_pid
        assert own is not None
        return own


class ProcessTable(Generic[P]):
    """Rows of ``negotiations`` or ``transfers``: the record serialised with its outbox."""

    def __init__(self, connector: Connector, table: str, record_type: type[P],
                 state_type: type[Any], columns: Callable[[P, dict[str, Any]], dict[str, Any]]
                 ) -> None:
        self.connector, self.table = connector, table
        self.record_type, self.state_type, self.columns = record_type, state_type, columns

    def _decode(self, body: bytes) -> Row[P]:
        data = loads(body)
        rec = data["record"]
        for name in ("created_at", "updated_at"):
            rec[name] = datetime.fromisoformat(rec[name])
        rec["role"], rec["state"] = Role(rec["role"]), self.state_type(rec["state"])
        known = {f.name for f in fields(self.record_type)}
        record = self.record_type(**{k: v for k, v in rec.items() if k in known})
        return Row(record, data.get("pending"), data.get("last_in"), data.get("extra", {}))

    def get(self, pid: str) -> Row[P] | None:
        rows = self.connector.store.query(f"SELECT body FROM {self.table} WHERE pid = ?",
                                          (pid,))
        return self._decode(rows[0][0]) if rows else None

    def find(self, counterparty: str, consumer_pid: str) -> Row[P] | None:
        """A provider's row for the consumer's pid (initial requests name no providerPid)."""
        rows = self.connector.store.query(
            f"SELECT body FROM {self.table} WHERE counterparty = ? AND role = 'provider' AND "
            "json_extract(CAST(body AS TEXT), '$.record.consumer_pid') = ?",
            (counterparty, consumer_pid))
        return self._decode(rows[0][0]) if rows else None

    def all(self, where: str = "1", params: tuple[Any, ...] = ()) -> list[Row[P]]:
        rows = self.connector.store.query(
            f"SELECT body FROM {self.table} WHERE {where} ORDER BY updated", params)
        return [self._decode(r[0]) for r in rows]

    def save(self, db: Any, row: Row[P], event: str) -> None:
        """Write the row and its audit line; call inside the step's transaction."""
        rec = asdict(row.record)
        rec.update(created_at=row.record.created_at.isoformat(),
                   updated_at=row.record.updated_at.isoformat(),
                   role=str(row.record.role), state=str(row.record.state))
        body = dumps({"record": rec, "pending": row.pending, "last_in": row.last_in,
                      "extra": row.extra})
        cols = {"pid": row.pid, "role": str(row.record.role), "state": str(row.record.state),
                "counterparty": row.record.counterparty or "", "body": body,
                "updated": row.record.updated_at.isoformat(),
                **self.columns(row.record, row.extra)}
        names = ", ".join(cols)
        marks = ", ".join("?" for _ in cols)
        db.execute(f"INSERT OR REPLACE INTO {self.table} ({names}) VALUES ({marks})",
                   tuple(cols.values()))
        self.connector.audit.append(event, row.record.updated_at, pid=row.pid,
                                    role=str(row.record.role), state=str(row.record.state),
                                    counterparty=row.record.counterparty)

    def count_states(self, metric: str) -> None:
        for state in self.state_type:
            self.connector.metrics.set(metric, 0, state=str(state))
        for state, n in self.connector.store.query(
                f"SELECT state, count(*) FROM {self.table} GROUP BY state"):
            self.connector.metrics.set(metric, n, state=state)


class Outbox:
    """Sends each row's pending message until it is acknowledged (retrying when the other
    connector is unreachable); one send per pid at a time."""

    def __init__(self, table: ProcessTable[Any],
                 on_reply: Callable[[str, dict[str, Any], str, dict[str, Any]], Awaitable[None]],
                 retry_s: float = 1.0) -> None:
        self.table, self.on_reply, self.retry_s = table, on_reply, retry_s
        self._inflight: set[str] = set()
        self._tasks: set[asyncio.Task[None]] = set()

    def kick(self, pid: str) -> None:
        if pid not in self._inflight:
            self._inflight.add(pid)
            self.spawn(self._send(pid))

    def spawn(self, coro: Awaitable[None]) -> None:
        task = asyncio.get_running_loop().create_task(coro)  # type: ignore[arg-type]
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _send(self, pid: str) -> None:
        try:
            delay, last = 0.0, None
            while True:
                row = self.table.get(pid)
                if row is None or row.pending is None:
                    return
                if row.pending == last:
                    return  # the reply did not settle it; a restart will resend
                sent = row.pending
                try:
                    env, _ = await self.table.connector.dsp.request(
                        row.record.counterparty, sent["@type"], sent,
                        to_role=Role.CONSUMER if row.record.role == Role.PROVIDER
                        else Role.PROVIDER)
                except RemoteUnreachable:
                    delay = min(max(delay * 2, self.retry_s), 30.0)
                    await asyncio.sleep(delay)
                    continue
                except TsunaguError as exc:
                    # An error answer, or a reply this side refuses (bad signature, remote
                    # @context, too deep): either way the message is answered, and a reply
                    # that cannot be trusted ends the exchange like an error (fail closed).
                    await self.on_reply(pid, sent, "error", {"code": exc.code,
                                                             "reason": [exc.message]})
                    last = sent
                    continue
                await self.on_reply(pid, sent, env.message_type, env.payload)
                # A newer message may have been queued while this one was in flight.
                last, delay = sent, 0.0
        except Exception:
            log.exception("sending a pending DSP message failed", extra={"pid": pid})
        finally:
            self._inflight.discard(pid)

    async def settled(self, pid: str, timeout: float) -> None:
        """Wait (at most ``timeout``) until nothing is being sent for ``pid``: the first
        exchange of a new process, so the caller sees the other side's answer."""
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(timeout):
                while pid in self._inflight:
                    await asyncio.sleep(0.005)

    async def close(self) -> None:
        for task in list(self._tasks):
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task


def clear_pending(table: ProcessTable[Any], pid: str, sent: dict[str, Any],
                  updates: Mapping[str, Any] | None = None) -> Row[Any] | None:
    """After an ACK: forget ``sent`` (unless a newer message replaced it), note new pids."""
    with table.connector.store.transaction() as db:
        row = table.get(pid)
        if row is None:
            return None
        changed = False
        if row.pending == sent:
            row.pending, changed = None, True
        for key, value in (updates or {}).items():
            if value and getattr(row.record, key) is None:
                row.record, changed = replace(row.record, **{key: value}), True
        if changed:
            table.save(db, row, f"{table.table[:-1]}_ack")
        return row


def mark_refused(table: ProcessTable[Any], pid: str, sent: dict[str, Any],
                 payload: Mapping[str, Any], event: str) -> None:
    """The counterparty refused what we sent: stop resending it and keep its reason."""
    log.warning("%s", event.replace("_", " "), extra={"pid": pid, "code": payload.get("code")})
    with table.connector.store.transaction() as db:
        row = table.get(pid)
        if row is not None and row.pending == sent:
            row.pending = None
            row.extra["refused"] = {"code": payload.get("code"), "reason": payload.get("reason")}
            table.save(db, row, event)


def is_error(message_type: str) -> bool:
    return message_type == "error" or message_type.endswith("Error")


def error_reply(message: Mapping[str, Any], exc: TsunaguError, error_type: str) -> Reply:
    """A DSP ...Error answering ``message`` (pids taken from it where known)."""
    consumer_pid = str(message.get("consumerPid") or "unknown")
    provider_pid = str(message.get("providerPid") or "unknown")
    body = messages._message(error_type, providerPid=provider_pid, consumerPid=consumer_pid,
                             code=exc.code, reason=[exc.message[:1000]])
    return error_type, body
