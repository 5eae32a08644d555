"""Area codes of spatial coverage: JIS X 0401 prefectures and JIS X 0402 municipalities.

A prefecture is two digits (``04`` Miyagi; ``JP-04`` and ``04000`` are accepted), a
municipality five (``04100`` Sendai) or six with the check digit (``041009``: the check digit
is dropped). A municipality code's first two digits are its prefecture, so the prefecture of
any code is ``code[:2]``.
"""

from __future__ import annotations

import re

_CODE = re.compile(r"^(?:JP-)?(\d{2}|\d{5}|\d{6})$")


def normalize_area(value: object) -> str | None:
    """``"04"`` or ``"04100"``, or None for anything that is not a valid area code."""
    if not isinstance(value, str):
        return None
    text = value.strip()
    for prefix in ("urn:jis:x0402:", "urn:jis:x0401:"):
        if text.startswith(prefix):
            text = text[len(prefix):]
    m = _CODE.match(text)
    if not m:
        return None
    code = m.group(1)
    if len(code) == 6:
        if check_digit(code[:5]) != code[5]:
            return None
        code = code[:5]
    if not 1 <= int(code[:2]) <= 47:
        return None
    if len(code) == 5 and code.endswith("000"):
        return code[:2]
    return code


def check_digit(code5: str) -> str:
    """The check digit of a 5-digit 全国地方公共団体コード (modulus 11, weights 6..2)."""
    total = sum(int(d) * w for d, w in zip(code5, (6, 5, 4, 3, 2), strict=True))
    rest = total % 11
    return str((11 - rest) % 10) if rest else "0"


def prefecture(code: str) -> str:
    return code[:2]


def covers(area: str, asked: str) -> bool:
    """Whether a dataset covering ``area`` is found when asking for ``asked``: a prefecture
    finds its own datasets and its municipalities'; a municipality finds its own and its
    prefecture-wide ones (they cover it too)."""
    if len(asked) == 2:
        return area[:2] == asked
    return area == asked or area == asked[:2]
