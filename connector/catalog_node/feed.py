"""The change feed: a catalog node stays current from the catalog change events connectors
publish on JetStream (``connector.data.datasets``: offered or changed, withdrawn).

Each registered participant's stream (``subjects.catalog_stream``) is read through a durable
pull consumer named for this node, so a node that was down catches up from where it stopped,
and no periodic full re-crawl is needed to see a change. One long-poll task per participant:
a participant whose stream is missing is tried again at the next ``sync``; a failing or
hostile one never stops the others. Every event is a Data Integrity document signed by the
provider's key and naming the provider its stream belongs to; anything else is dropped,
counted (``invalid_signature``, ``invalid_entry``) and acknowledged so it is not redelivered.

Operator mode: participants' streams live in their own NATS accounts; a node in another
account needs the authority to export/import the catalog subjects (not done yet, see
docs/catalog.md), so the feed runs where the node can read the providers' streams.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import Any

import orjson
from nats.errors import TimeoutError as NatsTimeout
from nats.js import JetStreamContext
from nats.js.api import AckPolicy, ConsumerConfig, DeliverPolicy
from nats.js.errors import NotFoundError

from catalog.service import INVALID_ENTRY, INVALID_SIGNATURE
from connector.bus import subjects
from connector.catalog_node.node import CatalogNode
from connector.data.datasets import CHANGE_TYPE, CHANGED, WITHDRAWN_EVENT
from trust.errors import TsunaguError
from trust.proofs import verify_document

log = logging.getLogger(__name__)


class ChangeFeed:
    def __init__(self, node: CatalogNode, js: JetStreamContext, *, durable: str = "catalog-node",
                 batch: int = 256) -> None:
        self.node, self.js, self.durable, self.batch = node, js, durable, batch
        self._tasks: dict[str, asyncio.Task[None]] = {}
        self.applied = 0

    async def sync(self) -> None:
        """Follow every registered participant's stream; stop following the others."""
        wanted = set(self.node.participants())
        for did in list(self._tasks):
            if did not in wanted or self._tasks[did].done():
                self._tasks.pop(did).cancel()
        for did in wanted - set(self._tasks):
            try:
                sub = await self.js.pull_subscribe(
                    subjects.catalog_subject(did), durable=self.durable,
                    stream=subjects.catalog_stream(did),
                    config=ConsumerConfig(ack_policy=AckPolicy.EXPLICIT,
                                          deliver_policy=DeliverPolicy.ALL))
            except NotFoundError:
                continue  # no stream yet (connector not started): next sync
            except Exception as exc:
                log.warning("catalog feed cannot follow a participant",
                            extra={"participant": did, "error": type(exc).__name__})
                continue
            self._tasks[did] = asyncio.get_running_loop().create_task(self._follow(did, sub))

    async def close(self) -> None:
        tasks = list(self._tasks.values())
        self._tasks.clear()
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task

    async def _follow(self, did: str, sub: Any) -> None:
        try:
            while True:
                try:
                    messages = await sub.fetch(self.batch, timeout=1.0)
                except NatsTimeout:
                    continue
                for msg in messages:
                    self.apply(did, msg.data)
                    await msg.ack()
        finally:
            with contextlib.suppress(Exception):
                await sub.unsubscribe()

    def apply(self, did: str, data: bytes) -> bool:
        """One event from ``did``'s stream; True if it changed the catalog."""
        try:
            document = orjson.loads(data)
            if not isinstance(document, dict) or document.get("type") != CHANGE_TYPE \
                    or document.get("provider") != did:
                raise ValueError("not a catalog change event of this participant")
        except ValueError as exc:
            self.node.catalog.drop(did, INVALID_ENTRY, None, str(exc))
            return False
        dataset = document.get("dataset")
        ident = dataset.get("@id") if isinstance(dataset, dict) else None
        try:
            verify_document(document, expected_controller=did)
        except TsunaguError as exc:
            self.node.catalog.drop(did, INVALID_SIGNATURE, ident if isinstance(ident, str)
                                   else None, str(exc.code))
            return False
        if document.get("event") == WITHDRAWN_EVENT and isinstance(ident, str):
            self.applied += 1
            return self.node.withdraw(did, ident)
        if document.get("event") == CHANGED:
            self.applied += 1
            return bool(self.node.add_dataset(did, dataset).admitted)
        self.node.catalog.drop(did, INVALID_ENTRY, ident if isinstance(ident, str) else None,
                               "unknown event")
        return False
