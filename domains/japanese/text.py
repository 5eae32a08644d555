"""Japanese text as it arrives in real files: mixed widths, kana variants, numbers in prose.

- ``normalize_width``: NFKC (full-width ASCII and digits to half-width, half-width kana to
  full-width, ideographic space to space) except where NFKC would lose meaning: CJK
  compatibility ideographs (registered name characters such as 﨑 variants: NFKC, and even
  NFC, replace them), circled numbers (NFKC turns "①2" into "12") and superscripts
  ("m²" would become "m2"); "㎡" becomes "m²".
- ``fold_kana``: the search key of ``catalog.search.normalize_text`` (one definition of
  "the same text" for the catalog and the hubs), whitespace collapsed.
- ``parse_int`` / ``numbers_in``: integers written with full-width digits, thousands
  separators, 万/千 and (whole-string only) kanji numerals.
- ``normalize_address``: the above plus dash look-alikes between digits ("1ー2－3") as "-".
"""

from __future__ import annotations

import re
import unicodedata

from catalog.search import normalize_text
from domains.japanese.errors import JapaneseCode
from trust.errors import ValidationError


class JapaneseNumberError(ValidationError):
    """Text that should be a number is not one."""

    code = JapaneseCode.NUMBER_INVALID


# Characters NFKC would flatten into something that means less or something else.
_KEEP = re.compile(
    "([\uf900-\ufaff\U0002f800-\U0002fa1f"  # CJK compatibility ideographs
    "\u2460-\u24ff\u2776-\u2793\u3251-\u325f\u32b1-\u32bf"  # circled / parenthesised numbers
    "\u00b2\u00b3\u00b9\u2070-\u209f]+)"  # superscripts and subscripts
)
_UNITS = str.maketrans({"㎡": "m²", "㎥": "m³", "㎠": "cm²", "㎤": "cm³", "㎢": "km²"})

# Dash look-alikes seen between address numbers (after NFKC: "－" is "-", "ｰ" is "ー").
DASHES = "-ー‐‑‒–—―−─━﹣⁃˗"
_DASH_BETWEEN_DIGITS = re.compile(f"(?<=[0-9])[{re.escape(DASHES)}](?=[0-9])")
_SPACES = re.compile(r"\s+")


def normalize_width(text: str) -> str:
    """NFKC, keeping compatibility ideographs, circled numbers and superscripts as they are."""
    if unicodedata.is_normalized("NFKC", text):  # the common case, and cheap
        return text
    parts = _KEEP.split(text.translate(_UNITS))
    # split() with a capturing group puts the kept runs at odd indices.
    return "".join(p if i % 2 else unicodedata.normalize("NFKC", p) for i, p in enumerate(parts))


def fold_kana(text: str) -> str:
    """Comparison key: NFKC, case-folded, katakana as hiragana, single spaces."""
    return " ".join(normalize_text(text).split())


def normalize_hyphens(text: str) -> str:
    """Dash look-alikes between two digits become "-" ("1ー2ー3" -> "1-2-3"); a long-vowel
    mark anywhere else ("センター") is a letter and stays."""
    return _DASH_BETWEEN_DIGITS.sub("-", text)


def normalize_address(text: str) -> str:
    """Width-normalised, whitespace collapsed and trimmed, digit dashes as "-"."""
    return normalize_hyphens(_SPACES.sub(" ", normalize_width(text)).strip())


# --- numbers ------------------------------------------------------------------------------

_ARABIC = r"(?:[0-9]{1,3}(?:,[0-9]{3})+(?![0-9])|[0-9]+)"
# In prose only Arabic digits count (with 万/千 multipliers): kanji numerals are too often
# part of names (千代田区, 第一小学校) to be read as quantities.
_NUMBER_IN_TEXT = re.compile(
    rf"(?<![0-9])(?<![0-9]\.)({_ARABIC})(?:(万)(?:({_ARABIC})(千)?)?|(千))?(?![0-9])(?!\.[0-9])"
)
_GROUPED = re.compile(r"[0-9]{1,3}(?:,[0-9]{3})+(?![0-9,])")
_KANJI_DIGITS = {"〇": 0, "零": 0, "一": 1, "二": 2, "三": 3, "四": 4, "五": 5, "六": 6,
                 "七": 7, "八": 8, "九": 9}
_SMALL_UNITS = {"十": 10, "百": 100, "千": 1000}
_BIG_UNITS = {"万": 10**4, "億": 10**8, "兆": 10**12}
_MAX_NUMBER_TEXT = 64


def _arabic(text: str) -> int:
    return int(text.replace(",", ""))


def number_spans(text: str) -> list[tuple[int, int, int]]:
    """(start, end, value) of every number ``numbers_in`` finds, as offsets into
    ``normalize_width(text)`` (so labels around a number can be read from the same string)."""
    spans = []
    for m in _NUMBER_IN_TEXT.finditer(normalize_width(text)):
        head, man, rest, sen, only_sen = m.groups()
        value = _arabic(head)
        if man:
            value = value * 10**4 + (_arabic(rest) * (1000 if sen else 1) if rest else 0)
        elif only_sen:
            value *= 1000
        spans.append((m.start(), m.end(), value))
    return spans


def numbers_in(text: str) -> list[int]:
    """Every non-negative integer written in ``text``, in order: "屋内1,700人／屋外2,250人"
    gives [1700, 2250], "１万２千人" [12000]. Decimals ("120.5㎡") are skipped, not split."""
    return [value for _, _, value in number_spans(text)]


def parse_int(text: str) -> int:
    """A whole string as a non-negative integer: "1,700", "１７００", "1万2千", "二千五百".

    Raises JapaneseNumberError (``ja.number_invalid``) naming the offending character.
    """
    folded = _SPACES.sub("", normalize_width(text))
    if not folded:
        raise JapaneseNumberError("number is empty")
    if len(folded) > _MAX_NUMBER_TEXT:
        raise JapaneseNumberError(f"number is too long ({len(folded)} characters)")
    digits = _GROUPED.sub(lambda m: m.group().replace(",", ""), folded)
    if "," in digits:
        raise JapaneseNumberError(
            f"{folded!r}: a thousands separator must be followed by exactly 3 digits")
    total = section = 0
    current: int | None = None
    last_small = last_big = 10**13
    for ch in digits:
        if ch.isascii() and ch.isdigit() or ch in _KANJI_DIGITS:
            d = int(ch) if ch.isascii() else _KANJI_DIGITS[ch]
            current = d if current is None else current * 10 + d
        elif ch in _SMALL_UNITS:
            unit = _SMALL_UNITS[ch]
            if unit >= last_small:
                raise JapaneseNumberError(f"{folded!r}: {ch} cannot follow a larger unit")
            section += (1 if current is None else current) * unit
            current, last_small = None, unit
        elif ch in _BIG_UNITS:
            unit = _BIG_UNITS[ch]
            value = section + _tail(folded, current, last_small)
            if unit >= last_big or value == 0:
                raise JapaneseNumberError(f"{folded!r}: {ch} is misplaced")
            total += value * unit
            section, current, last_small, last_big = 0, None, 10**13, unit
        else:
            raise JapaneseNumberError(
                f"{folded!r} is not a number: {ch!r} (U+{ord(ch):04X}) is not a digit")
    return total + section + _tail(folded, current, last_small)


def _tail(folded: str, current: int | None, last_small: int) -> int:
    """Digits after a 十/百/千 must be smaller than it ("2千1500" is not a number)."""
    if current is not None and last_small < 10**13 and current >= last_small:
        raise JapaneseNumberError(f"{folded!r}: {current} cannot follow a smaller unit")
    return current or 0
