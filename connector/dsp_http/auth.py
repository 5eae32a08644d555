"""DCP authentication of DSP over HTTPS: the ID token on each request and answer.

A request carries ``Authorization: Bearer <self-issued ID token>`` (trust.id_token; EDC sends
the bare token, also accepted) addressed to the recipient's DID and carrying the sender's
participant credential; the recipient verifies it as the NATS bus verifies an envelope:
signature, audience, lifetime, the credential (authority, status list, key history) and the
``jti`` against replays (kept in the store: connector.dsp_http.replays). A successful answer
carries the responder's token for the requester in ``DSP-ID-Token``, so the requester knows
who answered as over the bus.

Status codes: a token that does not authenticate (missing, forged, for another participant,
expired, replayed) is 401; an authenticated participant whose credential does not stand
(revoked, untrusted, key rotated out) 403. The rest as the DSP 2025-1 HTTPS bindings say.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from connector.dsp_http.replays import StoredReplayCache
from connector.errors import ConnectorCode
from trust.credentials import VerifiedCredential
from trust.errors import TrustCode, TsunaguError
from trust.id_token import IdToken, issue, verify

if TYPE_CHECKING:
    from connector.runtime.connector import Connector

ANSWER_HEADER = "DSP-ID-Token"


def status_of(code: str) -> int:
    """The HTTP status a DSP error with ``code`` is answered with. DSP 2025-1's HTTPS
    bindings: an invalid state transition is 400, a process that does not exist or that the
    client is not authorized for 404; authentication (DCP) is 401 / 403."""
    if code.startswith("id_token.") or code in (ConnectorCode.EDR_INVALID,
                                                TrustCode.KEY_UNKNOWN):
        return 401  # not authenticated: no token, or one that is not the sender's
    if code.startswith(("credential.", "key.", "key_history.")) or code == \
            ConnectorCode.EDR_INACTIVE:
        return 403
    if code in (ConnectorCode.DSP_UNKNOWN_PROCESS, ConnectorCode.DATASET_NOT_FOUND,
                ConnectorCode.TRANSFER_UNKNOWN_AGREEMENT, ConnectorCode.API_NOT_FOUND,
                ConnectorCode.TRANSFER_NOT_ASSIGNEE):
        return 404
    return 400  # the message, its state transition (dsp.invalid_transition, ...) included


def bearer(value: str | None) -> str | None:
    """The token of an Authorization header (``Bearer x`` or, as EDC sends it, ``x``)."""
    if not value:
        return None
    scheme, _, rest = value.partition(" ")
    return rest.strip() if rest and scheme.lower() == "bearer" else value.strip()


class Authenticator:
    """Issues this connector's ID tokens and verifies its counterparties'."""

    def __init__(self, connector: Connector) -> None:
        self.connector = connector
        self._replays: StoredReplayCache | None = None
        # Participants whose ID token verified here (tsunagu connectors): their answers
        # must always carry one (connector.dsp_http.client), whatever the configuration.
        self.signed_by: set[str] = set()

    @property
    def replay_cache(self) -> StoredReplayCache:
        """The ``jti`` seen, in this connector's store (kept over a restart)."""
        if self._replays is None or self._replays.store is not self.connector.store:
            self._replays = StoredReplayCache(self.connector.store)
        return self._replays

    def token_for(self, audience: str) -> str:
        key, credential = self.connector.identity.pair
        return issue(key, audience=audience, identity=self.connector.did,
                     credential=credential)

    def verify(self, token: str | None) -> tuple[IdToken, VerifiedCredential]:
        """The sender's verified token and credential (TsunaguError saying why not)."""
        found: dict[str, VerifiedCredential] = {}
        checked = verify(token, audience=self.connector.did, replay_cache=self.replay_cache,
                         signer_check=self.connector.checker.signer_check(found))
        self.signed_by.add(checked.subject)
        return checked, found["credential"]

    async def verify_learning(self, token: str | None) -> tuple[IdToken, VerifiedCredential]:
        """``verify``; a credential from an authority key not known yet is tried once more
        after fetching its key chain (as the bus does)."""
        try:
            return self.verify(token)
        except TsunaguError as exc:
            if exc.code != TrustCode.CREDENTIAL_UNTRUSTED_ISSUER \
                    or not await self.connector.checker.keys.refresh():
                raise
        return self.verify(token)
