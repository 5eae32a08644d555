"""公費負担者番号 and 受給者番号 check digits (診療報酬請求書等の記載要領), computed by hand."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from domains.pmh.errors import PmhCode, SubsidyNumberInvalid
from domains.pmh.subsidy_numbers import (
    PayerNumber,
    check_digit,
    check_payer_number,
    check_recipient_number,
    with_check_digit,
)

# Worked by hand, rightmost data digit first, weights 2, 1, 2, 1, ...; digits of products.
HAND = {
    # 1x2=2, 0, 0, 3x1=3, 1x2=2, 1x1=1, 2x2=4 -> 12 -> (10 - 2) % 10 = 8
    "2113001": 8,
    # 0, 0, 1x2=2, 3x1=3, 1x2=2, 2x1=2, 5x2=10 -> 1+0 -> 10 -> 0
    "5213100": 0,
    # 0, 0, 1x2=2, 1x1=1, 0, 8x1=8, 8x2=16 -> 1+6 -> 18 -> 2
    "8801100": 2,
    # 6x2=12 -> 1+2, 5, 4x2=8, 3, 2x2=4, 1 -> 24 -> 6
    "123456": 6,
    # 9x2=18 -> 1+8, 9, 9x2=18 -> 9, 9, 9x2=18 -> 9, 9 -> 54 -> 6
    "999999": 6,
    # 7x2=14 -> 1+4 = 5, 0, ... -> 5 -> 5
    "000007": 5,
    "000000": 0,
}


@pytest.mark.parametrize("data, digit", HAND.items())
def test_check_digits_worked_by_hand(data, digit):
    assert check_digit(data) == digit


def test_well_formed_numbers_pass_and_are_read_into_their_parts():
    assert check_payer_number("52131000") == "52131000"
    assert check_recipient_number("1234566") == "1234566"
    assert PayerNumber.parse("88011002") == PayerNumber("88", "01", "100")


@pytest.mark.parametrize("value, reason", [
    ("52131001", "check_digit"), ("5213100", "format"), ("521310000", "format"),
    ("5213１000", "format"), ("5213-100", "format"), ("", "format")])
def test_malformed_payer_numbers_are_refused_naming_the_field_not_the_value(value, reason):
    with pytest.raises(SubsidyNumberInvalid) as caught:
        check_payer_number(value, "Bundle.entry[3].resource.payor[0].identifier.value")
    error = caught.value
    assert error.code == PmhCode.SUBSIDY_NUMBER_INVALID and error.details["reason"] == reason
    assert error.field == "Bundle.entry[3].resource.payor[0].identifier.value"
    assert value not in str(error) or not value


def test_a_recipient_number_with_a_wrong_check_digit_is_refused():
    with pytest.raises(SubsidyNumberInvalid, match="check digit"):
        check_recipient_number("1234567")


@given(st.text("0123456789", min_size=7, max_size=7), st.integers(0, 7), st.integers(1, 9))
def test_changing_any_one_digit_breaks_the_check(data, position, shift):
    number = with_check_digit(data)
    check_payer_number(number)
    changed = number[:position] + str((int(number[position]) + shift) % 10) + \
        number[position + 1:]
    with pytest.raises(SubsidyNumberInvalid):
        check_payer_number(changed)


@given(st.text("0123456789", min_size=6, max_size=6))
def test_every_recipient_number_made_with_its_check_digit_passes(data):
    assert check_recipient_number(with_check_digit(data)) == with_check_digit(data)
