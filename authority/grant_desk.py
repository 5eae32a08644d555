"""The authority's grant desk: signed requests from providers to open or close a consumer's
stream import (connector/protocol/grants.py describes the exchange)."""

from __future__ import annotations

import logging
from collections.abc import Callable

from nats.aio.client import Client
from nats.aio.msg import Msg
from nats.aio.subscription import Subscription

from connector.bus.messaging import ERROR_TYPE
from connector.errors import ConnectorCode
from connector.protocol.grants import Decide
from connector.runtime.identity import participant_id
from trust.envelope import ReplayCache, SignerCheck, open_envelope, seal
from trust.errors import EnvelopeError, TsunaguError
from trust.keys import KeyPair

log = logging.getLogger(__name__)


class GrantDesk:
    """The authority's endpoint: opens signed requests addressed to it, answers signed.

    Unlike ``connector.bus.messaging.DspBus`` it checks no participant credential here: the
    authority decides with its own registry (``decide``)."""

    def __init__(self, nc: Client, key: KeyPair | Callable[[], KeyPair], decide: Decide,
                 signer_check: SignerCheck | None = None, identity: str | None = None
                 ) -> None:
        # ``key``: the authority's key, or what returns the one that signs now (it rotates:
        # trust.authority_keys); ``identity``: its DID, on subjects and envelopes.
        self._key = key if callable(key) else (lambda: key)
        self.identity = identity or self._key().did
        self.nc, self.decide = nc, decide
        self.signer_check = signer_check  # a participant's later keys (trust.key_history)
        self.replay_cache = ReplayCache()
        self._subscription: Subscription | None = None

    async def serve(self) -> None:
        subject = f"tsunagu.dsp.{participant_id(self.identity)}.*"
        self._subscription = await self.nc.subscribe(subject, cb=self._on_request)
        await self.nc.flush()

    async def close(self) -> None:
        if self._subscription is not None:
            await self._subscription.unsubscribe()
            self._subscription = None

    async def _on_request(self, msg: Msg) -> None:
        try:
            env = open_envelope(msg.data, recipient=self.identity,
                                replay_cache=self.replay_cache,
                                signer_check=self.signer_check)
        except TsunaguError as exc:  # nobody verified to answer to
            log.info("authority request refused", extra={"code": exc.code})
            return
        try:
            if msg.subject.rsplit(".", 1)[-1] != participant_id(env.sender):
                raise EnvelopeError("subject names another sender than the envelope",
                                    code=ConnectorCode.ENVELOPE_SUBJECT_MISMATCH)
            reply_type, payload = await self.decide(env)
        except TsunaguError as exc:
            log.info("authority request refused", extra={"code": exc.code})
            reply_type, payload = ERROR_TYPE, {"code": exc.code, "message": exc.message}
        except Exception:
            log.exception("authority request failed")
            reply_type, payload = ERROR_TYPE, {"code": ConnectorCode.INTERNAL,
                                                 "message": "internal error"}
        if msg.reply:
            await msg.respond(seal(payload, sender=self._key(), recipient=env.sender,
                                   message_type=reply_type, identity=self.identity).encode())
