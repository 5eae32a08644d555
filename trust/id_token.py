"""Self-issued ID tokens: how a participant authenticates a DSP request over HTTPS.

As the Decentralized Claims Protocol (DCP 1.0) has it: a JWT signed by the participant's own
key (EdDSA, ``kid`` its did:key verification method), ``iss`` = ``sub`` = its DID, ``aud`` the
counterparty's DID, a short lifetime and a unique ``jti``. DCP lets the token point to a
credential service (its ``token`` claim); a tsunagu participant has exactly one credential,
so the token carries it (``participantCredential``, the authority's ``vc+jwt``) and the
verifier needs no further round trip. Whether that credential is valid (issuer, status list,
key history) is the caller's ``signer_check``: this module only knows tokens.

Order of checks as in ``trust.envelope``: signature, then claims, then ``signer_check``, then
the replay cache, so a forged or refused token leaves no ``jti`` behind.
"""

from __future__ import annotations

import time
import uuid
from dataclasses import dataclass
from typing import Any

import jwt

from trust.envelope import CLOCK_SKEW_S, ReplayCache, SignerCheck, _peek_header
from trust.errors import DidError, IdTokenError, TrustCode
from trust.keys import KeyPair, resolve_did_key

DEFAULT_LIFETIME_S = 60
MAX_LIFETIME_S = 300  # bounds how long the replay cache must remember a jti
MAX_TOKEN_CHARS = 64 * 1024
CREDENTIAL_CLAIM = "participantCredential"


@dataclass(frozen=True)
class IdToken:
    """A verified token: who sent it (``subject``), with which key, carrying what."""

    subject: str
    audience: str
    jti: str
    issued_at: int
    expires_at: int
    signer: str  # the did:key that signed; ``subject`` unless it rotated its key
    credential: str | None


def issue(key: KeyPair, *, audience: str, identity: str | None = None,
          credential: str | None = None, lifetime_s: int = DEFAULT_LIFETIME_S,
          now: float | None = None) -> str:
    """A token for one request to ``audience``; ``identity``: the DID when ``key`` is a
    later signing key (after a rotation)."""
    if not 0 < lifetime_s <= MAX_LIFETIME_S:
        raise IdTokenError(f"ID token lifetime must be 1..{MAX_LIFETIME_S} s",
                           code=TrustCode.ID_TOKEN_LIFETIME)
    issued = int(now if now is not None else time.time())
    did = identity or key.did
    claims: dict[str, Any] = {"iss": did, "sub": did, "aud": audience, "iat": issued,
                              "exp": issued + lifetime_s, "jti": str(uuid.uuid4())}
    if credential is not None:
        claims[CREDENTIAL_CLAIM] = credential
    return jwt.encode(claims, key.private_key, algorithm="EdDSA",
                      headers={"typ": "JWT", "kid": key.verification_method})


def _fail(message: str, code: TrustCode) -> IdTokenError:
    return IdTokenError(message, code=code)


def _decode(token: str, audience: str) -> tuple[dict[str, Any], str]:
    if len(token) > MAX_TOKEN_CHARS or not token.isascii():
        raise _fail("the ID token is too large or not ASCII", TrustCode.ID_TOKEN_MALFORMED)
    try:
        header = _peek_header(token)
    except ValueError as exc:
        raise _fail(f"the ID token is not a compact JWS: {exc}",
                    TrustCode.ID_TOKEN_MALFORMED) from exc
    kid = header.get("kid")
    if header.get("alg") != "EdDSA" or not isinstance(kid, str):
        raise _fail("the ID token must be signed with EdDSA and name its key (kid)",
                    TrustCode.ID_TOKEN_MALFORMED)
    try:
        public_key = resolve_did_key(kid)
    except DidError as exc:
        raise _fail(f"the ID token's key cannot be resolved: {exc.message}",
                    TrustCode.ID_TOKEN_MALFORMED) from exc
    try:
        claims = jwt.decode(token, public_key, algorithms=["EdDSA"], audience=audience,
                            options={"require": ["iss", "sub", "aud", "jti", "iat", "exp"],
                                     "verify_exp": False, "verify_iat": False})
    except jwt.exceptions.InvalidSignatureError as exc:
        raise _fail("the ID token's signature does not verify",
                    TrustCode.ID_TOKEN_BAD_SIGNATURE) from exc
    except jwt.exceptions.InvalidAudienceError as exc:
        raise _fail("the ID token is addressed to another participant",
                    TrustCode.ID_TOKEN_WRONG_AUDIENCE) from exc
    except jwt.exceptions.PyJWTError as exc:
        raise _fail(f"the ID token cannot be read: {exc}", TrustCode.ID_TOKEN_MALFORMED) from exc
    return claims, kid.partition("#")[0]


def _check_claims(claims: dict[str, Any], signer: str, now: float, delegated: bool) -> None:
    iss, sub, jti = claims["iss"], claims["sub"], claims["jti"]
    if not isinstance(iss, str) or iss != sub:
        raise _fail("the ID token's iss and sub must be the same DID",
                    TrustCode.ID_TOKEN_SUBJECT_MISMATCH)
    if iss != signer and not delegated:
        raise _fail("the ID token's iss is not its signing key",
                    TrustCode.ID_TOKEN_SUBJECT_MISMATCH)
    if not isinstance(jti, str) or not jti:
        raise _fail("the ID token's jti must be a non-empty string",
                    TrustCode.ID_TOKEN_MALFORMED)
    iat, exp = claims["iat"], claims["exp"]
    if not (isinstance(iat, int) and isinstance(exp, int)):
        raise _fail("the ID token's iat and exp must be integers", TrustCode.ID_TOKEN_MALFORMED)
    if not 0 < exp - iat <= MAX_LIFETIME_S:
        raise _fail(f"the ID token's lifetime must be 1..{MAX_LIFETIME_S} s",
                    TrustCode.ID_TOKEN_LIFETIME)
    if exp < now - CLOCK_SKEW_S or iat > now + CLOCK_SKEW_S:
        raise _fail("the ID token has expired or is not valid yet", TrustCode.ID_TOKEN_EXPIRED)


def verify(token: str | None, *, audience: str, replay_cache: ReplayCache,
           signer_check: SignerCheck | None = None, now: float | None = None) -> IdToken:
    """The verified token addressed to ``audience``; IdTokenError saying why not.

    ``signer_check(subject, signer, iat, credential)`` decides whether the carried
    credential is valid and the signing key spoke for the subject then (its error
    propagates); without one, the token must be signed by the subject's own did:key."""
    if not token:
        raise _fail("no ID token (Authorization: Bearer <self-issued ID token>)",
                    TrustCode.ID_TOKEN_MISSING)
    moment = now if now is not None else time.time()
    claims, signer = _decode(token, audience)
    _check_claims(claims, signer, moment, signer_check is not None)
    raw = claims.get(CREDENTIAL_CLAIM)
    credential = raw if isinstance(raw, str) else None
    if signer_check is not None:
        signer_check(claims["iss"], signer, claims["iat"], credential)
    if not replay_cache.check_and_add(f"idt {claims['iss']} {signer} {claims['jti']}",
                                      claims["exp"] + CLOCK_SKEW_S, moment):
        raise _fail("the ID token was already used (replay)", TrustCode.ID_TOKEN_REPLAYED)
    return IdToken(subject=claims["iss"], audience=claims["aud"], jti=claims["jti"],
                   issued_at=claims["iat"], expires_at=claims["exp"], signer=signer,
                   credential=credential)
