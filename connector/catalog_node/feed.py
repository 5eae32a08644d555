"""The change feed: a catalog node stays current from the catalog change events connectors
publish on JetStream (``connector.data.datasets``: offered or changed, withdrawn).

Two ways to reach the events, both through durable pull consumers named for this node, so a
node that was down catches up from where it stopped and no periodic full re-crawl is needed:

* ``imported=False`` (one NATS account, or the participant's own node): each registered
  participant's stream ``CATALOG_<participant>`` is read directly, one long-poll task each;
  a participant whose stream is missing is tried again at the next ``sync``.
* ``imported=True`` (operator mode, docs/catalog.md): the authority's account JWTs import
  every participant's change events into the node's account, renamed to
  ``tsunagu.catalogfeed.<participant>.changes`` (``authority.accounts.follow_catalogs``);
  one stream of the node's own (``CATALOG_FEED``) captures them all, also while the node is
  down, and one consumer reads it. The participant is the subject's third token, which the
  server fixes per exporting account; the node's own events (``own``) come from its own
  stream, as its account imports nothing from itself.

Every event is a Data Integrity document naming the provider its subject belongs to and
signed by a key that signed for that provider at the proof's time: its identity key or, after
a rotation, a key its key history names (``keys``: the connector's ``KeyBook``, fed by the
authority's signed key-history document; a key it does not know yet makes it fetch the
document once before the event is judged). Anything else is dropped, counted
(``invalid_signature``, ``invalid_entry``) and acknowledged so it is not redelivered; an
event that cannot be judged because no fresh key history is at hand is redelivered later.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import Any

import orjson
from nats.errors import ConnectionClosedError
from nats.errors import TimeoutError as NatsTimeout
from nats.js import JetStreamContext
from nats.js.api import (
    AckPolicy,
    ConsumerConfig,
    DeliverPolicy,
    DiscardPolicy,
    RetentionPolicy,
    StorageType,
    StreamConfig,
)
from nats.js.errors import NotFoundError

from catalog.service import INVALID_ENTRY, INVALID_SIGNATURE
from connector.bus import subjects
from connector.catalog_node.node import CatalogNode
from connector.data.datasets import CHANGE_TYPE, CHANGED, WITHDRAWN_EVENT, ensure_stream
from connector.runtime.key_book import KeyBook
from trust.errors import TrustCode, TsunaguError
from trust.keys import DID_KEY_PREFIX
from trust.proofs import verify_document

log = logging.getLogger(__name__)

FEED_MAX_AGE_S = 7 * 86400.0  # a node down longer re-crawls (its consumer fell behind)
RETRY_S = 1.0  # an event judged later (no fresh key history yet) comes back after this


def feed_stream_config(replicas: int = 1) -> StreamConfig:
    """The node's own stream of every imported participant's change events."""
    return StreamConfig(
        name=subjects.CATALOG_FEED_STREAM, description="tsunagu catalog node feed",
        subjects=[subjects.CATALOG_FEED_SUBJECTS], retention=RetentionPolicy.LIMITS,
        discard=DiscardPolicy.OLD, max_msgs=1_000_000, max_age=FEED_MAX_AGE_S,
        storage=StorageType.FILE, num_replicas=replicas)


class ChangeFeed:
    def __init__(self, node: CatalogNode, js: JetStreamContext, *, durable: str = "catalog-node",
                 batch: int = 256, imported: bool = False, own: str | None = None,
                 keys: KeyBook | None = None, replicas: int = 1) -> None:
        self.node, self.js, self.durable, self.batch = node, js, durable, batch
        self.imported, self.own, self.keys, self.replicas = imported, own, keys, replicas
        self._tasks: dict[str | None, asyncio.Task[None]] = {}  # None: the imported feed
        self.applied = 0

    async def sync(self) -> None:
        """Follow every registered participant's events; stop following the others."""
        registered = set(self.node.participants())
        if self.imported:
            direct = {self.own} & registered if self.own else set()
            if None not in self._tasks or self._tasks[None].done():
                await self._follow_imported()
        else:
            direct = registered
        for did in list(self._tasks):
            if did is not None and (did not in direct or self._tasks[did].done()):
                self._tasks.pop(did).cancel()
        for did in direct - set(self._tasks):
            assert did is not None
            try:
                sub = await self._subscribe(subjects.catalog_subject(did),
                                            subjects.catalog_stream(did))
            except NotFoundError:
                continue  # no stream yet (connector not started): next sync
            except Exception as exc:
                log.warning("catalog feed cannot follow a participant",
                            extra={"participant": did, "error": type(exc).__name__})
                continue
            self._tasks[did] = asyncio.get_running_loop().create_task(self._follow(did, sub))

    async def _follow_imported(self) -> None:
        try:
            await ensure_stream(self.js, feed_stream_config(self.replicas))
            sub = await self._subscribe(subjects.CATALOG_FEED_SUBJECTS,
                                        subjects.CATALOG_FEED_STREAM)
        except Exception as exc:
            log.warning("catalog feed cannot follow its imported stream",
                        extra={"error": type(exc).__name__})
            return
        self._tasks[None] = asyncio.get_running_loop().create_task(self._follow(None, sub))

    async def _subscribe(self, subject: str, stream: str) -> Any:
        return await self.js.pull_subscribe(
            subject, durable=self.durable, stream=stream,
            config=ConsumerConfig(ack_policy=AckPolicy.EXPLICIT,
                                  deliver_policy=DeliverPolicy.ALL))

    async def close(self) -> None:
        tasks = list(self._tasks.values())
        self._tasks.clear()
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task

    async def _follow(self, did: str | None, sub: Any) -> None:
        try:
            while True:
                try:
                    messages = await sub.fetch(self.batch, timeout=1.0)
                except (NatsTimeout, TimeoutError):  # nats-py raises either when idle
                    continue
                except ConnectionClosedError:
                    return  # the connector stopped; a new sync follows again
                try:
                    for msg in messages:
                        sender = did or _feed_participant(msg.subject)
                        if sender is None or await self.handle(sender, msg.data) is not None:
                            await msg.ack()
                        else:
                            await msg.nak(delay=RETRY_S)
                except ConnectionClosedError:
                    return
                except Exception as exc:  # never die quietly: unacked events come again
                    log.warning("catalog feed error", extra={"error": type(exc).__name__})
                    await asyncio.sleep(RETRY_S)
        finally:
            with contextlib.suppress(Exception):
                await sub.unsubscribe()

    async def handle(self, did: str, data: bytes) -> bool | None:
        """One event from ``did``: True if it changed the catalog, False if not (dropped
        or no change), None if it cannot be judged now (no fresh key history)."""
        document = self._parse(did, data)
        if document is None:
            return False
        error = self._verify(did, document)
        if error is not None and error.code == TrustCode.PROOF_WRONG_SIGNER \
                and self.keys is not None:
            # a key the book does not know yet: a rotation it has not heard of
            if await self.keys.refresh(unknown=[_signer(document)]):
                error = self._verify(did, document)
        if error is not None and error.code == TrustCode.KEY_HISTORY_UNKNOWN:
            return None
        return self._apply(did, document, error)

    def apply(self, did: str, data: bytes) -> bool:
        """``handle`` without fetching key histories (what the book knows now)."""
        document = self._parse(did, data)
        return False if document is None else \
            self._apply(did, document, self._verify(did, document))

    def _parse(self, did: str, data: bytes) -> dict[str, Any] | None:
        try:
            document = orjson.loads(data)
            if not isinstance(document, dict) or document.get("type") != CHANGE_TYPE \
                    or document.get("provider") != did:
                raise ValueError("not a catalog change event of this participant")
        except ValueError as exc:
            self.node.catalog.drop(did, INVALID_ENTRY, None, str(exc))
            return None
        return document

    def _verify(self, did: str, document: dict[str, Any]) -> TsunaguError | None:
        try:
            verify_document(document, expected_controller=did,
                            key_check=self.keys.check_proof if self.keys else None)
        except TsunaguError as exc:
            return exc
        return None

    def _apply(self, did: str, document: dict[str, Any], error: TsunaguError | None) -> bool:
        dataset = document.get("dataset")
        ident = dataset.get("@id") if isinstance(dataset, dict) else None
        ident = ident if isinstance(ident, str) else None
        if error is not None:
            self.node.catalog.drop(did, INVALID_SIGNATURE, ident, str(error.code))
            return False
        if document.get("event") == WITHDRAWN_EVENT and ident is not None:
            self.applied += 1
            return self.node.withdraw(did, ident)
        if document.get("event") == CHANGED:
            self.applied += 1
            return bool(self.node.add_dataset(did, dataset).admitted)
        self.node.catalog.drop(did, INVALID_ENTRY, ident, "unknown event")
        return False


def _feed_participant(subject: str) -> str | None:
    """The provider of an imported event: ``tsunagu.catalogfeed.<participant>.changes``."""
    parts = subject.split(".")
    return DID_KEY_PREFIX + parts[2] if len(parts) == 4 and parts[2] else None


def _signer(document: dict[str, Any]) -> str:
    proof = document.get("proof")
    method = proof.get("verificationMethod") if isinstance(proof, dict) else None
    return method.partition("#")[0] if isinstance(method, str) else ""
