"""An authority's key chain: its did:key stays its identity, later keys sign for it.

Relying parties trust an authority by its DID (``[authority] dids``), the did:key of its
first key. When the authority rotates, the key that signs now states, signed with it, which
key signs from when on::

    {"type": "tsunagu:AuthorityKeyRotation", "authority": "<identity DID>",
     "previousKey": "<did:key>", "newKey": "<did:key>", "validFrom": "...Z",
     "proof": {eddsa-jcs-2022 by previousKey}}

The statements form a chain from the identity key; a relying party that trusts the identity
accepts a statement only if the key it trusts at that point signed it, so nobody without the
current key can extend the chain. The authority publishes the chain with its key histories
and its announcement; ``AuthorityKeyring`` holds what a relying party verified and answers,
for a signature by key K claiming issuer A made at time t, whether K signed for A then:
each key signs from its ``validFrom`` until the next key's (so a retired key, were it stolen
later, cannot sign a credential dated after it was retired).
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from trust.errors import ProofError, TrustCode, TsunaguError
from trust.keys import DID_KEY_PREFIX, KeyPair
from trust.proofs import format_datetime, sign_document, verify_document

ROTATION_TYPE = "tsunagu:AuthorityKeyRotation"


class AuthorityKeysError(TsunaguError):
    """An authority's key chain does not verify from the identity a relying party trusts."""

    code = TrustCode.AUTHORITY_KEYS_INVALID


@dataclass(frozen=True)
class AuthorityKey:
    key: str
    valid_from: datetime | None  # None: the identity key, from the start
    valid_until: datetime | None  # None: the current key


def sign_rotation(previous: KeyPair, *, authority: str, new_key: str, at: datetime
                  ) -> dict[str, Any]:
    """The statement, signed by the key that signs for ``authority`` now."""
    return sign_document({"type": ROTATION_TYPE, "authority": authority,
                          "previousKey": previous.did, "newKey": new_key,
                          "validFrom": format_datetime(at)}, previous, created=at)


def verify_chain(authority: str, statements: Sequence[Any]) -> tuple[AuthorityKey, ...]:
    """The authority's keys in order, each statement checked against the key before it."""
    if not isinstance(statements, list | tuple):
        raise AuthorityKeysError("an authority key chain is a list of rotation statements")
    keys: list[AuthorityKey] = [AuthorityKey(authority, None, None)]
    for statement in statements:
        if not isinstance(statement, dict) or statement.get("type") != ROTATION_TYPE \
                or statement.get("authority") != authority:
            raise AuthorityKeysError(f"not a {ROTATION_TYPE} of {authority[:32]}...")
        current = keys[-1]
        if statement.get("previousKey") != current.key:
            raise AuthorityKeysError("a rotation statement does not follow the key before it")
        new_key = statement.get("newKey")
        if not isinstance(new_key, str) or not new_key.startswith(DID_KEY_PREFIX) \
                or any(k.key == new_key for k in keys):
            raise AuthorityKeysError("a rotation statement names no new did:key")
        try:
            verify_document(statement, expected_controller=current.key)
            at = datetime.fromisoformat(str(statement.get("validFrom"))).astimezone(UTC)
        except (ProofError, ValueError) as exc:
            raise AuthorityKeysError(f"a rotation statement does not verify: {exc}") from None
        if current.valid_from is not None and at <= current.valid_from:
            raise AuthorityKeysError("rotation statements must move forward in time")
        keys[-1] = AuthorityKey(current.key, current.valid_from, at)
        keys.append(AuthorityKey(new_key, at, None))
    return tuple(keys)


class AuthorityKeyring(Collection[str]):
    """The authorities a relying party trusts (a collection of their identity DIDs, so it
    goes wherever ``trusted_authorities`` went) and the keys each verifiably signs with."""

    def __init__(self, identities: Iterable[str]) -> None:
        self.identities = frozenset(identities)
        self._keys: dict[str, tuple[AuthorityKey, ...]] = {
            did: (AuthorityKey(did, None, None),) for did in self.identities}

    def __contains__(self, did: object) -> bool:
        return did in self.identities

    def __iter__(self) -> Iterator[str]:
        return iter(self.identities)

    def __len__(self) -> int:
        return len(self.identities)

    def learn(self, authority: str, statements: Sequence[Any]) -> None:
        """Verify ``authority``'s chain and keep it (a shorter one never replaces a longer)."""
        if authority not in self.identities:
            raise AuthorityKeysError("not a trusted authority")
        chain = verify_chain(authority, statements)
        if len(chain) >= len(self._keys[authority]):
            self._keys[authority] = chain

    def keys_of(self, authority: str) -> tuple[AuthorityKey, ...]:
        return self._keys.get(authority, ())

    def identity_of(self, key: str) -> str | None:
        """The trusted authority ``key`` signs for, if any."""
        for authority, keys in self._keys.items():
            if any(k.key == key for k in keys):
                return authority
        return None

    def signed_for(self, authority: str, key: str, at: datetime | None) -> bool:
        """Whether ``key`` signed for ``authority`` at ``at`` (None: any time it did)."""
        for k in self._keys.get(authority, ()):
            if k.key != key:
                continue
            if at is None:
                return True
            # the rotation's own second belongs to both keys (times are whole seconds)
            if (k.valid_from is None or k.valid_from <= at) and \
                    (k.valid_until is None or at <= k.valid_until):
                return True
        return False

    def current_key(self, authority: str) -> str:
        return self._keys[authority][-1].key
