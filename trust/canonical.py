"""Canonical JSON (RFC 8785, JCS) and hashing helpers.

orjson's sorted output is not JCS (number formatting, non-BMP key order), so signatures always
go through the ``rfc8785`` package.
"""

from __future__ import annotations

import hashlib
from typing import Any

import rfc8785

from trust.errors import ValidationError


def canonical_json(value: Any) -> bytes:
    try:
        return rfc8785.dumps(value)
    except (rfc8785.CanonicalizationError, TypeError, ValueError) as exc:
        raise ValidationError(f"value cannot be written as canonical JSON: {exc}",
                              code="json.not_canonicalizable") from exc


def sha256(data: bytes) -> bytes:
    return hashlib.sha256(data).digest()
