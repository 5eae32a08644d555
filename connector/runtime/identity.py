"""A connector's own identity and how it checks the identity of others."""

from __future__ import annotations

from collections.abc import Collection
from datetime import UTC, datetime, timedelta

from connector.errors import ConnectorCode
from connector.runtime.key_book import KeyBook
from trust.authority_keys import AuthorityKeyring
from trust.credentials import StatusListProvider, VerifiedCredential, verify_credential
from trust.envelope import SignerCheck
from trust.errors import CredentialError, DidError
from trust.key_history import KeyHistoryCache
from trust.keys import DID_KEY_PREFIX, KeyPair


def participant_id(did: str) -> str:
    """The subject token for a participant: the multibase part of its did:key.

    Base58 has no '.', '*', '>' or spaces, so it is always one valid NATS subject token.
    """
    if not did.startswith(DID_KEY_PREFIX):
        raise DidError("participants are identified by did:key")
    return did[len(DID_KEY_PREFIX):]


class Identity:
    """The key a connector signs with and the credential the authority issued for it.

    ``did`` is the participant's identity DID (its first key's did:key, on every subject and
    agreement) and never changes; ``key`` and ``credential`` change together when the key
    is rotated (``use``), as one pair, so no reader sees a key with another key's
    credential."""

    def __init__(self, key: KeyPair, credential: str, did: str | None = None) -> None:
        self.did = did or key.did
        self._pair = (key, credential)

    @property
    def key(self) -> KeyPair:
        return self._pair[0]

    @property
    def credential(self) -> str:  # vc+jwt
        return self._pair[1]

    @property
    def pair(self) -> tuple[KeyPair, str]:
        return self._pair

    @property
    def rotated(self) -> bool:
        """Signing with a key other than the identity key (envelopes name both)."""
        return self._pair[0].did != self.did

    def use(self, key: KeyPair, credential: str) -> None:
        """Sign with ``key`` and present ``credential`` from now on (a rotation)."""
        self._pair = (key, credential)

    @property
    def participant_id(self) -> str:
        return participant_id(self.did)

    def __repr__(self) -> str:  # never show key material
        return f"Identity(did={self.did!r}, key={self.key.did!r})"


class CredentialChecker:
    """Checks that a credential verifies *and* names the party that presented it."""

    def __init__(
        self,
        trusted_authorities: Collection[str],
        status_lists: StatusListProvider,
        leeway: timedelta = timedelta(seconds=30),
        keys: KeyBook | None = None,
    ) -> None:
        # a keyring stays itself: the authority chains it learns count at once
        self.trusted_authorities = trusted_authorities \
            if isinstance(trusted_authorities, AuthorityKeyring) \
            else frozenset(trusted_authorities)
        self.status_lists = status_lists
        self.leeway = leeway
        self.keys = keys or KeyBook(KeyHistoryCache(trusted_authorities), leeway=leeway)

    def check(self, token: str | None, presenter: str, now: datetime | None = None, *,
              signer: str | None = None, signed_at: datetime | None = None
              ) -> VerifiedCredential:
        """The presenter's verified credential. With ``signer``: also that this key signed
        for the presenter at ``signed_at`` (``trust.key_history``; ``key.*`` codes)."""
        if token is None:
            raise CredentialError("message carries no participant credential",
                                  code=ConnectorCode.CREDENTIAL_MISSING)
        verified = verify_credential(token, self.trusted_authorities, self.status_lists,
                                     now or datetime.now(UTC), leeway=self.leeway)
        if verified.did != presenter:
            raise CredentialError("credential belongs to another participant",
                                  code=ConnectorCode.CREDENTIAL_SUBJECT_MISMATCH)
        self.keys.learn(verified)
        if signer is not None:
            self.keys.check(presenter, signer, signed_at or now or datetime.now(UTC))
        return verified

    def signer_check(self, found: dict[str, VerifiedCredential]) -> SignerCheck:
        """A ``trust.envelope.SignerCheck`` that checks the carried credential and the
        signing key, and leaves the verified credential in ``found["credential"]``."""
        def check(sender: str, signer: str, iat: int, token: str | None) -> None:
            found["credential"] = self.check(
                token, sender, signer=signer, signed_at=datetime.fromtimestamp(iat, UTC))
        return check

