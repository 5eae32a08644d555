"""W3C Bitstring Status List v1.0: the revocation list an authority publishes and signs.

Bit ``i`` (counted from the left-most bit of the first byte, as the spec says) is 1 when the
credential holding ``statusListIndex`` i is revoked. The list is at least 131,072 bits (16 KB)
so that one index says little about who holds it, and travels GZIP-compressed as multibase
base64url (``u`` prefix, no padding) inside a BitstringStatusListCredential, itself a vc+jwt.

The list credential carries a short ``validUntil``: a relying party that cannot fetch a fresh
list must stop trusting credentials (``credential.status_unknown``) instead of trusting a
stale list that predates a revocation.
"""

from __future__ import annotations

import base64
import binascii
import gzip
import re
import zlib
from collections.abc import Collection, Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from trust.authority_keys import AuthorityKeyring
from trust.credentials import (
    REVOCATION,
    VC_V2_CONTEXT,
    aware_now,
    check_contexts_and_type,
    check_validity_period,
    decode_vc_jwt,
    format_datetime,
    sign_vc_jwt,
)
from trust.errors import CredentialError, CredentialStatusUnknown, TrustCode, ValidationError
from trust.keys import KeyPair

MIN_LENGTH = 131_072  # bits; the spec's minimum (16 KB) for group privacy
MAX_LENGTH = 16 * MIN_LENGTH  # bits; bounds decompression of a hostile list
STATUS_LIST_CREDENTIAL_TYPE = "BitstringStatusListCredential"
STATUS_LIST_TYPE = "BitstringStatusList"
DEFAULT_TTL = timedelta(minutes=15)
_BASE64URL = re.compile(r"[A-Za-z0-9_-]*")


class StatusList:
    """A mutable bitstring; index 0 is the most significant bit of byte 0."""

    __slots__ = ("_bits",)

    def __init__(self, length: int = MIN_LENGTH) -> None:
        if length % 8 or not MIN_LENGTH <= length <= MAX_LENGTH:
            raise ValidationError(
                f"status list length must be a multiple of 8 between {MIN_LENGTH} and "
                f"{MAX_LENGTH} bits"
            )
        self._bits = bytearray(length // 8)

    @property
    def length(self) -> int:
        return len(self._bits) * 8

    def _check(self, index: int) -> None:
        if not isinstance(index, int) or isinstance(index, bool) or not 0 <= index < self.length:
            raise ValidationError(f"status index {index!r} outside 0..{self.length - 1}")

    def get(self, index: int) -> bool:
        self._check(index)
        return bool(self._bits[index >> 3] & (0x80 >> (index & 7)))

    def set(self, index: int, value: bool = True) -> None:
        self._check(index)
        if value:
            self._bits[index >> 3] |= 0x80 >> (index & 7)
        else:
            self._bits[index >> 3] &= ~(0x80 >> (index & 7)) & 0xFF

    def set_indices(self) -> Iterable[int]:
        for byte_no, byte in enumerate(self._bits):
            if byte:
                for bit in range(8):
                    if byte & (0x80 >> bit):
                        yield byte_no * 8 + bit

    def encode(self) -> str:
        """Multibase base64url (no padding) of the GZIP-compressed bitstring."""
        packed = gzip.compress(bytes(self._bits), mtime=0)  # mtime=0: same bits, same text
        return "u" + base64.urlsafe_b64encode(packed).rstrip(b"=").decode("ascii")

    @classmethod
    def decode(cls, encoded: Any) -> StatusList:
        """Parse an ``encodedList``; refuses short lists and oversized (bomb) payloads."""
        if not isinstance(encoded, str) or not encoded.startswith("u"):
            raise ValidationError("encodedList must be multibase base64url (prefix 'u')")
        body = encoded[1:]
        if not _BASE64URL.fullmatch(body):
            raise ValidationError("encodedList is not base64url without padding")
        try:
            packed = base64.urlsafe_b64decode(body + "=" * (-len(body) % 4))
        except (binascii.Error, ValueError):
            raise ValidationError("encodedList is not base64url") from None
        inflater = zlib.decompressobj(wbits=31)  # gzip framing only
        try:
            raw = inflater.decompress(packed, MAX_LENGTH // 8 + 1)
        except zlib.error:
            raise ValidationError("encodedList is not GZIP data") from None
        if len(raw) > MAX_LENGTH // 8 or inflater.unconsumed_tail:
            raise ValidationError(f"encodedList expands beyond {MAX_LENGTH} bits")
        if not inflater.eof:
            raise ValidationError("encodedList GZIP data is truncated")
        if len(raw) * 8 < MIN_LENGTH:
            raise ValidationError(
                f"status list has {len(raw) * 8} bits; the minimum is {MIN_LENGTH}"
            )
        status_list = cls.__new__(cls)
        status_list._bits = bytearray(raw)
        return status_list

    def __eq__(self, other: object) -> bool:
        return isinstance(other, StatusList) and self._bits == other._bits

    def __repr__(self) -> str:
        return f"StatusList(length={self.length}, set={sum(1 for _ in self.set_indices())})"


def build_status_list_credential(
    *,
    issuer: str,
    url: str,
    bits: StatusList,
    valid_from: datetime,
    valid_until: datetime,
    purpose: str = REVOCATION,
) -> dict[str, Any]:
    return {
        "@context": [VC_V2_CONTEXT],
        "id": url,
        "type": ["VerifiableCredential", STATUS_LIST_CREDENTIAL_TYPE],
        "issuer": issuer,
        "validFrom": format_datetime(valid_from),
        "validUntil": format_datetime(valid_until),
        "credentialSubject": {
            "id": f"{url}#list",
            "type": STATUS_LIST_TYPE,
            "statusPurpose": purpose,
            "encodedList": bits.encode(),
        },
    }


def sign_status_list(
    key: KeyPair,
    url: str,
    bits: StatusList,
    *,
    now: datetime | None = None,
    ttl: timedelta = DEFAULT_TTL,
    authority: str | None = None,
) -> str:
    """The signed list credential, valid from ``now`` for ``ttl`` (short, for freshness).
    ``authority``: the issuer's identity DID when ``key`` is a later key of its chain."""
    now = aware_now(now).replace(microsecond=0)
    if ttl <= timedelta(0):
        raise ValidationError("status list ttl must be positive")
    document = build_status_list_credential(
        issuer=authority or key.did, url=url, bits=bits, valid_from=now, valid_until=now + ttl
    )
    return sign_vc_jwt(document, key, authority=authority)


@dataclass(frozen=True)
class VerifiedStatusList:
    """A status list whose signature, issuer and freshness have been checked."""

    url: str
    issuer: str
    purpose: str
    bits: StatusList
    valid_from: datetime
    valid_until: datetime


def verify_status_list(
    token: Any,
    trusted_authorities: Collection[str],
    now: datetime | None = None,
    *,
    expected_url: str | None = None,
    leeway: timedelta = timedelta(0),
) -> VerifiedStatusList:
    """Verify a BitstringStatusListCredential vc+jwt.

    Raises CredentialError with codes ``status_list.malformed|algorithm|untrusted_issuer|
    signature|not_yet_valid|expired``; ``validUntil`` is required.
    """
    now = aware_now(now)
    prefix = "status_list"
    vc = decode_vc_jwt(token, trusted_authorities, code_prefix=prefix)
    payload = vc.payload
    check_contexts_and_type(payload, STATUS_LIST_CREDENTIAL_TYPE, prefix)
    url = payload.get("id")
    if not isinstance(url, str) or not url:
        raise CredentialError("status list credential needs an id (its URL)",
                              code=TrustCode.STATUS_LIST_MALFORMED)
    if expected_url is not None and url != expected_url:
        raise CredentialError("status list id differs from the URL it was fetched for",
                              code=TrustCode.STATUS_LIST_MALFORMED)
    subject = payload.get("credentialSubject")
    if not isinstance(subject, dict) or subject.get("type") != STATUS_LIST_TYPE:
        raise CredentialError("credentialSubject must be a BitstringStatusList",
                              code=TrustCode.STATUS_LIST_MALFORMED)
    purpose = subject.get("statusPurpose")
    if not isinstance(purpose, str):
        raise CredentialError("statusPurpose must be a string",
                              code=TrustCode.STATUS_LIST_MALFORMED)
    try:
        bits = StatusList.decode(subject.get("encodedList"))
    except ValidationError as exc:
        raise CredentialError(exc.message, code=TrustCode.STATUS_LIST_MALFORMED) from None
    valid_from, valid_until = check_validity_period(
        payload, now, code_prefix=prefix, leeway=leeway
    )
    return VerifiedStatusList(url=url, issuer=vc.issuer, purpose=purpose, bits=bits,
                              valid_from=valid_from, valid_until=valid_until)


class StatusListCache:
    """In-memory StatusListProvider: holds verified lists by URL, serves only fresh ones.

    ``add`` verifies before storing and refuses a list older than the one held, so a replayed
    earlier list (issued before a revocation) cannot undo that revocation.
    """

    def __init__(self, trusted_authorities: Collection[str]) -> None:
        # a keyring stays itself (the chains it learns later count here too)
        self._trusted = trusted_authorities if isinstance(trusted_authorities, AuthorityKeyring) \
            else frozenset(trusted_authorities)
        self._lists: dict[str, VerifiedStatusList] = {}

    def add(
        self, token: Any, *, now: datetime | None = None, expected_url: str | None = None
    ) -> VerifiedStatusList:
        verified = verify_status_list(token, self._trusted, now, expected_url=expected_url)
        held = self._lists.get(verified.url)
        if held is not None and verified.valid_from < held.valid_from:
            raise CredentialError("status list is older than the one already held",
                                  code=TrustCode.STATUS_LIST_STALE)
        self._lists[verified.url] = verified
        return verified

    def status_list(self, url: str, now: datetime) -> VerifiedStatusList:
        held = self._lists.get(url)
        if held is None:
            raise CredentialStatusUnknown("no status list held for this credential")
        if now >= held.valid_until:
            raise CredentialStatusUnknown(
                f"held status list expired at {format_datetime(held.valid_until)}; fetch it again"
            )
        if now < held.valid_from:
            raise CredentialStatusUnknown("held status list is not valid yet")
        return held

    def urls(self) -> list[str]:
        return sorted(self._lists)
