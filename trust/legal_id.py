"""Japanese legal identifiers a participant credential binds a DID to.

Two kinds, both public registers with a check digit, so a typo is caught at onboarding rather
than by a relying party months later:

- 法人番号 (corporate number, National Tax Agency): 13 digits, the *first* digit is the check
  digit: ``9 - (sum(P_n * Q_n) mod 9)`` over the 12 base digits, ``P_n`` being the n-th digit
  counted from the lowest, ``Q_n`` 1 for odd n and 2 for even n.
- 全国地方公共団体コード (local government code, 総務省): 5 digits (2 for the prefecture
  01-47, 3 for the municipality) plus a sixth check digit: the digits weighted 6,5,4,3,2,
  summed, ``11 - (sum mod 11)``, keeping only the last digit (so 11 -> 1, 10 -> 0).

Input may use full-width digits (NFKC-normalised) and single spaces or hyphens between digit
groups, as these numbers are commonly printed; the value object always holds bare digits.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from trust.errors import TrustCode, ValidationError

_GROUPED_DIGITS = re.compile(r"[0-9]+(?:[ -][0-9]+)*")
_MAX_INPUT = 64


class LegalIdError(ValidationError):
    """A legal identifier is malformed or its check digit is wrong."""

    code = TrustCode.LEGAL_ID_INVALID


class LegalIdKind(StrEnum):
    CORPORATE_NUMBER = "corporate_number"
    LOCAL_GOVERNMENT_CODE = "local_government_code"


_LENGTH = {LegalIdKind.CORPORATE_NUMBER: 13, LegalIdKind.LOCAL_GOVERNMENT_CODE: 6}
_LABEL = {
    LegalIdKind.CORPORATE_NUMBER: "法人番号 (corporate number)",
    LegalIdKind.LOCAL_GOVERNMENT_CODE: "全国地方公共団体コード (local government code)",
}


@dataclass(frozen=True)
class LegalId:
    """A validated legal identifier: its kind and its normalised (ASCII digits) value."""

    kind: LegalIdKind
    value: str

    def to_dict(self) -> dict[str, str]:
        """The ``legalIdentifier`` object of a participant credential."""
        return {"type": self.kind.value, "value": self.value}

    @classmethod
    def from_dict(cls, data: Any) -> LegalId:
        """Read a ``legalIdentifier`` object; the value must already be normalised."""
        if not isinstance(data, dict) or set(data) != {"type", "value"}:
            raise LegalIdError("legalIdentifier must be an object with exactly type and value")
        legal_id = parse_legal_id(data["value"], kind=data["type"])
        if legal_id.value != data["value"]:
            raise LegalIdError("legalIdentifier value must be bare ASCII digits")
        return legal_id

    def __str__(self) -> str:
        return self.value


def corporate_number_check_digit(base: str) -> int:
    """Check digit of a 法人番号 from its 12 base digits (the 13-digit number minus the first)."""
    if len(base) != 12 or not base.isascii() or not base.isdigit():
        raise LegalIdError("a corporate number base is 12 ASCII digits")
    total = sum(int(d) * (1 if n % 2 else 2) for n, d in enumerate(reversed(base), start=1))
    return 9 - total % 9


def local_government_check_digit(base: str) -> int:
    """Check digit of a 全国地方公共団体コード from its 5 base digits."""
    if len(base) != 5 or not base.isascii() or not base.isdigit():
        raise LegalIdError("a local government code base is 5 ASCII digits")
    total = sum(int(d) * w for d, w in zip(base, (6, 5, 4, 3, 2), strict=True))
    return (11 - total % 11) % 10


def _normalise(text: Any) -> str:
    if not isinstance(text, str):
        raise LegalIdError(f"legal identifier must be a string, got {type(text).__name__}")
    if len(text) > _MAX_INPUT:
        raise LegalIdError(f"legal identifier is too long ({len(text)} characters)")
    folded = unicodedata.normalize("NFKC", text).strip()
    if not folded:
        raise LegalIdError("legal identifier is empty")
    if not _GROUPED_DIGITS.fullmatch(folded):
        bad = next((c for c in folded if not (c.isascii() and (c.isdigit() or c in " -"))), None)
        if bad is not None:
            raise LegalIdError(
                f"legal identifier contains {bad!r} (U+{ord(bad):04X}); only digits are allowed"
            )
        raise LegalIdError(
            "legal identifier may only use single spaces or hyphens between groups of digits"
        )
    return folded.replace(" ", "").replace("-", "")


def _coerce_kind(kind: LegalIdKind | str) -> LegalIdKind:
    try:
        return LegalIdKind(kind)
    except ValueError:
        allowed = ", ".join(k.value for k in LegalIdKind)
        raise LegalIdError(
            f"unknown legal identifier type {str(kind)[:40]!r}; expected one of {allowed}"
        ) from None


def parse_legal_id(text: Any, kind: LegalIdKind | str | None = None) -> LegalId:
    """Validate a 法人番号 or 全国地方公共団体コード; the kind follows from the length if not given.

    Raises LegalIdError (code ``legal_id.invalid``) naming the problem: characters, length,
    prefecture, or the expected and actual check digit.
    """
    wanted = _coerce_kind(kind) if kind is not None else None
    digits = _normalise(text)
    if wanted is None:
        if len(digits) == 13:
            wanted = LegalIdKind.CORPORATE_NUMBER
        elif len(digits) == 6:
            wanted = LegalIdKind.LOCAL_GOVERNMENT_CODE
        elif len(digits) == 5:
            hint = local_government_check_digit(digits)
            raise LegalIdError(
                "legal identifier has 5 digits: a local government code needs its sixth "
                f"(check) digit, which would make it {digits}{hint}"
            )
        else:
            raise LegalIdError(
                f"legal identifier has {len(digits)} digits; expected 13 for a 法人番号 "
                "(corporate number) or 6 for a 全国地方公共団体コード (local government code)"
            )
    expected_len = _LENGTH[wanted]
    if len(digits) != expected_len:
        raise LegalIdError(
            f"{_LABEL[wanted]} has {expected_len} digits, got {len(digits)}"
        )
    if wanted is LegalIdKind.CORPORATE_NUMBER:
        expected, actual = corporate_number_check_digit(digits[1:]), int(digits[0])
        where = "first"
    else:
        prefecture = int(digits[:2])
        if not 1 <= prefecture <= 47:
            raise LegalIdError(
                f"{_LABEL[wanted]} starts with prefecture {digits[:2]}; "
                "prefecture codes run from 01 to 47"
            )
        expected, actual = local_government_check_digit(digits[:5]), int(digits[5])
        where = "last"
    if expected != actual:
        raise LegalIdError(
            f"{_LABEL[wanted]} check digit ({where} digit) is wrong: expected {expected}, "
            f"got {actual}"
        )
    return LegalId(wanted, digits)
