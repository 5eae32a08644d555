"""Shared pieces of the hostile-input tests: a local context server that must stay unasked,
deeply nested values, and a raw NATS client that writes protocol lines by hand."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from urllib.parse import urlsplit

from aiohttp import web


@dataclass
class Trap:
    """An HTTP server on 127.0.0.1:0 that records every request it receives."""

    url: str
    hits: list[str] = field(default_factory=list)


@asynccontextmanager
async def context_trap() -> AsyncIterator[Trap]:
    hits: list[str] = []

    async def answer(request: web.Request) -> web.Response:
        hits.append(request.path)
        return web.json_response({"@context": {"evil": "https://evil.example/#"}})

    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", answer)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    try:
        yield Trap(f"http://127.0.0.1:{port}/context.jsonld", hits)
    finally:
        await runner.cleanup()


def nested_list(depth: int, leaf: object = 1) -> object:
    value = leaf
    for _ in range(depth):
        value = [value]
    return value


def nested_json(depth: int) -> bytes:
    return b"[" * depth + b"1" + b"]" * depth


async def raw_nats(url: str, *frames: bytes) -> None:
    """Write ``frames`` (hand-made ``PUB``/``HPUB`` lines, any bytes) on a plain TCP connection
    to the server at ``url``, then wait for the PONG that shows the server processed them.

    nats-py cannot send these: it encodes subjects as UTF-8 text.
    """
    parts = urlsplit(url)
    reader, writer = await asyncio.open_connection(parts.hostname, parts.port)
    try:
        assert (await reader.readline()).startswith(b"INFO ")
        writer.write(b'CONNECT {"verbose":false,"pedantic":false,"headers":true}\r\n'
                     + b"".join(frames) + b"PING\r\n")
        await writer.drain()
        line = await asyncio.wait_for(reader.readline(), 5)
        assert line == b"PONG\r\n", line  # an -ERR would mean the server refused a frame
    finally:
        writer.close()
        await writer.wait_closed()


def pub(subject: bytes, payload: bytes, reply: bytes = b"") -> bytes:
    """A ``PUB`` frame; ``subject`` and ``reply`` are raw bytes, UTF-8 or not."""
    reply_part = b" " + reply if reply else b""
    return b"PUB " + subject + reply_part + b" %d\r\n" % len(payload) + payload + b"\r\n"


def hpub(subject: bytes, headers: bytes, payload: bytes) -> bytes:
    """An ``HPUB`` frame whose header block (``NATS/1.0...\\r\\n\\r\\n``) is raw bytes."""
    return (b"HPUB " + subject + b" %d %d\r\n" % (len(headers), len(headers) + len(payload))
            + headers + payload + b"\r\n")
