"""Live sections over Server-Sent Events, as on the bosai dashboard.

The page is rendered when the hub's change counter (``PmhHub.changes``: every own record
indexed, every claim decided) is at ``since`` and opens ``events?...&since=N``. The stream
re-renders its sections whenever the counter moves and sends those whose markup changed::

    event: sections
    data: {"seq": 12, "sections": {"followups": "<dl>...", ...}}

A viewer whose session ends (logout, revoked token) gets ``event: ended`` within a second.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Callable

import orjson
from aiohttp import web

from connector.web.markup import Sections

POLL_S = 0.1
CHECK_S = 1.0
HEARTBEAT_S = 15.0


class LiveStreams:
    """Open streams, ended when the connector's app shuts down."""

    def __init__(self) -> None:
        self.tasks: set[asyncio.Task[object]] = set()

    async def close(self, app: web.Application) -> None:
        for task in list(self.tasks):
            task.cancel()

    async def stream(self, request: web.Request, changes: Callable[[], int],
                     render: Callable[[], Sections], since: int,
                     alive: Callable[[], bool]) -> web.StreamResponse:
        response = web.StreamResponse(headers={"Content-Type": "text/event-stream",
                                               "Cache-Control": "no-store"})
        await response.prepare(request)
        task = asyncio.current_task()
        assert task is not None
        self.tasks.add(task)
        # What the page shows: this rendering if nothing changed since, else nothing yet.
        seen = changes()
        sent: Sections | None = render() if seen == since else None
        checked = beat = time.monotonic()
        try:
            while True:
                now = time.monotonic()
                if now - checked >= CHECK_S:
                    checked = now
                    if not alive():
                        await response.write(b"event: ended\ndata: {}\n\n")
                        break
                seq = changes()
                if sent is None or seq != seen:
                    fresh = render()
                    changed = {k: v for k, v in fresh.items()
                               if sent is None or sent.get(k) != v}
                    if changed:
                        await response.write(b"event: sections\ndata: " + orjson.dumps(
                            {"seq": seq, "sections": changed}) + b"\n\n")
                        beat = now
                    sent, seen = fresh, seq
                elif now - beat >= HEARTBEAT_S:
                    await response.write(b": keep-alive\n\n")
                    beat = now
                await asyncio.sleep(POLL_S)
        except (asyncio.CancelledError, ConnectionResetError):
            pass
        finally:
            self.tasks.discard(task)
        with contextlib.suppress(ConnectionResetError, RuntimeError):
            await response.write_eof()
        return response
