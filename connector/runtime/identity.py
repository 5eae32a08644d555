"""A connector's own identity and how it checks the identity of others."""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from connector.errors import ConnectorCode
from trust.credentials import StatusListProvider, VerifiedCredential, verify_credential
from trust.errors import CredentialError, DidError
from trust.keys import DID_KEY_PREFIX, KeyPair


def participant_id(did: str) -> str:
    """The subject token for a participant: the multibase part of its did:key.

    Base58 has no '.', '*', '>' or spaces, so it is always one valid NATS subject token.
    """
    if not did.startswith(DID_KEY_PREFIX):
        raise DidError("participants are identified by did:key")
    return did[len(DID_KEY_PREFIX):]


@dataclass(frozen=True)
class Identity:
    """The key a connector signs with and the credential the authority issued for it."""

    key: KeyPair
    credential: str  # vc+jwt

    @property
    def did(self) -> str:
        return self.key.did

    @property
    def participant_id(self) -> str:
        return participant_id(self.key.did)


class CredentialChecker:
    """Checks that a credential verifies *and* names the party that presented it."""

    def __init__(
        self,
        trusted_authorities: Collection[str],
        status_lists: StatusListProvider,
        leeway: timedelta = timedelta(seconds=30),
    ) -> None:
        self.trusted_authorities = frozenset(trusted_authorities)
        self.status_lists = status_lists
        self.leeway = leeway

    def check(self, token: str | None, presenter: str, now: datetime | None = None
              ) -> VerifiedCredential:
        if token is None:
            raise CredentialError("message carries no participant credential",
                                  code=ConnectorCode.CREDENTIAL_MISSING)
        verified = verify_credential(token, self.trusted_authorities, self.status_lists,
                                     now or datetime.now(UTC), leeway=self.leeway)
        if verified.did != presenter:
            raise CredentialError("credential belongs to another participant",
                                  code=ConnectorCode.CREDENTIAL_SUBJECT_MISMATCH)
        return verified
