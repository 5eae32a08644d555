"""Multibase (base58btc only) and multicodec prefixes used by did:key and Multikey."""

from __future__ import annotations

import re

import base58

from trust.errors import MultibaseError

BASE58BTC_PREFIX = "z"
# Multicodec varint prefixes (https://github.com/multiformats/multicodec).
ED25519_PUB = bytes([0xED, 0x01])
ED25519_PRIV = bytes([0x80, 0x26])


def encode_base58btc(data: bytes) -> str:
    return BASE58BTC_PREFIX + base58.b58encode(data).decode("ascii")


_BASE58_CHARS = re.compile(r"[1-9A-HJ-NP-Za-km-z]+")


def decode_base58btc(text: str) -> bytes:
    if not isinstance(text, str) or not text.startswith(BASE58BTC_PREFIX):
        raise MultibaseError("multibase value must be a base58btc string starting with 'z'")
    # The base58 library strips whitespace; a DID must have exactly one spelling.
    if not _BASE58_CHARS.fullmatch(text[1:]):
        raise MultibaseError("multibase value contains characters outside base58btc")
    try:
        return base58.b58decode(text[1:].encode("ascii"))
    except (ValueError, UnicodeEncodeError) as exc:
        raise MultibaseError("multibase value contains characters outside base58btc") from exc


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
