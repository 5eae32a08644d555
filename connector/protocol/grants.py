"""Agreement-scoped stream access in operator mode: the provider asks the authority.

The messages and the provider's side (``GrantClient``); the authority answers with
``authority.grant_desk.GrantDesk``.

In operator mode a consumer's NATS account can read a provider's dataset only through an
import of one durable consumer, and only the data-space authority (the NATS operator) can add
that import (``authority.accounts``). So the provider's connector asks it, over the same
signed request/reply as DSP, on the subject carrying both ids:

    provider -> authority   tsunagu.dsp.<authority-id>.<provider-id>
        tsunagu:StreamGrantRequest  {agreement: <countersigned agreement>, consumer: <durable>}
    authority -> provider   tsunagu:StreamGrant {stream, consumer, apiPrefix}

when a transfer starts, and, when a transfer ends (completed or terminated by either side) or
the agreement is terminated:

        tsunagu:StreamRevokeRequest {agreement, consumer?: <durable>, ended: bool}
    ->  tsunagu:StreamRevoked

Requests are signed envelopes (``trust.envelope``) from the connector's key, with its
credential inside as on the DSP bus; the subject's sender token is fixed by the sender's NATS
permissions and must match the signer. The authority's replies carry no participant
credential (it has none): a connector accepts them only signed by the authority that issued
its own credential. What the authority checks before it changes an account is in
``authority.space``.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Any

from nats.aio.client import Client
from nats.errors import NoRespondersError, TimeoutError

from connector.bus.messaging import (
    ERROR_TYPE,
    RemoteError,
    RemoteUnreachable,
    dsp_subject,
    request_with_retry,
)
from connector.errors import ConnectorCode
from connector.runtime.identity import Identity
from trust.authority_keys import AuthorityKeyring
from trust.envelope import Envelope, ReplayCache, SignerCheck, open_envelope, seal
from trust.errors import EnvelopeError
from trust.participant_registry import Registry, RegistryError, verify_registry

log = logging.getLogger(__name__)

GRANT = "tsunagu:StreamGrantRequest"
GRANTED = "tsunagu:StreamGrant"
REVOKE = "tsunagu:StreamRevokeRequest"
REVOKED = "tsunagu:StreamRevoked"
# The participant registry (trust.participant_registry) asked of the authority over NATS.
REGISTRY_REQUEST = "tsunagu:ParticipantRegistryRequest"
REGISTRY = "tsunagu:ParticipantRegistry"
API_PREFIX = "apiPrefix"  # endpoint property of a data address read through a grant
Reply = tuple[str, dict[str, Any]]
Decide = Callable[[Envelope], Awaitable[Reply]]


def _authority_signer(authority: str, keyring: AuthorityKeyring | None) -> SignerCheck:
    def check(sender: str, signer: str, iat: int, _credential: str | None) -> None:
        at = datetime.fromtimestamp(iat, UTC)
        if sender != authority or not (signer == authority or keyring is not None
                                       and keyring.signed_for(authority, signer, at)):
            raise EnvelopeError("reply is not signed by the authority",
                                code=ConnectorCode.ENVELOPE_UNEXPECTED_SENDER)
    return check


class GrantClient:
    """A connector asking its authority to open or close a consumer's stream import."""

    def __init__(self, nc: Client, identity: Identity, authority_did: str,
                 replay_cache: ReplayCache, timeout: float = 5.0,
                 keyring: AuthorityKeyring | None = None,
                 learn: Callable[[], Awaitable[bool]] | None = None) -> None:
        self.nc, self.identity, self.authority = nc, identity, authority_did
        self.replay_cache, self.timeout = replay_cache, timeout
        # The authority's later keys (trust.authority_keys), and how to learn them now.
        self.keyring, self.learn = keyring, learn

    async def grant(self, agreement: dict[str, Any], durable: str) -> str:
        """Let the agreement's consumer read ``durable``; returns the JetStream API prefix
        the consumer must use."""
        payload = await self._ask(GRANT, GRANTED, {"agreement": agreement, "consumer": durable})
        prefix = payload.get(API_PREFIX)
        if not isinstance(prefix, str):
            raise EnvelopeError("the authority's grant names no API prefix",
                                code=ConnectorCode.GRANT_MALFORMED)
        return prefix

    async def revoke(self, agreement: dict[str, Any], durable: str | None = None, *,
                     ended: bool = False) -> None:
        """Close one durable's import (or all of the agreement's); ``ended``: the agreement
        is over, so the authority grants nothing under it again."""
        payload: dict[str, Any] = {"agreement": agreement, "ended": ended}
        if durable is not None:
            payload["consumer"] = durable
        await self._ask(REVOKE, REVOKED, payload)

    async def participant_registry(self) -> Registry:
        """The authority's signed list of live participants, verified (signature by the
        authority or a key its chain names, validity period)."""
        payload = await self._ask(REGISTRY_REQUEST, REGISTRY, {})
        try:
            return verify_registry(payload.get("registry"), expected_authority=self.authority)
        except RegistryError as exc:
            raise EnvelopeError(exc.message, code=ConnectorCode.GRANT_MALFORMED) from exc

    def _open(self, data: bytes) -> Envelope:
        return open_envelope(data, recipient=self.identity.did, replay_cache=self.replay_cache,
                             signer_check=_authority_signer(self.authority, self.keyring))

    async def _ask(self, message_type: str, expected: str, payload: dict[str, Any]
                   ) -> dict[str, Any]:
        key, credential = self.identity.pair
        data = seal(payload, sender=key, recipient=self.authority, message_type=message_type,
                    credential=credential, identity=self.identity.did).encode()
        subject = dsp_subject(self.authority, self.identity.did)
        try:
            msg = await request_with_retry(self.nc, subject, data, self.timeout)
        except (NoRespondersError, TimeoutError) as exc:
            raise RemoteUnreachable("the data-space authority did not answer") from exc
        try:
            env = self._open(msg.data)
        except EnvelopeError as exc:
            if exc.code != ConnectorCode.ENVELOPE_UNEXPECTED_SENDER or self.learn is None \
                    or not await self.learn():
                raise
            env = self._open(msg.data)  # the authority rotated its key: its newest chain
        if env.sender != self.authority:
            raise EnvelopeError("reply is not signed by the authority",
                                code=ConnectorCode.ENVELOPE_UNEXPECTED_SENDER)
        if env.message_type == ERROR_TYPE:
            raise RemoteError(str(env.payload.get("message", "refused by the authority")),
                              code=str(env.payload.get("code", ConnectorCode.REMOTE_ERROR)))
        if env.message_type != expected:
            raise EnvelopeError(f"the authority answered {env.message_type!r}",
                                code=ConnectorCode.GRANT_MALFORMED)
        return env.payload
