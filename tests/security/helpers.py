"""Shared pieces of the hostile-input tests: a local context server that must stay unasked."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field

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
