"""Canonical JSON (RFC 8785, JCS) and hashing helpers.

orjson's sorted output is not JCS in general (number formatting, non-BMP key order), so the
``rfc8785`` package is the reference. ``canonical_json`` takes a fast path through orjson only
for values where the two are byte-identical, and falls back to ``rfc8785`` for everything else:

* only exact ``dict`` (``str`` keys), ``list``, ``str``, ``int``, ``bool`` and ``None``: no
  ``float`` (JCS formats numbers the ECMAScript way, orjson writes ``56.0``), no tuples, no
  subclasses (an ``(str, Enum)`` or ``IntEnum`` may serialise differently);
* integers within +-(2**53 - 1): ``OPT_STRICT_INTEGER`` makes orjson refuse the others, and
  rfc8785 then raises its domain error as before;
* object keys without characters beyond U+FFFF: JCS orders keys by UTF-16 code units, orjson
  by code points; the two orders agree unless a key holds a surrogate pair;
* strings: both write UTF-8 with only ``"``, ``\\`` and U+0000..U+001F escaped, in the same
  forms (``\\b \\t \\n \\f \\r``, else ``\\u00xx`` lowercase); lone surrogates make orjson
  refuse, and rfc8785 then raises as before.

tests/test_canonical_fast.py checks the equivalence against rfc8785 with hypothesis.
"""

from __future__ import annotations

import hashlib
import re
from typing import Any

import orjson
import rfc8785

from trust.errors import TrustCode, ValidationError

_OPTIONS = orjson.OPT_SORT_KEYS | orjson.OPT_STRICT_INTEGER
_BEYOND_BMP = re.compile("[\U00010000-\U0010ffff]")


def _fast_ok(value: Any) -> bool:
    """True when orjson's sorted output of ``value`` is its JCS form (module docstring)."""
    kind = type(value)
    if kind is str or kind is int or kind is bool or value is None:
        return True
    if kind is dict:
        for key, item in value.items():
            if type(key) is not str or (not key.isascii() and _BEYOND_BMP.search(key)):
                return False
            if not _fast_ok(item):
                return False
        return True
    if kind is list:
        for item in value:
            if not _fast_ok(item):
                return False
        return True
    return False


def canonical_json(value: Any) -> bytes:
    try:
        if _fast_ok(value):
            return orjson.dumps(value, option=_OPTIONS)
    except (orjson.JSONEncodeError, RecursionError):
        pass  # out of the fast path's domain (see above): rfc8785 decides
    try:
        return rfc8785.dumps(value)
    except (rfc8785.CanonicalizationError, TypeError, ValueError) as exc:
        raise ValidationError(f"value cannot be written as canonical JSON: {exc}",
                              code=TrustCode.JSON_NOT_CANONICALIZABLE) from exc


def sha256(data: bytes) -> bytes:
    return hashlib.sha256(data).digest()
