"""NATS JWTs (operator, account, user, activation): minting, ``.creds`` files, verification.

Pure functions over NKeys; no network. The encoding follows the Go ``nats-io/jwt/v2`` library,
which nats-server uses to decode:

- header ``{"typ":"JWT","alg":"ed25519-nkey"}``, base64url without padding, and the signature
  is the issuer NKey's Ed25519 signature over ``header.payload``;
- claims are serialised like Go's ``encoding/json``: struct field order, no spaces, and
  ``<``, ``>``, ``&`` escaped as ``\\u003c`` etc. (subjects such as ``a.>`` look odd on the wire
  but are what Go produces);
- ``jti`` is base32 (no padding) of SHA-512/256 over the JSON of the *standard* claims only
  (aud, exp, iat, iss, name, nbf, sub) with jti left out, exactly as ``ClaimsData.hash`` does.
  Pitfall: two JWTs for the same subject and name issued in the same second therefore share a
  jti even when their ``nats`` sections differ; older nats-server full resolvers
  (``DirJWTStore.saveIfNewer``) then keep the stored one. Give every account version a later
  ``iat``.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import os
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

import nkeys
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from trust.errors import TrustCode, TsunaguError

NO_LIMIT = -1
HEADER = {"typ": "JWT", "alg": "ed25519-nkey"}
Kind = Literal["stream", "service"]
ResponseType = Literal["Singleton", "Stream", "Chunked"]

_PREFIXES = {
    "operator": nkeys.PREFIX_BYTE_OPERATOR,
    "account": nkeys.PREFIX_BYTE_ACCOUNT,
    "user": nkeys.PREFIX_BYTE_USER,
}
# Which key may sign which claim type (nats-io/jwt ExpectedPrefixes, minus signing keys).
_ISSUERS = {
    "operator": "operator",
    "account": "operator",
    "user": "account",
    "activation": "account",
}
_GO_ESCAPES = str.maketrans(
    {"<": "\\u003c", ">": "\\u003e", "&": "\\u0026", "\u2028": "\\u2028", "\u2029": "\\u2029"}
)
_STANDARD_CLAIMS = ("aud", "exp", "jti", "iat", "iss", "name", "nbf", "sub")


class NatsJwtError(TsunaguError):
    """A NATS JWT or NKey is malformed, of the wrong type, or does not verify."""

    code = TrustCode.NATS_JWT


# ----------------------------------------------------------------------------- keys


def generate_key(kind: Literal["operator", "account", "user"]) -> nkeys.KeyPair:
    """A fresh NKey pair (the nkeys package has no generator of its own)."""
    return nkeys.from_seed(nkeys.encode_seed(os.urandom(32), _PREFIXES[kind]))


def public_key(kp: nkeys.KeyPair) -> str:
    return kp.public_key.decode()


def seed(kp: nkeys.KeyPair) -> str:
    return kp.seed.decode()


def key_kind(public: str) -> str:
    """``operator`` / ``account`` / ``user`` for a public NKey, after checking its CRC."""
    prefix, _ = _decode_public_key(public)
    for kind, byte in _PREFIXES.items():
        if byte == prefix:
            return kind
    raise NatsJwtError("not an operator, account or user public key", code=TrustCode.NATS_KEY)


def _decode_public_key(public: str) -> tuple[int, bytes]:
    try:
        raw = base64.b32decode(public + "=" * (-len(public) % 8))
    except (binascii.Error, ValueError):
        raise NatsJwtError("public NKey is not base32", code=TrustCode.NATS_KEY) from None
    if len(raw) != 35 or nkeys.crc16(raw[:-2]) != int.from_bytes(raw[-2:], "little"):
        raise NatsJwtError("public NKey has a bad length or checksum", code=TrustCode.NATS_KEY)
    return raw[0], raw[1:33]


def _check_kind(public: str, kind: str, what: str) -> None:
    if key_kind(public) != kind:
        raise NatsJwtError(f"{what} must be an {kind} public key", code=TrustCode.NATS_KEY)


# ----------------------------------------------------------------------------- encoding


def go_json(value: Any) -> bytes:
    """JSON bytes as Go's ``encoding/json.Marshal`` writes them (for dicts in struct order)."""
    text = json.dumps(value, separators=(",", ":"), ensure_ascii=False)
    return text.translate(_GO_ESCAPES).encode()


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    try:
        return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
    except (binascii.Error, ValueError):
        raise NatsJwtError("JWT part is not base64url") from None


def claims_hash(claims: Mapping[str, Any]) -> str:
    """The ``jti`` nats-io/jwt computes: over the standard claims only, jti omitted."""
    standard = {k: claims[k] for k in _STANDARD_CLAIMS if k != "jti" and claims.get(k)}
    digest = hashlib.new("sha512_256", go_json(standard)).digest()
    return base64.b32encode(digest).decode().rstrip("=")


def encode(
    issuer: nkeys.KeyPair,
    subject: str,
    nats: Mapping[str, Any],
    *,
    name: str = "",
    iat: int | None = None,
    exp: int | None = None,
) -> str:
    """Sign a claim set. ``nats`` must contain ``type``; ``version: 2`` is appended."""
    claim_type = nats.get("type")
    if claim_type not in _ISSUERS:
        raise NatsJwtError(f"unknown NATS claim type {claim_type!r}")
    if key_kind(public_key(issuer)) != _ISSUERS[claim_type]:
        raise NatsJwtError(f"a {claim_type} JWT must be signed by an {_ISSUERS[claim_type]} key")
    claims: dict[str, Any] = {}
    if exp:
        claims["exp"] = int(exp)
    claims["iat"] = int(time.time()) if iat is None else int(iat)
    claims["iss"] = public_key(issuer)
    if name:
        claims["name"] = name
    claims["sub"] = subject
    claims["jti"] = claims_hash(claims)
    ordered = {k: claims[k] for k in _STANDARD_CLAIMS if k in claims}
    ordered["nats"] = {**nats, "version": 2}
    signing_input = f"{_b64(go_json(HEADER))}.{_b64(go_json(ordered))}"
    return f"{signing_input}.{_b64(issuer.sign(signing_input.encode()))}"


def decode(token: str, *, expected_type: str | None = None, now: float | None = None) -> dict:
    """Claims of a NATS JWT after checking header, issuer key type, signature and expiry."""
    parts = token.strip().split(".")
    if len(parts) != 3:
        raise NatsJwtError("a JWT has three dot-separated parts")
    try:
        header = json.loads(_unb64(parts[0]))
        claims = json.loads(_unb64(parts[1]))
    except ValueError:
        raise NatsJwtError("JWT header or claims are not JSON") from None
    if not isinstance(header, dict) or not isinstance(claims, dict):
        raise NatsJwtError("JWT header and claims must be JSON objects")
    if str(header.get("typ", "")).upper() != "JWT" or header.get("alg") != HEADER["alg"]:
        raise NatsJwtError("not a NATS v2 JWT (typ JWT, alg ed25519-nkey)")
    nats = claims.get("nats")
    if not isinstance(nats, dict) or nats.get("version") != 2:
        raise NatsJwtError("JWT lacks a nats section of version 2")
    claim_type = nats.get("type")
    if expected_type is not None and claim_type != expected_type:
        raise NatsJwtError(f"expected a {expected_type} JWT, got {claim_type!r}")
    issuer = claims.get("iss")
    if not isinstance(issuer, str) or claim_type not in _ISSUERS:
        raise NatsJwtError("JWT has no issuer or an unknown claim type")
    _check_kind(issuer, _ISSUERS[claim_type], "the issuer")
    _, raw_key = _decode_public_key(issuer)
    try:
        Ed25519PublicKey.from_public_bytes(raw_key).verify(
            _unb64(parts[2]), f"{parts[0]}.{parts[1]}".encode()
        )
    except InvalidSignature:
        raise NatsJwtError("JWT signature does not verify",
                           code=TrustCode.NATS_JWT_SIGNATURE) from None
    exp = claims.get("exp")
    if exp and (time.time() if now is None else now) > exp:
        raise NatsJwtError("JWT has expired", code=TrustCode.NATS_JWT_EXPIRED)
    return claims


# ----------------------------------------------------------------------------- claim bodies


@dataclass(frozen=True)
class AccountLimits:
    """Operator-imposed account limits. ``-1`` is unlimited; ``0`` means *none allowed*
    (a zero is omitted from the JWT, as Go does, and the server reads absence as zero)."""

    subs: int = NO_LIMIT
    data: int = NO_LIMIT
    payload: int = NO_LIMIT
    imports: int = NO_LIMIT
    exports: int = NO_LIMIT
    wildcards: bool = True
    conn: int = NO_LIMIT
    leaf: int = NO_LIMIT
    mem_storage: int = NO_LIMIT  # JetStream; 0 in both storages disables it
    disk_storage: int = NO_LIMIT
    streams: int = NO_LIMIT
    consumer: int = NO_LIMIT

    def to_claims(self) -> dict[str, Any]:
        # Go field order (NatsLimits, AccountLimits, JetStreamLimits) with omitempty.
        values = {
            "subs": self.subs, "data": self.data, "payload": self.payload,
            "imports": self.imports, "exports": self.exports, "wildcards": self.wildcards,
            "conn": self.conn, "leaf": self.leaf, "mem_storage": self.mem_storage,
            "disk_storage": self.disk_storage, "streams": self.streams,
            "consumer": self.consumer,
        }  # fmt: skip
        return {k: v for k, v in values.items() if v}


# The system account carries server events and the resolver; nats-server refuses JetStream on it.
SYSTEM_ACCOUNT_LIMITS = AccountLimits(mem_storage=0, disk_storage=0, streams=0, consumer=0)


@dataclass(frozen=True)
class Export:
    subject: str
    kind: Kind
    token_req: bool = False
    name: str = ""
    response_type: ResponseType | None = None  # services only; server default Singleton

    def to_claims(self) -> dict[str, Any]:
        out: dict[str, Any] = {"name": self.name} if self.name else {}
        out |= {"subject": self.subject, "type": self.kind}
        if self.token_req:
            out["token_req"] = True
        if self.response_type:
            out["response_type"] = self.response_type
        return out


@dataclass(frozen=True)
class Import:
    """``subject`` is the exporter's subject; ``local_subject`` renames it in the importer."""

    subject: str
    account: str
    kind: Kind
    token: str = ""
    local_subject: str = ""
    name: str = ""

    def to_claims(self) -> dict[str, Any]:
        out: dict[str, Any] = {"name": self.name} if self.name else {}
        out |= {"subject": self.subject, "account": self.account}
        if self.token:
            out["token"] = self.token
        if self.local_subject:
            out["local_subject"] = self.local_subject
        out["type"] = self.kind
        return out


@dataclass(frozen=True)
class Permissions:
    """User pub/sub allow and deny lists; ``resp_max`` allows that many replies to each
    request received (the way to answer requests whose reply subject is not in pub_allow)."""

    pub_allow: tuple[str, ...] = ()
    pub_deny: tuple[str, ...] = ()
    sub_allow: tuple[str, ...] = ()
    sub_deny: tuple[str, ...] = ()
    resp_max: int = 0
    resp_ttl_seconds: float = 0.0

    def to_claims(self) -> dict[str, Any]:
        def side(allow: tuple[str, ...], deny: tuple[str, ...]) -> dict[str, list[str]]:
            out = {"allow": list(allow)} if allow else {}
            return out | ({"deny": list(deny)} if deny else {})

        out: dict[str, Any] = {
            "pub": side(self.pub_allow, self.pub_deny),
            "sub": side(self.sub_allow, self.sub_deny),
        }
        if self.resp_max:
            # Go's time.Duration serialises as integer nanoseconds.
            out["resp"] = {"max": self.resp_max, "ttl": int(self.resp_ttl_seconds * 1e9)}
        return out


def _sorted(items: Iterable[Export | Import]) -> list[dict[str, Any]]:
    # nats-io/jwt sorts exports and imports by subject before encoding; so do we.
    return [i.to_claims() for i in sorted(items, key=lambda i: (i.subject, i.to_claims()["type"]))]


# ----------------------------------------------------------------------------- minting


def operator_jwt(
    operator: nkeys.KeyPair,
    name: str,
    *,
    system_account: str | None = None,
    iat: int | None = None,
) -> str:
    """Self-signed operator JWT; the server trusts accounts it (the operator key) signed."""
    nats: dict[str, Any] = {}
    if system_account:
        _check_kind(system_account, "account", "system_account")
        nats["system_account"] = system_account
    nats["type"] = "operator"
    return encode(operator, public_key(operator), nats, name=name, iat=iat)


def account_jwt(
    operator: nkeys.KeyPair,
    account: str,
    name: str,
    *,
    limits: AccountLimits | None = None,
    exports: Iterable[Export] = (),
    imports: Iterable[Import] = (),
    revocations: Mapping[str, int] | None = None,
    signing_keys: Iterable[str] = (),
    iat: int | None = None,
) -> str:
    """Account JWT signed by the operator. ``revocations`` maps user public keys (or ``*``)
    to a Unix time: user JWTs issued at or before it are refused and their connections
    closed. ``signing_keys``: account nkeys that may sign its users besides the account key
    (dropping one disconnects the users it signed)."""
    _check_kind(account, "account", "the account")
    nats: dict[str, Any] = {}
    if imports := _sorted(imports):
        nats["imports"] = imports
    if exports := _sorted(exports):
        nats["exports"] = exports
    nats["limits"] = (limits or AccountLimits()).to_claims()
    keys = list(signing_keys)
    for key in keys:
        _check_kind(key, "account", "a signing key")
    if keys:  # the Go library's field order: after limits, before revocations
        nats["signing_keys"] = keys
    if revocations:
        nats["revocations"] = {k: int(v) for k, v in sorted(revocations.items())}
    nats["type"] = "account"
    return encode(operator, account, nats, name=name, iat=iat)


def user_jwt(
    account: nkeys.KeyPair,
    user: str,
    name: str,
    permissions: Permissions | None = None,
    *,
    subs: int = NO_LIMIT,
    data: int = NO_LIMIT,
    payload: int = NO_LIMIT,
    iat: int | None = None,
    exp: int | None = None,
    issuer_account: str | None = None,
) -> str:
    """User JWT signed by its account key, or by one of the account's signing keys
    (``account`` is then that key and ``issuer_account`` the account's public key)."""
    _check_kind(user, "user", "the user")
    nats = (permissions or Permissions()).to_claims()
    nats |= {k: v for k, v in (("subs", subs), ("data", data), ("payload", payload)) if v}
    if issuer_account is not None:
        _check_kind(issuer_account, "account", "the issuer account")
        nats["issuer_account"] = issuer_account
    nats["type"] = "user"
    return encode(account, user, nats, name=name, iat=iat, exp=exp)


def activation_jwt(
    exporter: nkeys.KeyPair,
    importer: str,
    subject: str,
    kind: Kind,
    *,
    name: str = "",
    iat: int | None = None,
    exp: int | None = None,
) -> str:
    """Activation token: the exporter account lets ``importer`` import ``subject``."""
    _check_kind(importer, "account", "the importer")
    nats = {"subject": subject, "kind": kind, "type": "activation"}
    return encode(exporter, importer, nats, name=name, iat=iat, exp=exp)


# ----------------------------------------------------------------------------- .creds


@dataclass(frozen=True)
class UserCredentials:
    jwt: str
    seed: str = field(repr=False)

    def creds(self) -> str:
        return format_creds(self.jwt, self.seed)


def format_creds(user_jwt_text: str, user_seed: str) -> str:
    """The ``.creds`` layout nsc writes and every NATS client reads."""
    return (
        "-----BEGIN NATS USER JWT-----\n"
        f"{user_jwt_text.strip()}\n"
        "------END NATS USER JWT------\n\n"
        "************************* IMPORTANT *************************\n"
        "NKEY Seed printed below can be used to sign and prove identity.\n"
        "NKEYs are sensitive and should be treated as secrets.\n\n"
        "-----BEGIN USER NKEY SEED-----\n"
        f"{user_seed.strip()}\n"
        "------END USER NKEY SEED------\n\n"
        "*************************************************************\n"
    )


def parse_creds(text: str) -> UserCredentials:
    """Inverse of :func:`format_creds` (the first JWT and seed blocks)."""
    blocks = []
    lines = iter(text.splitlines())
    for line in lines:
        if line.startswith("-----BEGIN"):
            blocks.append(next(lines, "").strip())
    if len(blocks) < 2 or not blocks[1].startswith("SU"):
        raise NatsJwtError("not a NATS .creds file (JWT and user seed blocks)")
    return UserCredentials(jwt=blocks[0], seed=blocks[1])
