"""Server-Sent Events over the ``deliveries`` table: what apps subscribe to.

Each delivery row becomes one event, in ``seq`` order::

    id: <seq>
    event: created | updated | deleted
    data: {"seq": .., "id": <record id>, "version": .., "dataset": .., "record": {...}}

The ``seq`` is the resume cursor: a client that reconnects with ``Last-Event-ID`` (or
``?after=``) gets exactly the rows after it, so nothing is missed or repeated. Rows are read in
pages; ``resp.write`` waits for the socket to drain, so a slow client only lags behind, it
never makes the connector hold more than one page for it.

Writers of ``deliveries`` call ``notify(connector)`` after committing; streams then wake at
once. A poll every ``poll_interval`` seconds catches any writer that forgets.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import Any

import orjson
from aiohttp import web

from connector.store import Store
from trust.errors import ValidationError

log = logging.getLogger(__name__)

PAGE_SIZE = 500

# Body of a delivered version: held under an agreement (consumer side) or our own version.
# A purged held record has no body any more; the event still says that it happened.
PAGE_SQL = """
SELECT d.seq, d.event, d.record_id, d.version, d.dataset_id, d.agreement_id, d.at,
       COALESCE(h.body, v.body, r.body) AS body
FROM deliveries d
LEFT JOIN held_records h ON h.id = d.record_id AND h.version = d.version
LEFT JOIN record_versions v ON v.id = d.record_id AND v.version = d.version
LEFT JOIN records r ON r.id = d.record_id AND r.version = d.version
WHERE d.seq > ? {dataset}
ORDER BY d.seq
LIMIT ?
"""


class DeliveryFeed:
    """Wakes waiting streams when new deliveries are committed.

    One ``asyncio.Event`` per generation: ``notify`` sets the current one and starts the next.
    A stream takes ``current()`` *before* it queries, so a notify that lands between its query
    and its wait still wakes it.
    """

    def __init__(self) -> None:
        self._event = asyncio.Event()

    def current(self) -> asyncio.Event:
        return self._event

    def notify(self) -> None:
        self._event.set()
        self._event = asyncio.Event()


def feed_for(connector: object) -> DeliveryFeed:
    """The connector's feed, created on first use (writers and the API share it)."""
    feed = getattr(connector, "delivery_feed", None)
    if feed is None:
        feed = DeliveryFeed()
        connector.delivery_feed = feed  # type: ignore[attr-defined]
        # The hook connector/pull.py calls after it commits deliveries.
        connector.notify_deliveries = feed.notify  # type: ignore[attr-defined]
    return feed


def notify(connector: object) -> None:
    """Call after committing rows to ``deliveries`` (on the event loop thread)."""
    feed_for(connector).notify()


def read_page(store: Store, after: int, *, dataset: str | None = None,
              limit: int = PAGE_SIZE) -> list[dict[str, Any]]:
    """Delivery events with ``seq > after``, oldest first, at most ``limit``."""
    sql = PAGE_SQL.format(dataset="AND d.dataset_id = ?" if dataset else "")
    params: tuple[Any, ...] = (after, dataset, limit) if dataset else (after, limit)
    return [
        {"seq": seq, "event": event, "id": record_id, "version": version, "dataset": ds,
         "agreement": agreement, "at": at, "record": orjson.loads(body) if body else None}
        for seq, event, record_id, version, ds, agreement, at, body in store.query(sql, params)
    ]


def format_event(event: dict[str, Any]) -> bytes:
    # orjson never emits a raw newline, so one data line carries the whole event.
    return (f"id: {event['seq']}\nevent: {event['event']}\ndata: ".encode()
            + orjson.dumps(event) + b"\n\n")


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


class EventStreams:
    """The SSE endpoint of one app: its settings, its open streams, and shutdown."""

    def __init__(self, connector: Any, *, heartbeat: float = 15.0, poll_interval: float = 2.0,
                 page_size: int = PAGE_SIZE, retry_ms: int = 1000) -> None:
        self.connector = connector
        self.feed = feed_for(connector)
        self.heartbeat = heartbeat
        self.poll_interval = poll_interval
        self.page_size = page_size
        self.retry_ms = retry_ms  # how long EventSource clients wait before reconnecting
        self.active: dict[int, web.Request] = {}  # Request objects are not hashable
        self._closing = False

    def close(self) -> None:
        """End every stream (app shutdown); clients reconnect elsewhere with Last-Event-ID."""
        self._closing = True
        self.feed.notify()

    async def handle(self, request: web.Request) -> web.StreamResponse:
        dataset = request.query.get("dataset") or None
        cursor = resume_cursor(request)
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
            await self._pump(response, dataset, cursor)
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

    async def _pump(self, response: web.StreamResponse, dataset: str | None,
                    cursor: int) -> None:
        loop = asyncio.get_running_loop()
        next_beat = loop.time() + self.heartbeat
        store: Store = self.connector.store
        while not self._closing:
            wake = self.feed.current()
            page = read_page(store, cursor, dataset=dataset, limit=self.page_size)
            for event in page:
                await response.write(format_event(event))  # waits while the client lags
                cursor = event["seq"]
            if page:
                self.connector.metrics.inc("tsunagu_api_sse_events_total", len(page))
                next_beat = loop.time() + self.heartbeat
            if len(page) == self.page_size:
                continue  # more rows waiting: read on before sleeping
            timeout = min(self.poll_interval, max(0.0, next_beat - loop.time()))
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(wake.wait(), timeout)
            if loop.time() >= next_beat:
                await response.write(b": keep-alive\n\n")  # proxies drop silent connections
                next_beat = loop.time() + self.heartbeat
