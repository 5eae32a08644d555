"""公費負担者番号 (public payer number) and 受給者番号 (recipient number), with check digits.

* 公費負担者番号: 8 digits, 法別番号 (2) + 都道府県番号 (2) + 実施機関番号 (3) + check digit.
* 受給者番号: 7 digits, 6 + check digit.

Both check digits follow 厚生労働省「診療報酬請求書等の記載要領」(the 検証番号 of
公費負担者番号 and of 公費負担医療の受給者番号): from the rightmost data digit leftwards
multiply by 2, 1, 2, 1, ...; add the *digits* of each product (7 x 2 = 14 counts 1 + 4);
the check digit is (10 - sum mod 10) mod 10. (The Luhn scheme, applied to the data digits.)

Errors name the field, never the number: a recipient number identifies a person.
"""

from __future__ import annotations

from dataclasses import dataclass

from domains.pmh.errors import SubsidyNumberInvalid

PAYER_LENGTH = 8
RECIPIENT_LENGTH = 7


def check_digit(data: str) -> int:
    """The check digit of ``data`` (ASCII digits, without their check digit)."""
    total = 0
    for position, char in enumerate(reversed(data)):
        product = int(char) * (2 if position % 2 == 0 else 1)
        total += product // 10 + product % 10
    return (10 - total % 10) % 10


def _checked(value: str, length: int, what: str, field: str) -> str:
    if not isinstance(value, str) or len(value) != length or not (value.isascii()
                                                                   and value.isdigit()):
        raise SubsidyNumberInvalid(f"{field}: a {what} is {length} ASCII digits",
                                   field=field, reason="format")
    if check_digit(value[:-1]) != int(value[-1]):
        raise SubsidyNumberInvalid(f"{field}: the {what}'s check digit (検証番号) is wrong",
                                   field=field, reason="check_digit")
    return value


def check_payer_number(value: str, field: str = "payerNumber") -> str:
    """``value`` if it is a well-formed 公費負担者番号, else ``SubsidyNumberInvalid``."""
    return _checked(value, PAYER_LENGTH, "公費負担者番号 (public payer number)", field)


def check_recipient_number(value: str, field: str = "recipientNumber") -> str:
    """``value`` if it is a well-formed 受給者番号, else ``SubsidyNumberInvalid``."""
    return _checked(value, RECIPIENT_LENGTH, "受給者番号 (recipient number)", field)


@dataclass(frozen=True)
class PayerNumber:
    """A checked 公費負担者番号 read into its parts."""

    law: str  # 法別番号: which public programme (e.g. 52 小児慢性特定疾病)
    prefecture: str  # 都道府県番号 (01 北海道 .. 47 沖縄県)
    institution: str  # 実施機関番号

    @classmethod
    def parse(cls, value: str, field: str = "payerNumber") -> PayerNumber:
        digits = check_payer_number(value, field)
        return cls(digits[:2], digits[2:4], digits[4:7])


def with_check_digit(data: str) -> str:
    """``data`` followed by its check digit: to make synthetic numbers in tests and demos."""
    return data + str(check_digit(data))
