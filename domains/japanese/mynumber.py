"""Recognise My Numbers (個人番号) in any input, so that they are refused before anything is
written.

Only entities the law names may handle a My Number, and no tsunagu hub is one of them: the
bosai registry matches people on the 4 basic items instead, and every domain's content rules
refuse a record carrying one in free text (``PersonalNumberRefused``,
``personal_number.refused``). A My Number is 12 digits whose last digit is a check digit over
the first 11 (番号法施行令 第8条). A value is refused when

* a field *name* says it is one (``myNumber``, ``個人番号``, ``マイナンバー`` ...), or
* any text or integer value holds a run of exactly 12 digits (half or full width, possibly
  written in three groups of four with a space or hyphen, as printed on the card) whose check
  digit is right.

Runs preceded by "+" (international telephone numbers) and longer digit runs are not My
Number shaped. A 12-digit run with a wrong check digit is not refused (it is not a My
Number); forms have no field where 12 digits belong anyway.

Errors name the field (its JSON path), never the value: a plain digest of a 12-digit number
can be reversed by trying every number, so not even a hash of it is kept.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable, Mapping
from typing import Any

import orjson

from domains.japanese.errors import JapaneseCode
from trust.errors import ValidationError


class PersonalNumberRefused(ValidationError):
    """A value that is or looks like a My Number (個人番号) was offered: refused whole, before
    anything is written; ``field`` (in the details) is its path, the value is never repeated."""

    code = JapaneseCode.PERSONAL_NUMBER_REFUSED

    def __init__(self, message: str, *, field: str, **details: Any) -> None:
        super().__init__(message, field=field, **details)
        self.field = field


_SEP = "[ \\-‐‑−–—ー]?"  # after NFKC: space, hyphen and its look-alikes
_RUN = re.compile(rf"(?<![0-9+])([0-9]{{4}}){_SEP}([0-9]{{4}}){_SEP}([0-9]{{4}})(?![0-9])")
_KEY_NOISE = re.compile(r"[\s_\-・.]+")
_FIELD_NAMES = frozenset({
    "mynumber", "mynumbers", "individualnumber", "personalnumber", "kojinbango",
    "kojinbangou", "個人番号", "マイナンバー", "まいなんばー", "マイナンバー番号",
    "個人番号カード番号",
})
_WEIGHTS = (6, 5, 4, 3, 2, 7, 6, 5, 4, 3, 2)  # Q_n for P_11 .. P_1 (left to right)


def check_digit(first11: str) -> int:
    """The check digit of a My Number's first 11 digits."""
    remainder = sum(int(d) * w for d, w in zip(first11, _WEIGHTS, strict=True)) % 11
    return 0 if remainder <= 1 else 11 - remainder


def is_my_number(digits: str) -> bool:
    """Exactly 12 ASCII digits with a correct check digit."""
    return (len(digits) == 12 and digits.isascii() and digits.isdigit()
            and check_digit(digits[:11]) == int(digits[11]))


def contains_my_number(text: str) -> bool:
    folded = unicodedata.normalize("NFKC", text)
    return any(is_my_number("".join(m.groups())) for m in _RUN.finditer(folded))


def is_my_number_field(name: str) -> bool:
    folded = _KEY_NOISE.sub("", unicodedata.normalize("NFKC", name)).casefold()
    return folded in _FIELD_NAMES


# A cheap first look over a whole input serialised once: twelve digits (either width) with
# optional single separators, or a field name that mentions a number. Only inputs it flags are
# walked field by field (which is exact, and names the field).
_LOOSE_RUN = re.compile(r"[0-9][0-9 \-‐‑−–—ー]{10,}[0-9]")
_LOOSE_WORDS = ("number", "ナンバー", "なんばー", "番号", "bang")


def _looks_clean(value: Any) -> bool:
    try:
        blob = unicodedata.normalize("NFKC", orjson.dumps(value, default=str).decode())
    except (TypeError, orjson.JSONEncodeError):
        return False
    if _LOOSE_RUN.search(blob):
        return False
    low = blob.lower()
    return not any(word in low for word in _LOOSE_WORDS)


Refusal = Callable[..., ValidationError]
"""``error(message, field=path)``: the error a caller raises (a domain's own subclass of
``PersonalNumberRefused`` when its callers catch a family of input errors)."""


def refuse_my_number(value: Any, field: str = "",
                     error: Refusal = PersonalNumberRefused) -> None:
    """Raise ``error`` naming the field if ``value`` (a JSON-like tree) holds a My Number,
    in a value or as a field name."""
    if isinstance(value, Mapping | list | tuple) and _looks_clean(value):
        return
    _refuse(value, field, error)


def _refuse(value: Any, field: str, error: Refusal) -> None:
    if isinstance(value, str):
        if contains_my_number(value):
            raise error(f"{field or 'input'} looks like a My Number (個人番号); it must not "
                        "be given to tsunagu", field=field or "input")
    elif isinstance(value, bool):
        return
    elif isinstance(value, int):
        _refuse(str(value), field, error)
    elif isinstance(value, Mapping):
        for key, item in value.items():
            path = f"{field}.{key}" if field else str(key)
            if isinstance(key, str) and is_my_number_field(key):
                raise error(f"{path} is a My Number (個人番号) field; tsunagu never takes a "
                            "My Number", field=path)
            if isinstance(key, str):
                _refuse(key, field or "input", error)
            _refuse(item, path, error)
    elif isinstance(value, list | tuple):
        for index, item in enumerate(value):
            _refuse(item, f"{field}[{index}]", error)
