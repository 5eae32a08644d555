"""法人番号 and 全国地方公共団体コード validation, checked against real published numbers."""

from __future__ import annotations

import pytest

from trust.errors import ValidationError
from trust.legal_id import (
    LegalId,
    LegalIdError,
    LegalIdKind,
    corporate_number_check_digit,
    local_government_check_digit,
    parse_legal_id,
)

# Published in the 国税庁 法人番号公表サイト.
CORPORATE_NUMBERS = {
    "7000012050002": "国税庁",
    "2000012010019": "内閣府",
    "1180301018771": "トヨタ自動車株式会社",
    "5010401067252": "ソニーグループ株式会社",
    "1130001011420": "任天堂株式会社",
    "7010001008844": "株式会社日立製作所",
}
# 総務省 全国地方公共団体コード; chosen to cover 11 - r = 11 (-> 1) and 10 (-> 0).
LOCAL_GOVERNMENT_CODES = {
    "131016": "千代田区",
    "011002": "札幌市",
    "130001": "東京都",
    "010006": "北海道",
    "141003": "横浜市",
    "271004": "大阪市",
    "472018": "那覇市",
    "131041": "新宿区",  # sum 33, remainder 0 -> 11 -> 1
    "131130": "渋谷区",  # sum 34, remainder 1 -> 10 -> 0
}


@pytest.mark.parametrize("number", sorted(CORPORATE_NUMBERS))
def test_real_corporate_numbers_are_accepted(number):
    legal_id = parse_legal_id(number)
    assert legal_id == LegalId(LegalIdKind.CORPORATE_NUMBER, number)
    assert corporate_number_check_digit(number[1:]) == int(number[0])


@pytest.mark.parametrize("code", sorted(LOCAL_GOVERNMENT_CODES))
def test_real_local_government_codes_are_accepted(code):
    legal_id = parse_legal_id(code)
    assert legal_id == LegalId(LegalIdKind.LOCAL_GOVERNMENT_CODE, code)
    assert local_government_check_digit(code[:5]) == int(code[5])


def test_check_digit_formulas_by_hand():
    # 国税庁 000012050002: digits from the lowest, weights 1,2,1,2...: 2+5+2+2 = 11;
    # 11 mod 9 = 2; 9 - 2 = 7.
    assert corporate_number_check_digit("000012050002") == 7
    # A base summing to a multiple of 9 gets check digit 9 (never 0).
    assert corporate_number_check_digit("000000000009") == 9
    assert corporate_number_check_digit("000000000000") == 9
    assert parse_legal_id("9000000000009").kind is LegalIdKind.CORPORATE_NUMBER
    # 千代田区 13101: 1*6 + 3*5 + 1*4 + 0*3 + 1*2 = 27; 27 mod 11 = 5; 11 - 5 = 6.
    assert local_government_check_digit("13101") == 6


@pytest.mark.parametrize("number", sorted(CORPORATE_NUMBERS) + sorted(LOCAL_GOVERNMENT_CODES))
def test_every_other_check_digit_is_rejected(number):
    corporate = len(number) == 13
    position = 0 if corporate else 5
    good = number[position]
    for digit in "0123456789":
        if digit == good:
            continue
        bad = number[:position] + digit + number[position + 1:]
        with pytest.raises(LegalIdError) as info:
            parse_legal_id(bad)
        assert info.value.code == "legal_id.invalid"
        assert f"expected {good}, got {digit}" in info.value.message


@pytest.mark.parametrize(("text", "value"), [
    ("７００００１２０５０００２", "7000012050002"),  # full-width digits
    ("７-００００-１２０５-０００２", "7000012050002"),
    ("7 0000 1205 0002", "7000012050002"),
    ("１３１０１６", "131016"),
    ("13101－6", "131016"),  # full-width hyphen
    ("13101\u30006", "131016"),  # ideographic space
    ("  131016\n", "131016"),
])
def test_full_width_and_grouped_input_is_normalised(text, value):
    assert parse_legal_id(text).value == value


@pytest.mark.parametrize(("text", "fragment"), [
    ("", "empty"),
    ("   ", "empty"),
    ("13101a", "'a'"),
    ("１３１０１６号", "'号'"),
    ("١٣١٠١٦", "only digits"),  # Arabic-Indic digits are digits, but not these
    ("13101ー6", "'ー'"),  # katakana prolonged sound mark is not a hyphen
    ("-131016", "between groups"),
    ("13--1016", "between groups"),
    ("131016-", "between groups"),
    ("1310", "has 4 digits"),
    ("12345678901234", "has 14 digits"),
    ("13101", "131016"),  # a 5-digit code: say what the full code would be
    ("000016", "prefecture 00"),
    ("480001", "prefecture 48"),
    ("1" * 65, "too long"),
])
def test_bad_input_is_rejected_with_the_reason(text, fragment):
    with pytest.raises(LegalIdError) as info:
        parse_legal_id(text)
    assert info.value.code == "legal_id.invalid"
    assert fragment in info.value.message


def test_errors_are_validation_errors():
    with pytest.raises(ValidationError):
        parse_legal_id("123")


def test_non_string_is_rejected():
    with pytest.raises(LegalIdError, match="must be a string"):
        parse_legal_id(131016)


def test_explicit_kind_must_match_length():
    assert parse_legal_id("131016", kind="local_government_code").value == "131016"
    with pytest.raises(LegalIdError, match="has 13 digits, got 6"):
        parse_legal_id("131016", kind=LegalIdKind.CORPORATE_NUMBER)
    with pytest.raises(LegalIdError, match="unknown legal identifier type"):
        parse_legal_id("131016", kind="my_number")


def test_dict_form_round_trips_and_demands_normalised_value():
    legal_id = parse_legal_id("７０００-０１２０-５０００２")
    assert legal_id.to_dict() == {"type": "corporate_number", "value": "7000012050002"}
    assert LegalId.from_dict(legal_id.to_dict()) == legal_id
    with pytest.raises(LegalIdError, match="bare ASCII digits"):
        LegalId.from_dict({"type": "corporate_number", "value": "7000-0120-50002"})
    with pytest.raises(LegalIdError, match="exactly type and value"):
        LegalId.from_dict({"type": "corporate_number", "value": "7000012050002", "x": 1})
    with pytest.raises(LegalIdError, match="has 13 digits"):
        LegalId.from_dict({"type": "corporate_number", "value": "131016"})
