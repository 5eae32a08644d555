"""Signed envelopes for messages between connectors.

An envelope is a compact JWS (EdDSA, pinned) whose claims are: ``iss`` sender DID, ``aud``
recipient DID, ``jti`` message id, ``iat`` / ``exp`` (seconds), ``typ`` message type and
``payload`` (a JSON object). The sender's key is its did:key, so no lookup is needed to check
the signature; whether the sender is a *trusted participant* is the connector's question
(its credential), not this module's.

Verification order matters: the signature is checked before the replay cache is touched, so
forged envelopes cannot poison the cache with message ids.

After a key rotation (``trust.key_history``) a participant signs with a key that is not its
identity DID: ``iss`` stays the identity, ``kid`` names the signing key. Only a caller that
passes ``signer_check`` accepts that; without one, ``iss`` must be the signing key.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
import time
import uuid
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import jwt

from trust.errors import DidError, EnvelopeError, TrustCode
from trust.keys import KeyPair, resolve_did_key

ENVELOPE_TYP = "tsunagu-envelope+jwt"
DEFAULT_LIFETIME_S = 120
MAX_LIFETIME_S = 600  # bounds how long the replay cache must remember a message id
CLOCK_SKEW_S = 30
MAX_ENVELOPE_BYTES = 4 * 1024 * 1024


@dataclass(frozen=True)
class Envelope:
    sender: str
    recipient: str
    message_id: str
    message_type: str
    issued_at: int
    expires_at: int
    payload: dict[str, Any]
    credential: str | None = None  # the sender's participant credential (vc+jwt), if carried
    signer: str = ""  # the did:key that signed; ``sender`` unless it rotated its key

    def __post_init__(self) -> None:
        if not self.signer:
            object.__setattr__(self, "signer", self.sender)


# (sender identity, signing did:key, iat, the carried credential) -> None, or raise.
SignerCheck = Callable[[str, str, int, str | None], None]


def seal(
    payload: dict[str, Any],
    *,
    sender: KeyPair,
    recipient: str,
    message_type: str,
    lifetime_s: int = DEFAULT_LIFETIME_S,
    message_id: str | None = None,
    now: float | None = None,
    credential: str | None = None,
    identity: str | None = None,
) -> str:
    """Sign ``payload`` for ``recipient``; returns the compact JWS.

    ``identity``: the sender's identity DID when it signs with a later key (``iss``); the
    signing key is ``kid`` either way.

    ``credential`` (the sender's vc+jwt) travels inside the signed claims so the recipient can
    check who the sender is without another round trip.
    """
    if not 0 < lifetime_s <= MAX_LIFETIME_S:
        raise EnvelopeError(f"envelope lifetime must be 1..{MAX_LIFETIME_S} s",
                            code=TrustCode.ENVELOPE_LIFETIME)
    issued = int(now if now is not None else time.time())
    claims = {
        "iss": identity or sender.did,
        "aud": recipient,
        "jti": message_id or str(uuid.uuid4()),
        "iat": issued,
        "exp": issued + lifetime_s,
        "typ": message_type,
        "payload": payload,
    }
    if credential is not None:
        claims["vc"] = credential
    headers = {"typ": ENVELOPE_TYP, "kid": sender.verification_method}
    return jwt.encode(claims, sender.private_key, algorithm="EdDSA", headers=headers)


class ReplayCache:
    """Message ids seen recently, kept until their envelope could no longer be accepted."""

    def __init__(self, max_entries: int = 1_000_000) -> None:
        self._seen: OrderedDict[str, float] = OrderedDict()  # key -> forget-after time
        self._max_entries = max_entries

    def check_and_add(self, key: str, forget_after: float, now: float) -> bool:
        """True when ``key`` is new (and remember it); False when it is a replay."""
        self._expire(now)
        if key in self._seen:
            return False
        if len(self._seen) >= self._max_entries:
            # Full: refusing is safer than forgetting ids that could still be replayed.
            raise EnvelopeError("replay cache is full; try again later",
                                code=TrustCode.ENVELOPE_REPLAY_CACHE_FULL)
        self._seen[key] = forget_after
        return True

    def _expire(self, now: float) -> None:
        # Entries are inserted in roughly increasing forget-after order; stop at the first
        # one still live rather than scanning the whole cache on every message.
        while self._seen:
            key, forget_after = next(iter(self._seen.items()))
            if forget_after > now:
                break
            self._seen.popitem(last=False)

    def __len__(self) -> int:
        return len(self._seen)


def _fail(message: str, code: TrustCode) -> EnvelopeError:
    return EnvelopeError(message, code=code)


_SEGMENT = re.compile(r"[A-Za-z0-9_-]+")


def _peek_header(token: str) -> dict[str, Any]:
    """The protected header of a compact JWS, read from its first segment alone: pyjwt's
    ``get_unverified_header`` decodes (and checks byte by byte) the whole payload too, which
    the verification does again; with record bodies inside, that was a quarter of the CPU
    of a contribution. Nothing read here is trusted until ``decode_complete`` verifies."""
    parts = token.split(".")
    if len(parts) != 3 or not _SEGMENT.fullmatch(parts[0]) or len(parts[0]) % 4 == 1:
        raise ValueError("not three base64url segments")
    try:
        header = json.loads(base64.urlsafe_b64decode(parts[0] + "=" * (-len(parts[0]) % 4)))
    except (binascii.Error, ValueError) as exc:
        raise ValueError(f"invalid header: {exc}") from exc
    if not isinstance(header, dict):
        raise ValueError("the header is not a JSON object")
    return header


def _header(token: str) -> dict[str, Any]:
    try:
        header = _peek_header(token)
    except ValueError as exc:
        raise _fail(f"envelope is not a compact JWS: {exc}", TrustCode.ENVELOPE_MALFORMED) from exc
    if header.get("alg") != "EdDSA":
        raise _fail(f"envelope algorithm must be EdDSA, got {header.get('alg')!r}",
                    TrustCode.ENVELOPE_ALGORITHM)
    if header.get("typ") != ENVELOPE_TYP:
        raise _fail(f"envelope typ must be {ENVELOPE_TYP}", TrustCode.ENVELOPE_MALFORMED)
    if not isinstance(header.get("kid"), str):
        raise _fail("envelope header has no kid", TrustCode.ENVELOPE_MALFORMED)
    return header


def _claims(token: str, kid: str, recipient: str) -> dict[str, Any]:
    try:
        public_key = resolve_did_key(kid)
    except DidError as exc:
        raise _fail(f"envelope signer cannot be resolved: {exc.message}",
                    TrustCode.ENVELOPE_UNKNOWN_SIGNER) from exc
    try:
        return jwt.decode(
            token,
            public_key,
            algorithms=["EdDSA"],
            audience=recipient,
            options={"require": ["iss", "aud", "jti", "iat", "exp"], "verify_exp": False,
                     "verify_iat": False},
        )
    except jwt.exceptions.InvalidSignatureError as exc:
        raise _fail("envelope signature does not verify: forged or altered",
                    TrustCode.ENVELOPE_BAD_SIGNATURE) from exc
    except jwt.exceptions.InvalidAudienceError as exc:
        raise _fail("envelope is addressed to another recipient",
                    TrustCode.ENVELOPE_WRONG_RECIPIENT) from exc
    except jwt.exceptions.MissingRequiredClaimError as exc:
        raise _fail(f"envelope lacks the {exc.claim!r} claim",
                    TrustCode.ENVELOPE_MALFORMED) from exc
    except jwt.exceptions.PyJWTError as exc:
        raise _fail(f"envelope cannot be decoded: {exc}", TrustCode.ENVELOPE_MALFORMED) from exc


def _check_claims(claims: dict[str, Any], kid: str, now: float, delegated: bool) -> None:
    if not isinstance(claims["iss"], str):
        raise _fail("envelope iss must be a DID", TrustCode.ENVELOPE_MALFORMED)
    if claims["iss"] != kid.partition("#")[0] and not delegated:
        raise _fail("envelope iss does not match its signing key",
                    TrustCode.ENVELOPE_SENDER_MISMATCH)
    iat, exp = claims["iat"], claims["exp"]
    if not (isinstance(iat, int) and isinstance(exp, int)):
        raise _fail("envelope iat and exp must be integers", TrustCode.ENVELOPE_MALFORMED)
    if exp - iat > MAX_LIFETIME_S or exp <= iat:
        raise _fail(f"envelope lifetime must be 1..{MAX_LIFETIME_S} s", TrustCode.ENVELOPE_LIFETIME)
    if iat > now + CLOCK_SKEW_S:
        raise _fail("envelope is issued in the future", TrustCode.ENVELOPE_NOT_YET_VALID)
    if exp < now - CLOCK_SKEW_S:
        raise _fail("envelope has expired", TrustCode.ENVELOPE_EXPIRED)
    if not isinstance(claims.get("payload"), dict):
        raise _fail("envelope payload must be a JSON object", TrustCode.ENVELOPE_MALFORMED)
    if not isinstance(claims["jti"], str) or not claims["jti"]:
        raise _fail("envelope jti must be a non-empty string", TrustCode.ENVELOPE_MALFORMED)


def open_envelope(
    token: str | bytes,
    *,
    recipient: str,
    replay_cache: ReplayCache,
    now: float | None = None,
    signer_check: SignerCheck | None = None,
) -> Envelope:
    """Verify an envelope addressed to ``recipient``; raise EnvelopeError saying why not.

    ``signer_check`` decides whether the signing key spoke for ``iss`` at ``iat`` (its own
    error propagates); it runs after the signature and before the replay cache, so an
    envelope it refuses leaves no message id behind."""
    if isinstance(token, bytes):
        if len(token) > MAX_ENVELOPE_BYTES:
            raise _fail("envelope is too large", TrustCode.ENVELOPE_TOO_LARGE)
        try:
            token = token.decode("ascii")
        except UnicodeDecodeError as exc:
            raise _fail("envelope is not ASCII", TrustCode.ENVELOPE_MALFORMED) from exc
    if not isinstance(token, str):
        raise _fail("envelope must be a string", TrustCode.ENVELOPE_MALFORMED)
    if len(token) > MAX_ENVELOPE_BYTES:
        raise _fail("envelope is too large", TrustCode.ENVELOPE_TOO_LARGE)
    if not token.isascii():  # a compact JWS is ASCII; this also stops lone surrogates
        raise _fail("envelope is not ASCII", TrustCode.ENVELOPE_MALFORMED)
    moment = now if now is not None else time.time()
    header = _header(token)
    claims = _claims(token, header["kid"], recipient)
    _check_claims(claims, header["kid"], moment, signer_check is not None)
    signer = header["kid"].partition("#")[0]
    credential = claims["vc"] if isinstance(claims.get("vc"), str) else None
    if signer_check is not None:
        signer_check(claims["iss"], signer, claims["iat"], credential)
    # The signer is part of the key: a message id another key used for the same sender
    # cannot make the genuine message look like a replay.
    replay_key = f"{claims['iss']} {signer} {claims['jti']}"
    if not replay_cache.check_and_add(replay_key, claims["exp"] + CLOCK_SKEW_S, moment):
        raise _fail("envelope was already received (replay)", TrustCode.ENVELOPE_REPLAYED)
    return Envelope(
        sender=claims["iss"],
        recipient=claims["aud"],
        message_id=claims["jti"],
        message_type=str(claims.get("typ", "")),
        issued_at=claims["iat"],
        expires_at=claims["exp"],
        payload=claims["payload"],
        credential=credential,
        signer=signer,
    )
