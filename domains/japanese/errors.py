"""The codes of the shared Japanese text and My Number tools (``trust.errors`` explains the
registry). A domain hub that lets them reach its routes declares their HTTP statuses
(``DomainPlugin.http_statuses``)."""

from __future__ import annotations

from trust.errors import ErrorCode


class JapaneseCode(ErrorCode):
    NUMBER_INVALID = "ja.number_invalid", "a number written in Japanese cannot be read"
    DATE_INVALID = "ja.date_invalid", "a 西暦 or 和暦 date or time cannot be read"
    PERSONAL_NUMBER_REFUSED = ("personal_number.refused",
                               "a My Number (個人番号) was offered: refused whole")
