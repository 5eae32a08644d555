"""Follows the connector's NATS credentials file: a new user installed there (the authority
rotated the participant's account key, ``authority.space.AuthorityNats.rotate_account_key``)
is logged in with at once, before the authority retires the old one.

nats-py reads a credentials file at every (re)connect, but it closes the connection for good
when the server refuses its user (an ``-ERR`` other than a permissions one), so waiting for
the server to drop the old user would stop the connector. Reconnecting as soon as the file
changes makes the switch one reconnect.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import logging
from collections.abc import Callable
from pathlib import Path

from nats.aio.client import Client

log = logging.getLogger(__name__)


def _digest(path: Path) -> bytes | None:
    try:
        return hashlib.sha256(path.read_bytes()).digest()
    except OSError:
        return None  # being replaced: look again next time


class CredentialsWatch:
    """``reload``: called when the file changed, before the reconnect, for credentials the
    connection holds in memory (a file sealed at rest: connector.runtime.at_rest); it may
    rewrite the file (sealing a plain one), which is then the version seen."""

    def __init__(self, nc: Client, path: Path, interval_s: float = 2.0,
                 reload: Callable[[], None] | None = None) -> None:
        self.nc, self.path, self.interval_s = nc, Path(path), interval_s
        self.reload = reload
        self._seen = _digest(self.path)
        self._task: asyncio.Task[None] | None = None
        self.reconnects = 0  # done because the file changed

    def start(self) -> None:
        self._task = asyncio.get_running_loop().create_task(self._loop(),
                                                            name="nats credentials watch")

    async def _loop(self) -> None:
        while True:
            await asyncio.sleep(self.interval_s)
            now = _digest(self.path)
            if now is None or now == self._seen:
                continue
            if self.reload is not None:
                try:
                    self.reload()
                except Exception as exc:  # half-written: look again next time
                    log.info("new NATS credentials not readable yet",
                             extra={"error": getattr(exc, "code", type(exc).__name__)})
                    continue
                now = _digest(self.path)
            self._seen = now
            if self.nc.is_connected:
                log.info("NATS credentials changed: reconnecting with them")
                self.reconnects += 1
                await self.nc.force_reconnect()

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
