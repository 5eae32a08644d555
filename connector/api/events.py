"""Server-Sent Events of received records, through the usage gate: what apps subscribe to.

``GET /api/v1/events?purpose=...&dataset=...``: the app declares the purpose of its use (query
parameter or ``Tsunagu-Purpose`` header); the gate decides for every agreement the stream
reads under (``connector.control.gate.GateStream``). Refused at the start: a problem+json
403 naming the constraint. Each delivery row the reader may see becomes one event, in
``seq`` order::

    id: <seq>
    event: created | updated | deleted
    data: {"seq": .., "id": <record id>, "version": .., "dataset": .., "record": {...}}

Rows under an agreement that refuses this reader, or about parties a subject-scoped token is
not linked to, are passed over (never shown). When an agreement the stream has read under
stops permitting (terminated, expired, the disaster phase it needs has ended), the stream
ends within a second with an ``ended`` event carrying the problem, then closes::

    event: ended
    data: {"type": ".../usage.denied", "code": "usage.denied", "rule": ..., "detail": ...}

The ``seq`` is the resume cursor: a client that reconnects with ``Last-Event-ID`` (or
``?after=``) gets exactly the rows after it, so nothing is missed or repeated. Rows are read
in pages; ``resp.write`` waits for the socket to drain, so a slow client only lags behind.
The pull loop wakes streams after each commit (``UsageGate.feed``); a poll every
``poll_interval`` seconds catches anything else.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import Any

import orjson
from aiohttp import web

from connector.api.problems import error_body, statuses_in
from connector.control.decisions import Reader, Use
from connector.control.gate import DECISION_TTL, GateStream, StreamEnded, UsageGate
from trust.errors import ValidationError

log = logging.getLogger(__name__)

PAGE_SIZE = 500
WRITE_CHUNK = 64 * 1024  # bytes of events per socket write
PURPOSE_HEADER = "Tsunagu-Purpose"


def format_event(event: dict[str, Any]) -> bytes:
    # orjson never emits a raw newline, so one data line carries the whole event.
    return (f"id: {event['seq']}\nevent: {event['event']}\ndata: ".encode()
            + orjson.dumps(event) + b"\n\n")


def format_end(problem: dict[str, Any]) -> bytes:
    return b"event: ended\ndata: " + orjson.dumps(problem) + b"\n\n"


def resume_cursor(request: web.Request) -> int:
    """Last-Event-ID wins over ?after=: a browser reconnects to the same URL with the header."""
    raw = request.headers.get("Last-Event-ID") or request.query.get("after") or "0"
    try:
        cursor = int(raw)
    except ValueError:
        raise ValidationError("Last-Event-ID / after must be an event id (an integer)",
                              field="after") from None
    if cursor < 0:
        raise ValidationError("Last-Event-ID / after must not be negative", field="after")
    return cursor


def declared_purpose(request: web.Request) -> str | None:
    """The purpose an app declares for a read: ``?purpose=`` or the Tsunagu-Purpose header."""
    value = request.query.get("purpose") or request.headers.get(PURPOSE_HEADER)
    return value.strip() or None if value else None


class EventStreams:
    """The SSE endpoint of one app API: its settings, its open streams, and shutdown."""

    def __init__(self, connector: Any, gate: UsageGate, *, heartbeat: float = 15.0,
                 poll_interval: float = 2.0, page_size: int = PAGE_SIZE,
                 retry_ms: int = 1000) -> None:
        self.connector = connector
        self.gate = gate
        self.heartbeat = heartbeat
        self.poll_interval = poll_interval
        self.page_size = page_size
        self.retry_ms = retry_ms  # how long EventSource clients wait before reconnecting
        self.active: dict[int, web.Request] = {}  # Request objects are not hashable
        self._closing = False

    def close(self) -> None:
        """End every stream (app shutdown); clients reconnect elsewhere with Last-Event-ID."""
        self._closing = True
        self.gate.feed.notify()

    async def handle(self, request: web.Request, reader: Reader) -> web.StreamResponse:
        dataset = request.query.get("dataset") or None
        cursor = resume_cursor(request)
        gate_stream = self.gate.stream(reader, Use(declared_purpose(request)), dataset)
        response = web.StreamResponse(headers={
            "Content-Type": "text/event-stream; charset=utf-8",
            "Cache-Control": "no-cache",
            "X-Accel-Buffering": "no",  # a reverse proxy must not buffer the stream
        })
        await response.prepare(request)
        metrics = self.connector.metrics
        self.active[id(request)] = request
        metrics.set("tsunagu_api_sse_clients", len(self.active))
        try:
            await response.write(f"retry: {self.retry_ms}\n\n".encode())
            await self._pump(response, gate_stream, cursor)
        except StreamEnded as exc:
            with contextlib.suppress(ConnectionError):
                await response.write(format_end(error_body(exc, statuses_in(request))))
        except ConnectionError:
            pass  # the client went away; it resumes with Last-Event-ID when it comes back
        except Exception:
            # Headers are sent, so no problem+json any more: end the stream; the client
            # reconnects and resumes from its last id once the cause (a store error) is gone.
            log.exception("event stream failed")
        finally:
            self.active.pop(id(request), None)
            metrics.set("tsunagu_api_sse_clients", len(self.active))
        with contextlib.suppress(ConnectionError):
            await response.write_eof()
        return response

    async def _pump(self, response: web.StreamResponse, stream: GateStream,
                    cursor: int) -> None:
        loop = asyncio.get_running_loop()
        next_beat = loop.time() + self.heartbeat
        while not self._closing:
            wake, changed = self.gate.feed.current(), self.gate.change_signal()
            stream.check()  # an agreement that ended, expired or lost its phase: StreamEnded
            events, cursor, read = stream.page(cursor, self.page_size)
            chunk = bytearray()
            for event in events:  # written in chunks: few writes, each waiting on a lagging
                chunk += format_event(event)  # client, so it holds at most one chunk more
                if len(chunk) >= WRITE_CHUNK:
                    await response.write(bytes(chunk))
                    chunk.clear()
            if chunk:
                await response.write(bytes(chunk))
            if events:
                self.connector.metrics.inc("tsunagu_api_sse_events_total", len(events))
                next_beat = loop.time() + self.heartbeat
            if read == self.page_size:
                continue  # more rows waiting: read on before sleeping
            timeout = min(self.poll_interval, max(0.0, next_beat - loop.time()),
                          DECISION_TTL if stream.time_bound else self.poll_interval)
            waiters = [asyncio.ensure_future(wake.wait()), asyncio.ensure_future(changed.wait())]
            await asyncio.wait(waiters, timeout=timeout, return_when=asyncio.FIRST_COMPLETED)
            for waiter in waiters:
                waiter.cancel()
            if loop.time() >= next_beat:
                await response.write(b": keep-alive\n\n")  # proxies drop silent connections
                next_beat = loop.time() + self.heartbeat
