"""Participant credentials: VC Data Model 2.0 documents secured as VC-JOSE-COSE (``vc+jwt``).

The data-space authority signs the whole credential as the JWS payload (no ``vc`` claim) with
its did:key Ed25519 key. A relying party trusts a credential only if every check passes, in
this order, and learns from the error ``code`` which one failed:

==============================  ============================================================
``credential.malformed``        not a compact JWS, bad JSON, wrong ``typ``/``cty``, missing
                                or invalid fields, unknown role, bad legal identifier
``credential.algorithm``        header ``alg`` is not EdDSA (``none``, HS256, RS256 ...)
``credential.untrusted_issuer`` ``kid`` is not a key of a trusted authority, or ``issuer``
                                differs from the signing key
``credential.signature``        the signature does not verify
``credential.not_yet_valid``    before ``validFrom``
``credential.expired``          at or after ``validUntil``
``credential.status_unknown``   the authority's status list is missing, stale, or unusable
                                (fail closed: no status, no trust)
``credential.revoked``          the revocation bit is set
==============================  ============================================================

The algorithm is pinned before any key is touched, and the key comes only from the ``kid``
did:key of a DID in the trusted set, never from ``jwk``/``jku``/``x5u`` headers. The helpers
``sign_vc_jwt`` and ``decode_vc_jwt`` are shared with the status list credential.
"""

from __future__ import annotations

import re
from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any, Protocol

import jwt
import orjson
from jwt.api_jws import PyJWS

from trust.authority_keys import AuthorityKeyring
from trust.errors import (
    CredentialError,
    CredentialRevoked,
    CredentialStatusUnknown,
    DidError,
    TrustCode,
    ValidationError,
)
from trust.keys import DID_KEY_PREFIX, KeyPair, resolve_did_key
from trust.legal_id import LegalId, LegalIdError

if TYPE_CHECKING:
    from trust.status_list import VerifiedStatusList

VC_V2_CONTEXT = "https://www.w3.org/ns/credentials/v2"
TSUNAGU_CONTEXT = "https://w3id.org/tsunagu/v1"
PARTICIPANT_CONTEXTS = (VC_V2_CONTEXT, TSUNAGU_CONTEXT)
PARTICIPANT_CREDENTIAL_TYPE = "ParticipantCredential"
STATUS_ENTRY_TYPE = "BitstringStatusListEntry"
REVOCATION = "revocation"
SIGNING_KEY = "signingKey"  # credentialSubject member: the key bound to the identity DID
JWT_TYP = "vc+jwt"
JWT_CTY = "vc"
ALGORITHM = "EdDSA"
# A participant credential is ~1.5 KB, a signed 16 KB status list at most ~30 KB.
MAX_TOKEN_CHARS = 256 * 1024
MAX_NAME_CHARS = 200

_DATETIME = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(?:\.\d{1,6})?(?:Z|[+-]\d{2}:\d{2})")
_INDEX = re.compile(r"0|[1-9][0-9]{0,9}")


ROLE_FORM = re.compile(r"[a-z][a-z0-9_]{1,39}")
"""What a role looks like. Which roles exist is not trust's business: the core and the domain
plug-ins define them (``usage_policies.vocabularies.ROLES``), and the authority issues a
credential only with roles of the core or of a domain it has installed."""


def parse_roles(values: Iterable[str]) -> tuple[str, ...]:
    """Roles of the right form, deduplicated in their given order; at least one is required."""
    if isinstance(values, str):
        raise ValidationError("roles must be a list of role names, not one string",
                              field="roles")
    roles: list[str] = []
    for value in values:
        if not isinstance(value, str) or not ROLE_FORM.fullmatch(value):
            raise ValidationError(
                f"{str(value)[:40]!r} is not a role name: lowercase letters, digits and _, "
                "starting with a letter, at most 40", field="roles")
        if value not in roles:
            roles.append(value)
    if not roles:
        raise ValidationError("a participant needs at least one role", field="roles")
    return tuple(roles)


def check_name(name: Any, what: str = "participant") -> str:
    """A display name: non-empty, single line, bounded. ``what`` says whose, for the error."""
    if not isinstance(name, str) or not name.strip():
        raise ValidationError(f"{what} name must be a non-empty string", field="name")
    name = name.strip()
    if len(name) > MAX_NAME_CHARS:
        raise ValidationError(
            f"{what} name is {len(name)} characters; at most {MAX_NAME_CHARS}",
            field="name",
        )
    if any(ord(c) < 0x20 or 0x7F <= ord(c) < 0xA0 for c in name):
        raise ValidationError(f"{what} name contains control characters", field="name")
    return name


def format_datetime(value: datetime) -> str:
    """ISO 8601 UTC with a 'Z', whole seconds: the form credentials carry."""
    if value.tzinfo is None:
        raise ValueError("datetimes must be timezone-aware")
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _fail(prefix: str, reason: str, message: str, **details: Any) -> CredentialError:
    """The error of a vc+jwt check: ``{prefix}.{reason}`` names one of ``TrustCode``'s
    members (``credential.*``, ``status_list.*``); any other pair is a bug (ValueError)."""
    return CredentialError(message, code=TrustCode(f"{prefix}.{reason}"), **details)


def _parse_datetime(value: Any, field: str, prefix: str) -> datetime:
    if not isinstance(value, str) or not _DATETIME.fullmatch(value):
        raise _fail(prefix, "malformed", f"{field} must be an ISO 8601 date-time with a timezone")
    try:
        return datetime.fromisoformat(value).astimezone(UTC)
    except ValueError:
        raise _fail(prefix, "malformed", f"{field} is not a valid date-time") from None


def aware_now(now: datetime | None = None) -> datetime:
    """``now`` itself (it must be timezone-aware) or the current UTC time."""
    if now is None:
        return datetime.now(UTC)
    if now.tzinfo is None:
        raise ValueError("now must be timezone-aware")
    return now


# --------------------------------------------------------------------------- VC-JOSE-COSE


def sign_vc_jwt(document: Mapping[str, Any], key: KeyPair, *, authority: str | None = None
                ) -> str:
    """Secure a credential as a compact JWS (``typ: vc+jwt``, EdDSA, ``kid`` = did:key URL).

    ``authority``: the issuer's identity DID when ``key`` is a later key of its chain
    (``trust.authority_keys``)."""
    issuer = document.get("issuer")
    issuer_id = issuer.get("id") if isinstance(issuer, Mapping) else issuer
    if issuer_id != (authority or key.did):
        raise ValidationError("credential issuer must be the DID of the signing key")
    headers = {"typ": JWT_TYP, "cty": JWT_CTY, "kid": key.verification_method}
    return jwt.encode(dict(document), key.private_key, algorithm=ALGORITHM, headers=headers)


@dataclass(frozen=True)
class VcJwt:
    """A vc+jwt whose header, trust and signature have been checked (not yet its claims)."""

    header: dict[str, Any]
    payload: dict[str, Any]
    issuer: str


def decode_vc_jwt(
    token: Any, trusted_authorities: Collection[str], *, code_prefix: str = "credential"
) -> VcJwt:
    """Check a vc+jwt's form, pinned algorithm, trusted issuer and signature; return its claims.

    Error codes are ``{code_prefix}.malformed|algorithm|untrusted_issuer|signature``.
    """
    p = code_prefix
    if isinstance(trusted_authorities, str):  # `in` would test substrings
        raise TypeError("trusted_authorities must be a collection of DIDs, not one string")
    if isinstance(token, bytes):
        try:
            token = token.decode("ascii")
        except UnicodeDecodeError:
            raise _fail(p, "malformed", "a vc+jwt must be ASCII") from None
    if not isinstance(token, str):
        raise _fail(p, "malformed", f"a vc+jwt must be a string, got {type(token).__name__}")
    token = token.strip()
    if len(token) > MAX_TOKEN_CHARS:
        raise _fail(p, "malformed", f"vc+jwt is {len(token)} characters; limit {MAX_TOKEN_CHARS}")
    if not token.isascii():  # also keeps lone surrogates away from the JWS decoder
        raise _fail(p, "malformed", "a vc+jwt must be ASCII")
    if token.count(".") != 2:
        raise _fail(p, "malformed", "a vc+jwt is a compact JWS: three base64url parts")
    try:
        header = jwt.get_unverified_header(token)
    except jwt.InvalidTokenError as exc:
        raise _fail(p, "malformed", f"unreadable JWS header: {exc}") from None
    alg = header.get("alg")
    if alg != ALGORITHM:
        raise _fail(p, "algorithm", f"JWS alg is {str(alg)[:20]!r}; only EdDSA is accepted")
    if header.get("typ") != JWT_TYP:
        raise _fail(p, "malformed", f"JWS typ is {str(header.get('typ'))[:20]!r}, expected vc+jwt")
    if "cty" in header and header["cty"] != JWT_CTY:
        raise _fail(p, "malformed", "JWS cty, when present, must be 'vc'")
    if "crit" in header or "b64" in header:
        raise _fail(p, "malformed", "JWS critical extensions (crit, b64) are not supported")
    kid = header.get("kid")
    if not isinstance(kid, str) or not kid.startswith(DID_KEY_PREFIX):
        raise _fail(p, "malformed", "JWS kid must name the issuer's did:key verification method")
    did = kid.partition("#")[0]
    # A rotated authority signs with a later key of its chain (trust.authority_keys).
    authority = trusted_authorities.identity_of(did) \
        if isinstance(trusted_authorities, AuthorityKeyring) \
        else (did if did in trusted_authorities else None)
    if authority is None:
        raise _fail(p, "untrusted_issuer", "signed by a key that is not a trusted authority",
                    issuer=did[:120])
    try:
        public_key = resolve_did_key(kid)
    except DidError as exc:
        raise _fail(p, "malformed", f"JWS kid: {exc.message}") from None
    try:
        decoded = PyJWS().decode_complete(token, public_key, algorithms=[ALGORITHM])
    except jwt.InvalidSignatureError:
        raise _fail(p, "signature", "signature does not verify", issuer=did) from None
    except jwt.InvalidTokenError as exc:
        raise _fail(p, "malformed", f"invalid JWS: {exc}") from None
    try:
        payload = orjson.loads(decoded["payload"])
    except orjson.JSONDecodeError:
        raise _fail(p, "malformed", "JWS payload is not JSON") from None
    if not isinstance(payload, dict):
        raise _fail(p, "malformed", "JWS payload must be a JSON object (the credential)")
    issuer = payload.get("issuer")
    issuer_id = issuer.get("id") if isinstance(issuer, dict) else issuer
    if issuer_id != authority:
        raise _fail(p, "untrusted_issuer", "credential issuer differs from the signing key",
                    issuer=did)
    if "iss" in payload and payload["iss"] != authority:
        raise _fail(p, "untrusted_issuer", "JWT iss differs from the credential issuer",
                    issuer=did)
    if isinstance(trusted_authorities, AuthorityKeyring) and \
            not trusted_authorities.signed_for(authority, did, _issued_at(payload)):
        raise _fail(p, "untrusted_issuer", "signed by a key of the authority that did not "
                    "sign for it at the credential's validFrom (retired)", issuer=did)
    return VcJwt(header=header, payload=payload, issuer=authority)


def _issued_at(payload: Mapping[str, Any]) -> datetime:
    """When a vc+jwt says it was made (its validFrom); a later key must name one."""
    value = payload.get("validFrom")
    try:
        if isinstance(value, str) and _DATETIME.fullmatch(value):
            return datetime.fromisoformat(value).astimezone(UTC)
    except ValueError:
        pass
    return datetime.max.replace(tzinfo=UTC)  # undated: no retired key signed it


def check_validity_period(
    payload: Mapping[str, Any],
    now: datetime,
    *,
    code_prefix: str = "credential",
    leeway: timedelta = timedelta(0),
) -> tuple[datetime, datetime]:
    """Both ``validFrom`` and ``validUntil`` are required: a credential that never expires
    would outlive a lost key or an unpublished revocation."""
    valid_from = _parse_datetime(payload.get("validFrom"), "validFrom", code_prefix)
    valid_until = _parse_datetime(payload.get("validUntil"), "validUntil", code_prefix)
    if valid_until <= valid_from:
        raise _fail(code_prefix, "malformed", "validUntil must be later than validFrom")
    if now + leeway < valid_from:
        raise _fail(code_prefix, "not_yet_valid",
                    f"not valid before {format_datetime(valid_from)}")
    if now - leeway >= valid_until:
        raise _fail(code_prefix, "expired", f"expired at {format_datetime(valid_until)}")
    return valid_from, valid_until


def check_contexts_and_type(payload: Mapping[str, Any], vc_type: str, prefix: str) -> None:
    contexts = payload.get("@context")
    if not isinstance(contexts, list) or not contexts or contexts[0] != VC_V2_CONTEXT:
        raise _fail(prefix, "malformed", f"@context must be a list starting with {VC_V2_CONTEXT}")
    types = payload.get("type")
    if not isinstance(types, list) or "VerifiableCredential" not in types or vc_type not in types:
        raise _fail(prefix, "malformed", f"type must include VerifiableCredential and {vc_type}")


# --------------------------------------------------------------------------- participant VC


def build_participant_credential(
    *,
    issuer: str,
    subject_did: str,
    name: str,
    legal_id: LegalId,
    roles: Iterable[str],
    valid_from: datetime,
    valid_until: datetime,
    status_list_url: str,
    status_index: int,
    credential_id: str | None = None,
    signing_key: str | None = None,
) -> dict[str, Any]:
    """The unsigned VC 2.0 participant credential; inputs are validated, nothing is signed.

    ``signing_key``: the did:key the participant signs with when it is not its identity DID
    (after a rotation, ``trust.key_history``); the credential then binds that key to the
    identity for its validity period."""
    try:
        resolve_did_key(subject_did)
        if signing_key is not None:
            resolve_did_key(signing_key)
    except DidError as exc:
        raise DidError(f"participant DID: {exc.message}", **exc.details) from None
    name = check_name(name)
    role_list = parse_roles(roles)
    if valid_until <= valid_from:
        raise ValidationError("validUntil must be later than validFrom", field="validUntil")
    if not isinstance(status_index, int) or status_index < 0:
        raise ValidationError("status list index must be a non-negative integer")
    credential: dict[str, Any] = {"@context": list(PARTICIPANT_CONTEXTS)}
    if credential_id is not None:
        credential["id"] = credential_id
    credential.update({
        "type": ["VerifiableCredential", PARTICIPANT_CREDENTIAL_TYPE],
        "issuer": issuer,
        "validFrom": format_datetime(valid_from),
        "validUntil": format_datetime(valid_until),
        "credentialSubject": {
            "id": subject_did,
            "name": name,
            "legalIdentifier": legal_id.to_dict(),
            "roles": list(role_list),
            **({SIGNING_KEY: signing_key}
               if signing_key is not None and signing_key != subject_did else {}),
        },
        "credentialStatus": {
            "id": f"{status_list_url}#{status_index}",
            "type": STATUS_ENTRY_TYPE,
            "statusPurpose": REVOCATION,
            "statusListIndex": str(status_index),
            "statusListCredential": status_list_url,
        },
    })
    return credential


class StatusListProvider(Protocol):
    """Hands out status lists whose signature and freshness have already been verified.

    Fetching is the connector's job (network); ``trust.status_list.StatusListCache`` is the
    plain in-memory implementation. Raise (any error) when the list is missing or stale.
    """

    def status_list(self, url: str, now: datetime) -> VerifiedStatusList: ...


@dataclass(frozen=True)
class VerifiedCredential:
    """What a relying party may act on once a participant credential has verified."""

    did: str
    name: str
    legal_id: LegalId
    roles: tuple[str, ...]
    valid_from: datetime
    valid_until: datetime
    issuer: str
    status_index: int
    credential_id: str | None = None
    signing_key: str = ""  # the did:key it binds to ``did``; the identity key if not named

    def __post_init__(self) -> None:
        if not self.signing_key:
            object.__setattr__(self, "signing_key", self.did)

    def has_role(self, role: str) -> bool:
        return role in self.roles


def _signing_key(payload: Mapping[str, Any]) -> str | None:
    key = payload["credentialSubject"].get(SIGNING_KEY)
    if key is None:
        return None
    try:
        resolve_did_key(key)
    except DidError as exc:
        raise _fail("credential", "malformed",
                    f"credentialSubject.{SIGNING_KEY}: {exc.message}") from None
    if "#" in key:
        raise _fail("credential", "malformed", f"credentialSubject.{SIGNING_KEY} is a DID")
    return key


def _subject(payload: Mapping[str, Any]) -> tuple[str, str, LegalId, tuple[str, ...]]:
    subject = payload.get("credentialSubject")
    if not isinstance(subject, dict):
        raise _fail("credential", "malformed", "credentialSubject must be a single object")
    did = subject.get("id")
    try:
        resolve_did_key(did)
    except DidError as exc:
        raise _fail("credential", "malformed", f"credentialSubject.id: {exc.message}") from None
    try:
        name = check_name(subject.get("name"))
        legal_id = LegalId.from_dict(subject.get("legalIdentifier"))
        roles_value = subject.get("roles")
        if not isinstance(roles_value, list):
            raise ValidationError("roles must be a list", field="roles")
        roles = parse_roles(roles_value)
    except LegalIdError as exc:
        raise _fail("credential", "malformed", f"legalIdentifier: {exc.message}") from None
    except ValidationError as exc:
        field = exc.details.get("field", "?")
        raise _fail("credential", "malformed", f"credentialSubject.{field}: {exc.message}") \
            from None
    return did, name, legal_id, roles


def _status_entry(payload: Mapping[str, Any]) -> tuple[str, int]:
    status = payload.get("credentialStatus")
    if not isinstance(status, dict):
        raise _fail("credential", "malformed",
                    "credentialStatus must be one BitstringStatusListEntry object; a credential "
                    "that cannot be revoked is not accepted")
    if status.get("type") != STATUS_ENTRY_TYPE or status.get("statusPurpose") != REVOCATION:
        raise _fail("credential", "malformed",
                    "credentialStatus must be a BitstringStatusListEntry with purpose revocation")
    index, url = status.get("statusListIndex"), status.get("statusListCredential")
    if not isinstance(index, str) or not _INDEX.fullmatch(index):
        raise _fail("credential", "malformed", "statusListIndex must be a decimal integer string")
    if not isinstance(url, str) or not url.startswith(("https://", "http://")):
        raise _fail("credential", "malformed", "statusListCredential must be an http(s) URL")
    return url, int(index)


def _check_revocation(
    issuer: str, url: str, index: int, status_lists: StatusListProvider, now: datetime
) -> None:
    try:
        status_list = status_lists.status_list(url, now)
    except CredentialStatusUnknown:
        raise
    except CredentialError as exc:
        raise CredentialStatusUnknown(f"status list unavailable: {exc.message}",
                                      cause=exc.code) from exc
    except Exception as exc:  # fail closed whatever the provider's failure
        raise CredentialStatusUnknown(
            f"status list unavailable: {type(exc).__name__}") from exc
    if status_list.url != url:
        raise CredentialStatusUnknown("provider returned a different status list")
    if status_list.issuer != issuer:
        raise CredentialStatusUnknown("status list is not signed by the credential's issuer")
    if status_list.purpose != REVOCATION:
        raise CredentialStatusUnknown("status list purpose is not revocation")
    if index >= status_list.bits.length:
        raise CredentialStatusUnknown(
            f"statusListIndex {index} is outside the list ({status_list.bits.length})")
    if status_list.bits.get(index):
        raise CredentialRevoked("the authority has revoked this credential", index=index)


def verify_credential(
    token: Any,
    trusted_authorities: Collection[str],
    status_lists: StatusListProvider,
    now: datetime | None = None,
    *,
    leeway: timedelta = timedelta(0),
) -> VerifiedCredential:
    """Verify a participant credential (vc+jwt); raise CredentialError with a typed code.

    ``trusted_authorities`` holds authority DIDs; ``status_lists`` supplies already verified
    status lists (see StatusListProvider); ``leeway`` tolerates clock skew on the validity
    window.
    """
    now = aware_now(now)
    vc = decode_vc_jwt(token, trusted_authorities, code_prefix="credential")
    payload = vc.payload
    check_contexts_and_type(payload, PARTICIPANT_CREDENTIAL_TYPE, "credential")
    did, name, legal_id, roles = _subject(payload)
    signing_key = _signing_key(payload)
    url, index = _status_entry(payload)
    credential_id = payload.get("id")
    if credential_id is not None and not isinstance(credential_id, str):
        raise _fail("credential", "malformed", "id must be a string")
    valid_from, valid_until = check_validity_period(payload, now, leeway=leeway)
    _check_revocation(vc.issuer, url, index, status_lists, now)
    return VerifiedCredential(
        did=did, name=name, legal_id=legal_id, roles=roles, valid_from=valid_from,
        valid_until=valid_until, issuer=vc.issuer, status_index=index,
        credential_id=credential_id, signing_key=signing_key or did,
    )

