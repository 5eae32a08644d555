"""A running connector follows its key and credential files: when `tsunagu connector
rotate-key --install` puts a new pair in place, the connector signs with it from then on
(``Connector.rotate_key``), without a restart, inside the old key's rotation overlap.

The install replaces two files one after the other; a pair that does not match yet (the key
moved, the credential not yet) is looked at again on the next tick, never half-used.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import logging
from collections.abc import Awaitable, Callable
from pathlib import Path

from trust.at_rest import AtRestKey
from trust.errors import TsunaguError
from trust.keys import KeyPair, load_key

log = logging.getLogger(__name__)

Rotate = Callable[[KeyPair, str], Awaitable[None]]


def _digest(*paths: Path) -> bytes | None:
    h = hashlib.sha256()
    try:
        for path in paths:
            h.update(path.read_bytes())
    except OSError:
        return None
    return h.digest()


class KeyWatch:
    def __init__(self, key_path: Path, credential_path: Path, rotate: Rotate,
                 interval_s: float = 2.0, at_rest: AtRestKey | None = None) -> None:
        self.key_path, self.credential_path = Path(key_path), Path(credential_path)
        self.at_rest = at_rest  # the key file is sealed with it
        self.rotate, self.interval_s = rotate, interval_s
        self._seen = _digest(self.key_path, self.credential_path)
        self._task: asyncio.Task[None] | None = None
        self.rotations = 0

    def start(self) -> None:
        self._task = asyncio.get_running_loop().create_task(self._loop(), name="key watch")

    async def _loop(self) -> None:
        while True:
            await asyncio.sleep(self.interval_s)
            now = _digest(self.key_path, self.credential_path)
            if now is None or now == self._seen:
                continue
            try:
                key = load_key(self.key_path, self.at_rest)
                credential = self.credential_path.read_text(encoding="ascii").strip()
                await self.rotate(key, credential)
            except (TsunaguError, OSError) as exc:  # half-installed: look again next tick
                log.info("new key or credential on disk not usable yet",
                         extra={"error": getattr(exc, "code", type(exc).__name__)})
                continue
            self._seen = now
            self.rotations += 1

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
