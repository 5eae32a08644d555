"""The registry's typed errors. Messages name fields, never values: a name, a birth date or an
address must not reach a log or a problem response through an error."""

from __future__ import annotations

from typing import Any

from domains.bosai.errors import BosaiCode
from domains.japanese import mynumber
from domains.japanese.errors import JapaneseCode
from domains.japanese.mynumber import PersonalNumberRefused
from trust.errors import ErrorCode, TsunaguError, ValidationError


class RegistryInputError(ValidationError):
    """An input (form, CSV row, card) is missing a field or has an unusable value.

    ``field`` is the JSON path of the offending field (``contact.telephone``), never its value.
    """

    code = BosaiCode.INPUT_INVALID

    def __init__(self, message: str, *, field: str, code: ErrorCode | None = None,
                 **details: Any) -> None:
        super().__init__(message, code=code, field=field, **details)
        self.field = field


class MyNumberRefused(RegistryInputError, PersonalNumberRefused):
    """Something that is or looks like a My Number (個人番号) was offered to the registry: it
    is refused whole, before anything is written, and never repeated in the error (a
    registry input error, so input channels count it like the others)."""

    code = JapaneseCode.PERSONAL_NUMBER_REFUSED


def refuse_my_number(value: Any, field: str = "") -> None:
    """``MyNumberRefused`` naming the field if ``value`` holds a My Number (field or value)."""
    mynumber.refuse_my_number(value, field, MyNumberRefused)


class RegistryError(TsunaguError):
    """A registry operation that cannot be done as asked."""

    code = BosaiCode.REGISTRY_ERROR


class PersonNotFound(RegistryError):
    code = BosaiCode.PERSON_NOT_FOUND


class ReviewNotFound(RegistryError):
    code = BosaiCode.REVIEW_NOT_FOUND


class ReviewDecided(RegistryError):
    """The review was already decided (or made moot by another merge)."""

    code = BosaiCode.REVIEW_DECIDED


class VersionConflict(RegistryError):
    code = BosaiCode.VERSION_CONFLICT


class CardError(RegistryError):
    """A card credential was refused; ``code`` says why (malformed, untrusted issuer,
    signature, not yet valid, expired)."""

    code = BosaiCode.CARD_INVALID
