"""Documents the data-space authority signs for everyone to read (the announcement, the
participant registry): one shape of signing, dating and checking, so both follow the
authority's key chain and the clock the same way."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime, timedelta
from typing import Any

from trust.authority_keys import AuthorityKeyring, AuthorityKeysError
from trust.credentials import aware_now
from trust.errors import ProofError, TrustCode, TsunaguError
from trust.keys import KeyPair
from trust.proofs import format_datetime, sign_document, verify_document

CLOCK_SKEW = timedelta(minutes=5)
Fail = Callable[[str], TsunaguError]


def sign_dated(key: KeyPair, doc_type: str, members: dict[str, Any], *, ttl: timedelta,
               authority: str | None = None, authority_keys: Sequence[dict[str, Any]] = (),
               now: datetime | None = None, signer_member: str = "id") -> dict[str, Any]:
    """``members`` as a document of ``doc_type`` by the authority (``authority`` or the
    key's DID in ``signer_member``, with its key chain when rotated), issued at ``now``
    and valid for ``ttl``."""
    issued = aware_now(now).replace(microsecond=0)
    return sign_document({
        "type": doc_type,
        signer_member: authority or key.did,
        **({"authorityKeys": list(authority_keys)} if authority_keys else {}),
        **members,
        "issued": format_datetime(issued),
        "validUntil": format_datetime(issued + ttl),
    }, key, created=issued)


def dated(document: dict[str, Any], member: str, fail: Fail) -> datetime:
    """The date-time with a time zone in ``member``, or ``fail`` naming it."""
    value = document.get(member)
    try:
        moment = datetime.fromisoformat(value) if isinstance(value, str) else None
    except ValueError:
        moment = None
    if moment is None or moment.tzinfo is None:
        raise fail(f"has no date-time with a time zone in {member!r}")
    return moment


def check_signed_by(document: dict[str, Any], did: str, fail: Fail) -> datetime:
    """The document's proof is by ``did``'s key at its ``issued`` time, or by a key its
    chain (``authorityKeys``) names for then; returns the ``issued`` time."""
    issued_at = dated(document, "issued", fail)
    try:
        keyring = AuthorityKeyring([did])
        keyring.learn(did, document.get("authorityKeys") or [])

        def by_chain(authority: str, key: str, _created: str | None) -> None:
            if not keyring.signed_for(authority, key, issued_at):
                raise ProofError("signed by a key that is not the authority's",
                                 code=TrustCode.PROOF_WRONG_SIGNER)

        verify_document(document, expected_controller=did, key_check=by_chain)
    except (ProofError, AuthorityKeysError) as exc:
        raise fail(f"is not signed by {did}: {exc.message}") from None
    return issued_at


def valid_now(document: dict[str, Any], fail: Fail, now: datetime | None = None
              ) -> datetime | None:
    """None when ``now`` lies in [issued - CLOCK_SKEW, validUntil); else the time it was
    checked at (the caller says what is wrong, in its own words)."""
    issued, valid_until = dated(document, "issued", fail), dated(document, "validUntil", fail)
    moment = aware_now(now)
    if issued > moment + CLOCK_SKEW or valid_until <= moment:
        return moment
    return None
