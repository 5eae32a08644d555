"""Keeps the authority's signed status list fresh in a connector's StatusListCache.

Fetching is best effort: on failure the held list stays until it expires, after which every
credential check fails closed with ``credential.status_unknown``.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable

import aiohttp

from trust.errors import TsunaguError
from trust.status_list import StatusListCache

log = logging.getLogger(__name__)


async def fetch_status_list(cache: StatusListCache, url: str, timeout: float = 5.0) -> None:
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=timeout)) as http, \
            http.get(url) as response:
        response.raise_for_status()
        cache.add((await response.text()).strip(), expected_url=None)


class StatusListRefresher:
    """Fetches the list every ``interval_s``; ``on_refresh`` runs after each periodic fetch
    that succeeded (the connector ends agreements with newly revoked participants there)."""

    def __init__(self, cache: StatusListCache, url: str, interval_s: float = 60.0, *,
                 on_refresh: Callable[[], Awaitable[None]] | None = None,
                 before: Callable[[], Awaitable[object]] | None = None) -> None:
        self.cache, self.url, self.interval_s = cache, url, interval_s
        self.on_refresh = on_refresh
        # runs before each fetch: the key histories, whose authority key chain a list
        # signed by the authority's new key needs (connector.runtime.key_book)
        self.before = before
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        await self.refresh()
        self._task = asyncio.create_task(self._loop())

    async def refresh(self) -> bool:
        if self.before is not None:
            await self.before()
        try:
            await fetch_status_list(self.cache, self.url)
        except (aiohttp.ClientError, TimeoutError, TsunaguError) as exc:
            log.warning("status list refresh failed",
                        extra={"error": getattr(exc, "code", type(exc).__name__)})
            return False
        return True

    async def _loop(self) -> None:
        while True:
            await asyncio.sleep(self.interval_s)
            if await self.refresh() and self.on_refresh is not None:
                try:
                    await self.on_refresh()
                except Exception:  # the next refresh tries again; the loop must not die
                    log.exception("acting on the status list failed")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
