"""Multibase (base58btc; base64url for long values) and multicodec prefixes for did:key."""

from __future__ import annotations

import base64
import re

from trust.errors import MultibaseError

BASE58BTC_PREFIX = "z"
# Multicodec varint prefixes (https://github.com/multiformats/multicodec).
ED25519_PUB = bytes([0xED, 0x01])
ED25519_PRIV = bytes([0x80, 0x26])


# Base58 (Bitcoin alphabet) through Python's big integers, two digits at a time (58**2 =
# 3364): every record's proofValue is encoded by its signer and decoded by each receiver,
# and this runs about 3x faster than the per-digit loop of the base58 package. Leading zero
# bytes are leading "1"s. Property-tested against that package (tests/test_multibase.py).
_ALPHABET = "123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz"
_PAIRS = [a + b for a in _ALPHABET for b in _ALPHABET]
_PAIR_VALUE = {pair: i for i, pair in enumerate(_PAIRS)}
_DIGIT_VALUE = {c: i for i, c in enumerate(_ALPHABET)}
_BASE2 = 58 * 58


def _b58encode(data: bytes) -> str:
    n = int.from_bytes(data, "big")
    pairs: list[str] = []
    while n >= _BASE2:
        n, pair = divmod(n, _BASE2)
        pairs.append(_PAIRS[pair])
    head = "" if n == 0 else _ALPHABET[n] if n < 58 else _PAIRS[n]
    zeros = len(data) - len(data.lstrip(b"\0"))
    return "1" * zeros + head + "".join(reversed(pairs))


def _b58decode(text: str) -> bytes:
    """Decode a string already known to hold only base58 digits."""
    odd = len(text) % 2
    n = _DIGIT_VALUE[text[0]] if odd else 0
    for i in range(odd, len(text), 2):
        n = n * _BASE2 + _PAIR_VALUE[text[i:i + 2]]
    zeros = len(text) - len(text.lstrip("1"))
    return b"\0" * zeros + (n.to_bytes((n.bit_length() + 7) // 8, "big") if n else b"")


def encode_base58btc(data: bytes) -> str:
    return BASE58BTC_PREFIX + _b58encode(data)


_BASE58_CHARS = re.compile(r"[1-9A-HJ-NP-Za-km-z]+")


def decode_base58btc(text: str) -> bytes:
    if not isinstance(text, str) or not text.startswith(BASE58BTC_PREFIX):
        raise MultibaseError("multibase value must be a base58btc string starting with 'z'")
    # Exactly the alphabet (no whitespace, no look-alikes): a DID has exactly one spelling.
    if not _BASE58_CHARS.fullmatch(text[1:]):
        raise MultibaseError("multibase value contains characters outside base58btc")
    return _b58decode(text[1:])


def encode_multikey(codec: bytes, raw: bytes) -> str:
    return encode_base58btc(codec + raw)


def decode_multikey(text: str, codec: bytes, length: int = 32) -> bytes:
    data = decode_base58btc(text)
    if not data.startswith(codec):
        raise MultibaseError(
            f"multikey has codec prefix {data[:2].hex()}, expected {codec.hex()}"
        )
    raw = data[len(codec):]
    if len(raw) != length:
        raise MultibaseError(f"multikey holds {len(raw)} key bytes, expected {length}")
    return raw


BASE64URL_PREFIX = "u"  # multibase base64url, no padding (RFC 4648 §5)
_BASE64URL = re.compile(r"[A-Za-z0-9_-]*")


def encode_base64url(data: bytes) -> str:
    """Multibase base64url: linear time, for values longer than a key or a signature (a
    batch proof's Merkle path) where base58's big-integer arithmetic grows quadratically."""
    return BASE64URL_PREFIX + base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def decode_base64url(text: str) -> bytes:
    if not isinstance(text, str) or not text.startswith(BASE64URL_PREFIX):
        raise MultibaseError("multibase value must be base64url (prefix 'u')")
    body = text[1:]
    if not _BASE64URL.fullmatch(body) or len(body) % 4 == 1:
        raise MultibaseError("multibase value contains characters outside base64url")
    return base64.urlsafe_b64decode(body + "=" * (-len(body) % 4))
