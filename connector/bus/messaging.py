"""Signed request/reply between connectors over NATS: the I/O shell of the DSP endpoints.

Requests go to ``tsunagu.dsp.<recipient-id>.<sender-id>``; the sender token in the subject
must match the envelope's signer, so server permissions on subjects and signatures agree.
Every request and reply is a signed envelope carrying the sender's credential; both sides
verify envelope, credential and revocation before acting.

What the bus refuses never reaches a service, and is counted in
``tsunagu_messages_rejected_total`` by code: a subject whose sender token is not a participant
id (e.g. bytes that are not UTF-8, see ``connector.bus.connection.TolerantClient``),
envelopes and credentials that fail (answered with an ``error`` message where the claimed
sender can be addressed), and DSP messages, requests and replies alike, that are out of
bounds, off their schema or not closed-world JSON-LD (``connector.protocol.dsp.validation
.check_received``; a request is answered with its protocol's DSP error). The services then
check protocol state.
"""

from __future__ import annotations

import asyncio
import logging
import re
from collections.abc import Awaitable, Callable
from dataclasses import replace
from typing import Any

import jwt
from nats.aio.client import Client
from nats.aio.msg import Msg
from nats.aio.subscription import Subscription
from nats.errors import NoRespondersError, TimeoutError

from connector.errors import ConnectorCode
from connector.protocol.dsp.intake import refusal_of
from connector.protocol.dsp.validation import SCHEMA_FOR_TYPE, check_received
from connector.runtime.identity import CredentialChecker, Identity, participant_id
from connector.runtime.metrics import Metrics
from trust.credentials import VerifiedCredential
from trust.envelope import Envelope, ReplayCache, open_envelope, seal
from trust.errors import CredentialError, EnvelopeError, TrustCode, TsunaguError
from trust.sealing import open_payload, seal_payload

log = logging.getLogger(__name__)

ERROR_TYPE = "error"
REJECTED = "tsunagu_messages_rejected_total"  # by reason: forged, replayed, revoked, ...
Handler = Callable[[Envelope, VerifiedCredential], Awaitable[tuple[str, dict[str, Any]]]]
# The sender token of a request subject: a base58btc multibase value (a did:key's own part).
# Anything else, U+FFFD from undecodable bytes included, is refused before the envelope is read.
_SENDER_TOKEN = re.compile(r"z[1-9A-HJ-NP-Za-km-z]{1,128}")


class RemoteError(TsunaguError):
    """The other connector answered with an error; ``code`` is the one it sent.

    That code comes off the wire as a string: compare it with an ``ErrorCode`` member
    (``exc.code == TrustCode.CREDENTIAL_REVOKED``), never with a literal.
    """

    code = ConnectorCode.REMOTE_ERROR

    def __init__(self, message: str, *, code: str | None = None, **details: Any) -> None:
        super().__init__(message, **details)
        if code is not None:
            self.code = code  # type: ignore[assignment]  # the other side's: maybe not ours


class RemoteUnreachable(RemoteError):
    """The other connector answered with an error; ``code`` is the one it sent.

    Here it did not answer at all (no responders, or no reply in time): the code is
    ``remote.unreachable``. (The first line is RemoteError's: it is the problem's title.)
    """

    code = ConnectorCode.REMOTE_UNREACHABLE


def dsp_subject(recipient_did: str, sender_did: str) -> str:
    return f"tsunagu.dsp.{participant_id(recipient_did)}.{participant_id(sender_did)}"


def _unverified_sender(data: bytes) -> str | None:
    """Who claims to have sent a rejected request, only to address the error reply."""
    try:
        iss = jwt.decode(data, options={"verify_signature": False}).get("iss")
    except Exception:  # anything unreadable simply gets no reply
        return None
    return iss if isinstance(iss, str) and iss.startswith("did:key:") else None


NO_RESPONDER_RETRIES = (0.05, 0.1, 0.2, 0.4, 0.8)


_KEY_REFUSALS = frozenset({TrustCode.KEY_ROTATED_OUT, TrustCode.KEY_NOT_YET_VALID,
                           TrustCode.KEY_UNKNOWN})


def _unverified_signer(data: bytes) -> str | None:
    """The key a refused request names as its signer, only to record the attempt."""
    try:
        kid = jwt.get_unverified_header(data).get("kid")
    except Exception:  # unreadable: nothing to name
        return None
    return kid.partition("#")[0][:120] if isinstance(kid, str) else None


async def request_with_retry(nc: Client, subject: str, data: bytes, timeout: float) -> Msg:
    """nc.request, retried briefly on "no responders".

    No responders means the server delivered the request to nobody, so sending it again
    cannot duplicate work. nats-server 2.15 occasionally answers so for a subscription it
    has just confirmed (seen under load and right after account loads); a connector that is
    really down still fails after about 1.5 s.
    """
    for delay in NO_RESPONDER_RETRIES:
        try:
            return await nc.request(subject, data, timeout=timeout)
        except NoRespondersError:
            await asyncio.sleep(delay)
    return await nc.request(subject, data, timeout=timeout)


class DspBus:
    """One connector's endpoint on the bus: serves requests and sends its own."""

    def __init__(self, nc: Client, identity: Identity, checker: CredentialChecker,
                 metrics: Metrics | None = None,
                 on_key_refused: Callable[[str | None, str | None, TsunaguError], None]
                 | None = None) -> None:
        self.nc = nc
        # A request signed by a key that did not speak for its sender then (rotated out,
        # revoked: trust.key_history): told with (claimed sender, signing key, error), so
        # the connector audits the attempt.
        self.on_key_refused = on_key_refused
        self.identity = identity
        self.checker = checker
        self.metrics = metrics
        self.replay_cache = ReplayCache()
        self._subscription: Subscription | None = None
        self._handler: Handler | None = None
        # Message types whose payload carries data: sealed to the recipient (trust.sealing),
        # so the NATS operator reads no record in them. Services declare theirs.
        self._sealed_types: set[str] = set()

    def seal_payloads_of(self, *message_types: str) -> None:
        """Send these message types' payloads sealed, and refuse them unsealed."""
        self._sealed_types.update(message_types)

    async def serve(self, handler: Handler) -> None:
        self._handler = handler
        subject = f"tsunagu.dsp.{self.identity.participant_id}.*"
        self._subscription = await self.nc.subscribe(subject, cb=self._on_request)
        await self.nc.flush()  # the server knows the subscription before anyone asks

    async def close(self) -> None:
        if self._subscription is not None:
            await self._subscription.unsubscribe()
            self._subscription = None

    def _seal(self, payload: dict[str, Any], recipient: str, message_type: str) -> bytes:
        if message_type in self._sealed_types:
            # to the key the recipient signs with now (it may have rotated)
            payload = seal_payload(payload, sender=self.identity.did,
                                   to=self.checker.keys.current_key(recipient))
        key, credential = self.identity.pair
        return seal(payload, sender=key, recipient=recipient, message_type=message_type,
                    credential=credential, identity=self.identity.did).encode()

    def _open(self, data: bytes) -> tuple[Envelope, VerifiedCredential]:
        # The carried credential and the signing key (trust.key_history) are checked
        # before the replay cache remembers the message id.
        found: dict[str, VerifiedCredential] = {}
        env = open_envelope(data, recipient=self.identity.did, replay_cache=self.replay_cache,
                            signer_check=self.checker.signer_check(found))
        credential = found["credential"]
        if env.message_type in self._sealed_types:  # after the signer is known and checked
            env = replace(env, payload=open_payload(env.payload, self.identity.key,
                                                    sender=env.sender))
        return env, credential

    async def _open_learning(self, data: bytes) -> tuple[Envelope, VerifiedCredential]:
        """``_open``; a credential signed by an authority key not known yet (the authority
        rotated, trust.authority_keys) is tried once more after fetching its key chain
        (at most once a second: forged issuers cannot make this connector hammer it)."""
        try:
            return self._open(data)
        except CredentialError as exc:
            if exc.code != TrustCode.CREDENTIAL_UNTRUSTED_ISSUER \
                    or not await self.checker.keys.refresh():
                raise
        return self._open(data)

    def _count(self, exc: TsunaguError) -> None:
        log.info("message refused", extra={"code": exc.code})
        if self.metrics is not None:
            self.metrics.inc(REJECTED, reason=exc.code)

    def _refuse_dsp(self, env: Envelope) -> tuple[str, dict[str, Any]] | None:
        """The DSP error answering a DSP request that fails the checks every binding makes
        (``connector.protocol.dsp.intake``), else None."""
        refused = refusal_of(env.message_type, env.payload)
        if refused is None:
            return None
        self._count(refused[0])
        return refused[1]

    async def _on_request(self, msg: Msg) -> None:
        assert self._handler is not None
        reply_to, data = await self.answer(msg.data, self._handler,
                                           sender_token=msg.subject.rsplit(".", 1)[-1])
        if msg.reply and reply_to is not None:
            await msg.respond(data)

    async def answer(self, data: bytes, handler: Handler, *, sender_token: str | None = None
                     ) -> tuple[str | None, bytes]:
        """Open the signed request ``data``, let ``handler`` answer it, and seal the answer
        (an ``error`` message when anything is refused): (whom it is for, its bytes; None
        when the claimed sender cannot be addressed). ``sender_token``: the sender the NATS
        subject names, which must be the envelope's; the HTTPS binding has none (its ID
        token names the sender: connector.dsp_http.notices)."""
        reply_to = _unverified_sender(data)
        try:
            if sender_token is not None and not _SENDER_TOKEN.fullmatch(sender_token):
                raise EnvelopeError("the subject's sender token is not a participant id",
                                    code=ConnectorCode.ENVELOPE_BAD_SUBJECT)
            env, credential = await self._open_learning(data)
            reply_to = env.sender
            if sender_token is not None and sender_token != participant_id(env.sender):
                raise EnvelopeError("subject names another sender than the envelope",
                                    code=ConnectorCode.ENVELOPE_SUBJECT_MISMATCH)
            refused = self._refuse_dsp(env)
            message_type, payload = (refused if refused is not None
                                     else await handler(env, credential))
        except TsunaguError as exc:
            self._count(exc)
            if self.on_key_refused is not None and exc.code in _KEY_REFUSALS:
                self.on_key_refused(reply_to, _unverified_signer(data), exc)
            message_type, payload = ERROR_TYPE, {"code": exc.code, "message": exc.message}
        except Exception:
            log.exception("request handler failed")
            message_type, payload = ERROR_TYPE, {"code": ConnectorCode.INTERNAL,
                                                 "message": "internal error"}
        if reply_to is None:
            return None, b""
        return reply_to, self._seal(payload, reply_to, message_type)

    def sealed(self, payload: dict[str, Any], recipient: str, message_type: str) -> bytes:
        """The signed (and, for the declared types, payload-sealed) request bytes."""
        return self._seal(payload, recipient, message_type)

    async def request(
        self, recipient: str, message_type: str, payload: dict[str, Any], timeout: float = 5.0
    ) -> tuple[Envelope, VerifiedCredential]:
        """Send a signed request and return the verified reply (RemoteError if it is one)."""
        data = self._seal(payload, recipient, message_type)
        try:
            msg = await request_with_retry(self.nc, dsp_subject(recipient, self.identity.did),
                                           data, timeout)
        except (NoRespondersError, TimeoutError) as exc:
            raise RemoteUnreachable(
                f"connector {participant_id(recipient)[:16]}... did not answer") from exc
        return await self.open_reply(msg.data, recipient)

    async def open_reply(self, data: bytes, recipient: str
                         ) -> tuple[Envelope, VerifiedCredential]:
        """The verified reply ``data`` from ``recipient`` (RemoteError if it is one)."""
        env, credential = await self._open_learning(data)
        if env.sender != recipient:
            raise EnvelopeError("reply is signed by another participant than asked",
                                code=ConnectorCode.ENVELOPE_UNEXPECTED_SENDER)
        if env.message_type in SCHEMA_FOR_TYPE:  # a reply is a received message too
            try:
                check_received(env.payload)
            except TsunaguError as exc:
                self._count(exc)
                raise
        if env.message_type == ERROR_TYPE:
            raise RemoteError(str(env.payload.get("message", "remote error")),
                              code=str(env.payload.get("code", ConnectorCode.REMOTE_ERROR)))
        return env, credential
