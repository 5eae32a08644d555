"""Back-pressure on the app API's writes: a flood meets 503 with Retry-After, not a queue.

Why: every record write (``records:write`` routes, a plug-in's too) validates, signs, commits
and publishes on the connector's one event loop, and aiohttp accepts every connection, so an
app that sends faster than the connector signs would otherwise pile up requests, their
bodies in memory and their work on the loop, without bound, and every other app (an event
stream, another provider's app) would wait behind them. Admission is decided before the
body is read: at most ``max_requests`` write requests and ``max_bytes`` of their declared
bodies (``Content-Length``; a chunked body counts as the largest allowed) are in flight at
once. Beyond that the request is refused at once with ``api.busy`` (503, ``Retry-After``);
nothing of it was read or written, so the app sends the same batch again later (a batch is
all or nothing: connector.data.records.publish_many).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from aiohttp import web

from connector.errors import ConnectorCode
from trust.errors import TsunaguError

WRITE_SCOPE = "records:write"
MAX_REQUESTS = 64  # an open-loop app (bench/latency.py) keeps dozens in flight; bytes bound memory
MAX_BYTES = 32 * 1024 * 1024
RETRY_AFTER_S = 1
BUSY = "tsunagu_api_busy_total"

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


class Busy(TsunaguError):
    """The connector is busy"""

    code = ConnectorCode.API_BUSY


@dataclass
class WriteAdmission:
    """Counts the write requests in flight and their declared bytes (sans-I/O)."""

    max_requests: int = MAX_REQUESTS
    max_bytes: int = MAX_BYTES
    retry_after_s: int = RETRY_AFTER_S
    requests: int = 0
    bytes: int = 0

    def admit(self, size: int) -> None:
        """Count a request of ``size`` bytes in, or raise ``Busy`` naming the limit."""
        if self.requests >= self.max_requests:
            raise Busy(f"{self.requests} record writes are in flight, the most this connector "
                       f"takes at once ([api] max_writes_in_flight); send it again after "
                       f"{self.retry_after_s} s", retry_after=self.retry_after_s,
                       limit="max_writes_in_flight")
        if self.requests and self.bytes + size > self.max_bytes:
            raise Busy(f"record writes of {self.bytes + size} bytes would be in flight, more "
                       f"than this connector takes at once ([api] max_write_mb_in_flight); "
                       f"send it again after {self.retry_after_s} s",
                       retry_after=self.retry_after_s, limit="max_write_mb_in_flight")
        self.requests += 1
        self.bytes += size

    def release(self, size: int) -> None:
        self.requests -= 1
        self.bytes -= size


def middleware(admission: WriteAdmission, largest_body: int, count: Callable[[str], None]
               ) -> Callable[[web.Request, Handler], Awaitable[web.StreamResponse]]:
    """An aiohttp middleware admitting ``records:write`` requests (after authentication,
    so an app without the scope learns that first)."""

    @web.middleware
    async def admit(request: web.Request, handler: Handler) -> web.StreamResponse:
        if getattr(request.match_info.handler, "scope", None) != WRITE_SCOPE:
            return await handler(request)
        size = request.content_length if request.content_length is not None else largest_body
        try:
            admission.admit(size)
        except Busy as exc:
            count(str(exc.details.get("limit")))
            raise
        try:
            return await handler(request)
        finally:
            admission.release(size)

    return admit
