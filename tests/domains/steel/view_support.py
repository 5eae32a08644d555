"""The supply-chain view on a real socket, fed by the sample provenances: ``/chain/`` the
coil's pieces (all verified), ``/failing/`` a chain with a parent hash that does not match,
``/flagged/`` a coil whose certificate fails SS400, ``/unavailable/`` no chain side."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass

import pytest
from aiohttp import web

from domains.steel.package.source import find_provenances
from domains.steel.view.app import view_app
from domains.steel.view.tree import finder_over
from tests.domains.steel import provenance_samples as samples


@dataclass(frozen=True)
class ChainView:
    origin: str

    def url(self, mount: str = "chain", path: str = "") -> str:
        return f"{self.origin}/domains/steel/{mount}/{path}"


@pytest.fixture
async def chain_view():
    root = web.Application()
    root.add_subapp("/domains/steel/chain/", view_app(finder_over(samples.strip_holders())))
    root.add_subapp("/domains/steel/failing/", view_app(finder_over([samples.failing()])))
    root.add_subapp("/domains/steel/flagged/", view_app(finder_over([samples.flagged()])))
    root.add_subapp("/domains/steel/unavailable/", view_app(find_provenances))
    async with serving(root) as origin:
        yield ChainView(origin)


@asynccontextmanager
async def serving(root: web.Application) -> AsyncIterator[str]:
    """``root`` on a free port of 127.0.0.1; its origin."""
    runner = web.AppRunner(root)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    host, port = runner.addresses[0][:2]
    try:
        yield f"http://{host}:{port}"
    finally:
        await runner.cleanup()
