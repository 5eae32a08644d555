"""Content keys of sealed streams (trust.sealing): the provider's, and those a consumer got.

Provider: each offered dataset's stream has a current content key (``content_keys``). A key
is replaced by a new epoch when it is older than ``lifetime_s`` (a schedule) and whenever an
agreement on the dataset ends (termination, a revoked consumer): what is published after
that is sealed with a key the ended consumer can never obtain. Old epochs are kept, so
consumers with a live agreement can still open what was published under them.

Consumer: the first message of an epoch it has no key for makes it ask the provider
(``tsunagu:ContentKeyRequest`` over the DSP bus, signed and credential-checked like every
DSP message). The provider answers only the consumer of a live agreement on that dataset,
with the key wrapped to the consumer's key agreement key, bound to the agreement, stream
and epoch. The consumer keeps it (``held_content_keys``) until the agreement ends, when the
keys go with the data (``forget``).

Keys are stored as they are: encrypting them at rest is the at-rest key's job (issue 13,
item 2), as for every other secret of the store.
"""

from __future__ import annotations

import asyncio
import logging
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from connector.bus import subjects
from connector.bus.messaging import RemoteError, RemoteUnreachable
from connector.errors import ConnectorCode
from trust.credentials import VerifiedCredential
from trust.envelope import Envelope
from trust.errors import TsunaguError, ValidationError
from trust.sealing import (
    SEAL_HEADER,
    ContentKey,
    SealError,
    bound_to,
    epoch_of,
    open_sealed,
    unwrap,
    wrap,
)

if TYPE_CHECKING:
    from connector.runtime.connector import Connector

log = logging.getLogger(__name__)

REQUEST_TYPE = "tsunagu:ContentKeyRequest"
KEY_TYPE = "tsunagu:ContentKey"
ROTATED = "tsunagu_content_keys_rotated_total"
_EPOCH_MAX = 64


class ContentKeyUnavailable(TsunaguError):
    """The provider is away: the messages wait (unacked) and are read again later."""

    code = ConnectorCode.CONTENT_KEY_UNAVAILABLE


class ContentKeyRefused(TsunaguError):
    """The provider will not give this key (the agreement ended, or it never existed)."""

    code = ConnectorCode.CONTENT_KEY_REFUSED


class ContentKeys:
    """``connector.content_keys``."""

    def __init__(self, connector: Connector, *, lifetime_s: float) -> None:
        self.connector = connector
        self.lifetime = timedelta(seconds=lifetime_s)
        self._current: dict[str, tuple[ContentKey, datetime]] = {}  # dataset -> key, created
        self._held: dict[tuple[str, str], ContentKey] = {}  # (agreement, epoch) -> key
        self._asking: dict[tuple[str, str], asyncio.Future[ContentKey]] = {}

    async def startup(self) -> None:
        self.connector.metrics.describe(ROTATED, "content keys replaced, by reason")
        self.connector.route(REQUEST_TYPE, self._on_request)
        self._current.clear()
        self._held.clear()

    async def shutdown(self) -> None:
        for future in self._asking.values():
            future.cancel()
        self._asking.clear()

    # --------------------------------------------------------------- provider

    def current(self, dataset_id: str, now: datetime | None = None) -> ContentKey:
        """The key to seal the dataset's next messages with (a new epoch when the current
        one has outlived ``lifetime_s``)."""
        now = now or datetime.now(UTC)
        cached = self._current.get(dataset_id)
        if cached is None:
            cached = self._load_current(dataset_id)
        if cached is None or now - cached[1] >= self.lifetime:
            return self.rotate(dataset_id, "scheduled" if cached else "first", now)
        return cached[0]

    def rotate(self, dataset_id: str, reason: str, now: datetime | None = None) -> ContentKey:
        """A new epoch for the dataset's stream, used from now on."""
        now = now or datetime.now(UTC)
        key = ContentKey.generate()
        with self.connector.store.transaction() as db:
            db.execute("INSERT INTO content_keys (dataset_id, epoch, key, created) "
                       "VALUES (?, ?, ?, ?)", (dataset_id, key.epoch, key.key, now.isoformat()))
            self.connector.audit.append("content_key_rotated", now, dataset=dataset_id,
                                        epoch=key.epoch, reason=reason)
        self._current[dataset_id] = (key, now)
        self.connector.metrics.inc(ROTATED, reason=reason)
        return key

    def _load_current(self, dataset_id: str) -> tuple[ContentKey, datetime] | None:
        rows = self.connector.store.query(
            "SELECT epoch, key, created FROM content_keys WHERE dataset_id = ? "
            "ORDER BY rowid DESC LIMIT 1", (dataset_id,))
        if not rows:
            return None
        epoch, key, created = rows[0]
        return ContentKey(epoch, bytes(key)), datetime.fromisoformat(created)

    def open_own(self, dataset_id: str, subject: str, headers: dict[str, str] | None,
                 data: bytes) -> bytes:
        """A message of one of this provider's own streams, opened (an operator checking
        what its stream holds; tests)."""
        headers = headers or {}
        epoch = epoch_of(headers.get(SEAL_HEADER))
        key = self._epoch(dataset_id, epoch) if epoch is not None else None
        if key is None:
            raise SealError(f"no key of this connector opens this message (epoch {epoch})")
        return open_sealed(key, data, context=bound_to(subject, headers.get("Nats-Msg-Id", "")))

    def _epoch(self, dataset_id: str, epoch: str) -> ContentKey | None:
        rows = self.connector.store.query(
            "SELECT key FROM content_keys WHERE dataset_id = ? AND epoch = ?",
            (dataset_id, epoch))
        return ContentKey(epoch, bytes(rows[0][0])) if rows else None

    async def _on_request(self, env: Envelope, credential: VerifiedCredential
                          ) -> tuple[str, dict[str, Any]]:
        """Answer a consumer asking for one epoch's key under its agreement."""
        agreement_id, epoch = _text(env.payload, "agreementId"), _text(env.payload, "epoch")
        c = self.connector
        row = c.agreements.get(agreement_id)
        if row is None or row["role"] != "provider" or row["consumer"] != credential.did:
            raise ContentKeyRefused("no agreement with you under this id")
        if row["status"] not in ("agreed", "active"):
            c.audit.append("content_key_refused", agreement=agreement_id, epoch=epoch,
                           consumer=credential.did, reason=row["status"])
            raise ContentKeyRefused(f"the agreement is {row['status']}: no keys under it")
        key = self._epoch(row["datasetId"], epoch)
        if key is None:
            raise ContentKeyRefused(f"no epoch {epoch} on this agreement's dataset")
        stream = subjects.dataset_stream(c.did, row["datasetId"])
        c.audit.append("content_key_given", agreement=agreement_id, epoch=epoch,
                       consumer=credential.did)
        return KEY_TYPE, {"agreementId": agreement_id, "epoch": epoch,
                          # to the key the consumer signs with (it may have rotated)
                          "wrapped": wrap(key, to=credential.signing_key,
                                          agreement=agreement_id,
                                          stream=stream)}

    # --------------------------------------------------------------- consumer

    async def key_for(self, agreement: dict[str, Any], stream: str, epoch: str) -> ContentKey:
        """The key of ``epoch`` for messages received under ``agreement``: held, or asked
        for once (concurrent callers share the one request)."""
        slot = (agreement["id"], epoch)
        held = self._held.get(slot) or self._load_held(*slot)
        if held is not None:
            self._held[slot] = held
            return held
        asking = self._asking.get(slot)
        if asking is None:
            asking = asyncio.get_running_loop().create_future()
            self._asking[slot] = asking
            try:
                asking.set_result(await self._ask(agreement, stream, epoch))
            except BaseException as exc:
                asking.set_exception(exc)
            finally:
                del self._asking[slot]
        return await asyncio.shield(asking)

    async def _ask(self, agreement: dict[str, Any], stream: str, epoch: str) -> ContentKey:
        c = self.connector
        try:
            env, _ = await c.dsp.request(agreement["provider"], REQUEST_TYPE,
                                         {"agreementId": agreement["id"], "epoch": epoch})
        except RemoteUnreachable as exc:
            raise ContentKeyUnavailable(
                f"the provider did not answer for the key of epoch {epoch}") from exc
        except RemoteError as exc:
            raise ContentKeyRefused(f"the provider refused the key of epoch {epoch}: "
                                    f"{exc.message}") from exc
        try:
            key = unwrap(str(env.payload.get("wrapped", "")), c.identity.key,
                         agreement=agreement["id"], stream=stream, epoch=epoch)
        except SealError as exc:
            raise ContentKeyRefused(f"the provider's key for epoch {epoch} does not open "
                                    f"here: {exc.message}") from exc
        with c.store.transaction() as db:
            db.execute("INSERT OR IGNORE INTO held_content_keys (agreement_id, epoch, key, "
                       "received) VALUES (?, ?, ?, ?)", (agreement["id"], epoch, key.key,
                                                         datetime.now(UTC).isoformat()))
        self._held[(agreement["id"], epoch)] = key
        return key

    def _load_held(self, agreement_id: str, epoch: str) -> ContentKey | None:
        rows = self.connector.store.query(
            "SELECT key FROM held_content_keys WHERE agreement_id = ? AND epoch = ?",
            (agreement_id, epoch))
        return ContentKey(epoch, bytes(rows[0][0])) if rows else None

    def forget(self, db: Any, agreement_id: str) -> None:
        """The agreement ended: its keys go with its data (in the caller's transaction)."""
        db.execute("DELETE FROM held_content_keys WHERE agreement_id = ?", (agreement_id,))
        for slot in [s for s in self._held if s[0] == agreement_id]:
            del self._held[slot]


def _text(payload: dict[str, Any], name: str) -> str:
    value = payload.get(name)
    if not isinstance(value, str) or not value or len(value) > 2048 \
            or (name == "epoch" and len(value) > _EPOCH_MAX):
        raise ValidationError(f"'{name}' must be a non-empty string", field=name)
    return value
