"""The catalog node as a connector service (``[catalog_node] enabled = true``).

While the connector runs, one background task keeps the node current:

1. read the authority's signed participant registry (``registry_url`` over HTTP, or asked of
   the authority over NATS in operator mode), verify it, and make its live participants the
   catalog's: a revoked or expired participant's datasets go at once;
2. crawl every participant not crawled yet (all at the first round; later only newcomers
   and those whose crawl failed), over the connector's DSP bus;
3. follow every participant's change feed (``ChangeFeed.sync``), so changes are seen within
   a second without re-crawling;
4. wait until the next refresh: ``refresh_s`` at most, and always before the registry's
   ``validUntil`` (a node never searches with a registry it could not renew in time).

Failures (authority unreachable, a bad registry, a crawl or feed error) are logged, counted
on /metrics as ``tsunagu_catalog_node_failures_total{stage}`` and retried at the next round;
they never stop the connector (an index file that cannot be opened leaves the connector
running without a node, ``stage="index"``). The index is a file in the connector's data
folder, owned by this service (``catalog.index``): searches after a restart answer from it
at once.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import aiohttp

from connector.catalog_node.feed import ChangeFeed
from connector.catalog_node.node import CatalogNode, CrawlReport, connector_fetch
from trust.errors import TsunaguError

if TYPE_CHECKING:
    from connector.runtime.connector import Connector

log = logging.getLogger(__name__)

FAILURES = "tsunagu_catalog_node_failures_total"
RETRY_S = 5.0  # after a failed round, at most this long before the next try
EARLY = 0.2  # renew the registry when this share of its validity is left


class RegistryUnavailable(Exception):
    """The registry could not be fetched (the authority is unreachable or answered badly)."""


async def fetch_registry(url: str, timeout: float = 10.0) -> Any:
    """The registry document at ``url`` (verified by the caller, not here)."""
    try:
        async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=timeout)) as http, \
                http.get(url) as response:
            if response.status != 200:
                raise RegistryUnavailable(f"HTTP {response.status}")
            return await response.json(content_type=None)
    except (aiohttp.ClientError, TimeoutError, ValueError) as exc:
        raise RegistryUnavailable(type(exc).__name__) from None


class CatalogNodeService:
    """Runs a ``CatalogNode`` for the connector when its config enables one; ``node`` is
    None otherwise (the app API and the catalog page then answer that none runs)."""

    def __init__(self, connector: Connector) -> None:
        self.connector = connector
        self.node: CatalogNode | None = None
        self.feed: ChangeFeed | None = None
        self.rounds = 0  # completed refresh rounds (tests wait on it)
        self._crawled: set[str] = set()
        self._task: asyncio.Task[None] | None = None
        self._wake = asyncio.Event()
        self._stopping = False

    @property
    def enabled(self) -> bool:
        return self.connector.config.catalog_node.enabled

    @property
    def authority(self) -> str:
        config = self.connector.config
        return config.catalog_node.authority or config.authority.dids[0]

    async def startup(self) -> None:
        if not self.enabled:
            return
        connector = self.connector
        connector.metrics.describe(FAILURES, "catalog node rounds that failed, by stage")
        try:
            self.node = CatalogNode(str(connector.config.catalog_index_path))
        except Exception as exc:  # an unreadable index file: the connector runs without
            self._failed("index", exc)
            return
        # Operator mode: the participants' change subjects come through this account's
        # imports (``tsunagu authority catalog-node``), captured by its own CATALOG_FEED
        # stream; events verify against the participants' key histories either way.
        self.feed = ChangeFeed(self.node, connector.js,
                               durable=f"catalog-node-{connector.identity.participant_id}",
                               imported=connector.grants is not None, own=connector.did,
                               keys=connector.checker.keys)
        self._crawled = set()
        self._wake = asyncio.Event()
        self._stopping = False
        self._task = asyncio.get_running_loop().create_task(self._run())

    async def shutdown(self) -> None:
        task, self._task = self._task, None
        if task is not None:
            # A library call in a round may turn a cancellation into its own error (which
            # the round counts and goes on from): the flag ends the loop whatever happens.
            self._stopping = True
            self._wake.set()
            while not task.done():
                task.cancel()
                await asyncio.wait({task}, timeout=1.0)
            with contextlib.suppress(asyncio.CancelledError, Exception):
                task.result()
        if self.feed is not None:
            await self.feed.close()
            self.feed = None
        if self.node is not None:
            self.node.close()
            self.node = None

    def refresh_now(self) -> None:
        """Start the next round without waiting (tests; an operator after a revocation)."""
        self._wake.set()

    async def _run(self) -> None:
        await asyncio.sleep(0)  # let the connector finish starting (its DSP endpoint too)
        while not self._stopping:
            wait = await self.round()
            if self._stopping:
                return
            self._wake.clear()
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(wait):
                    await self._wake.wait()

    async def round(self) -> float:
        """One refresh: registry, crawl of the participants not crawled yet, change feed.
        Returns the seconds until the next one."""
        config = self.connector.config.catalog_node
        try:
            valid_until = await self._load_registry()
        except Exception as exc:  # never the connector's end: logged, counted, retried
            self._failed("registry", exc)
            return min(RETRY_S, config.refresh_s)
        try:
            report = await self._crawl(config.crawl_timeout_s)
            self._crawled |= set(report.crawled)
        except Exception as exc:
            self._failed("crawl", exc)
        try:
            assert self.feed is not None
            await self.feed.sync()
        except Exception as exc:
            self._failed("feed", exc)
        self.rounds += 1
        left = (valid_until - datetime.now(UTC)).total_seconds()
        return max(1.0, min(config.refresh_s, left * (1 - EARLY) if left > 0 else RETRY_S))

    async def _load_registry(self) -> datetime:
        assert self.node is not None
        url = self.connector.config.catalog_node.registry_url
        if url is not None:
            document = await fetch_registry(url)
        elif self.connector.grants is not None:
            document = (await self.connector.grants.participant_registry()).document
        else:
            raise RegistryUnavailable("no registry_url, and no authority to ask over NATS "
                                      "(insecure_no_auth)")
        removed = self.node.load_registry(document, authority=self.authority)
        self._crawled -= set(removed)
        if removed:
            log.info("participants left the registry: their datasets are removed",
                     extra={"participants": len(removed)})
        assert self.node.registry is not None
        return datetime.fromisoformat(self.node.registry.valid_until)

    async def _crawl(self, timeout: float) -> CrawlReport:
        """Crawl only the participants not crawled yet: the change feed keeps the others
        current, so a full re-crawl is never needed to see a change."""
        assert self.node is not None
        pending = [did for did in self.node.participants() if did not in self._crawled]
        if not pending:
            return CrawlReport()
        return await self.node.crawl(connector_fetch(self.connector), timeout=timeout,
                                     only=set(pending))

    def _failed(self, stage: str, exc: BaseException) -> None:
        code = exc.code if isinstance(exc, TsunaguError) else type(exc).__name__
        self.connector.metrics.inc(FAILURES, stage=stage)
        log.warning("catalog node round failed", extra={"stage": stage, "error": str(code)})

    def metrics(self) -> str:
        """The node's own series (datasets, drops, crawl failures), for /metrics."""
        return self.node.metrics() if self.node is not None else ""

