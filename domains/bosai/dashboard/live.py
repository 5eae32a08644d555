"""Live sections over Server-Sent Events, fed by the hub's ``ChangeFeed``.

The page is rendered at feed counter ``seq`` and opens ``events?...&since=seq``. The stream
waits for the counter to move, re-renders the page's sections and sends those whose markup
changed::

    event: sections
    data: {"seq": 12, "updated": "最終更新 ...", "sections": {"totals": "<dl>...", ...}}

Renderings are shared: ``Snapshots`` keeps the latest sections per (view, language) with the
counter they were made at, so a hundred open dashboards cost one set of queries per change,
and the page load's own rendering is what a new stream compares against. Changes close
together are coalesced (``COALESCE_S``) into one rendering.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Hashable
from datetime import UTC, datetime

import orjson
from aiohttp import web

from connector.web.markup import Sections
from domains.bosai.dashboard.i18n import Lang, t, when
from domains.bosai.feed import ChangeFeed

COALESCE_S = 0.05
HEARTBEAT_S = 15.0
CHECK_S = 1.0  # how often an open stream asks whether its viewer may still see it
CACHE_SIZE = 64


class Snapshots:
    """The latest rendering of each view, tagged with the feed counter it was made at."""

    def __init__(self, feed: ChangeFeed, size: int = CACHE_SIZE) -> None:
        self.feed, self.size = feed, size
        self._cache: dict[Hashable, tuple[int, Sections]] = {}

    def get(self, key: Hashable, render: Callable[[], Sections]) -> tuple[int, Sections]:
        seq = self.feed.seq  # read first: a change during rendering is seen next time
        hit = self._cache.pop(key, None)
        if hit is None or hit[0] != seq:
            hit = (seq, render())
        self._cache[key] = hit  # most recently used last
        while len(self._cache) > self.size:
            self._cache.pop(next(iter(self._cache)))
        return hit

    def at(self, key: Hashable, seq: int) -> Sections | None:
        hit = self._cache.get(key)
        return hit[1] if hit is not None and hit[0] == seq else None


class LiveStreams:
    """Open streams, so that a shutting-down connector ends them instead of waiting."""

    def __init__(self, heartbeat: float = HEARTBEAT_S) -> None:
        self.heartbeat = heartbeat
        self._tasks: set[asyncio.Task[object]] = set()

    async def close(self, _app: web.Application | None = None) -> None:
        for task in list(self._tasks):
            task.cancel()

    async def stream(self, request: web.Request, snapshots: Snapshots, key: Hashable,
                     render: Callable[[], Sections], since: int, lang: Lang,
                     alive: Callable[[], bool] = lambda: True) -> web.StreamResponse:
        """``alive`` is asked every ``CHECK_S``: once it says no (the viewer's session was
        revoked, expired or logged out), the stream ends."""
        response = web.StreamResponse(headers={
            "Content-Type": "text/event-stream", "Cache-Control": "no-store",
            "X-Accel-Buffering": "no"})
        await response.prepare(request)
        task = asyncio.current_task()
        if task is not None:
            self._tasks.add(task)
        try:
            await self._run(response, snapshots, key, render, since, lang, alive)
        except (ConnectionResetError, asyncio.CancelledError):
            pass
        finally:
            if task is not None:
                self._tasks.discard(task)
        return response

    async def _run(self, response: web.StreamResponse, snapshots: Snapshots, key: Hashable,
                   render: Callable[[], Sections], since: int, lang: Lang,
                   alive: Callable[[], bool]) -> None:
        feed = snapshots.feed
        # A counter from before a restart of the hub says nothing: send everything.
        seen = since if since <= feed.seq else -1
        sent = snapshots.at(key, since) or {}
        await response.write(b"retry: 1000\n\n")
        loop = asyncio.get_running_loop()
        beat = loop.time()
        while True:
            if not alive():
                return
            if feed.seq > seen:
                seen, sections = snapshots.get(key, render)
                changed = {k: v for k, v in sections.items() if sent.get(k) != v}
                sent = sections
                if changed:
                    await response.write(event(seen, changed, lang))
                await asyncio.sleep(COALESCE_S)
                continue
            if await feed.wait(seen, min(self.heartbeat, CHECK_S)) == seen \
                    and loop.time() - beat >= self.heartbeat:
                beat = loop.time()
                await response.write(b": keep-alive\n\n")


def event(seq: int, sections: Sections, lang: Lang) -> bytes:
    data = {"seq": seq, "sections": sections,
            "updated": t(lang, "updated_at", time=when(datetime.now(UTC), seconds=True))}
    # orjson never writes a raw newline, so one data line holds the whole event.
    return b"event: sections\ndata: " + orjson.dumps(data) + b"\n\n"
