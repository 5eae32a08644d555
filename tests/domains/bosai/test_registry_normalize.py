"""Evacuee registry: normalisation of the 4 items, variant tables, My Number detection."""

from __future__ import annotations

import unicodedata
from datetime import date

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from domains.bosai.registry.errors import MyNumberRefused, RegistryInputError, refuse_my_number
from domains.bosai.registry.normalize import (
    AddressContext,
    address_key,
    display_text,
    fold,
    kana_key,
    match_name,
    name_key,
    parse_birth_date,
    parse_sex,
    to_katakana,
)
from domains.bosai.registry.variants import VARIANTS, fold_variants
from domains.japanese.mynumber import check_digit, contains_my_number, is_my_number
from domains.japanese.text import fold_kana

PROPERTY = settings(max_examples=2000, deadline=None, database=None,
                    suppress_health_check=[HealthCheck.too_slow])
SENDAI = AddressContext("宮城県", "仙台市")
TODAY = date(2025, 1, 17)


# --------------------------------------------------------------------------- names

@pytest.mark.parametrize("old, new", [
    ("髙", "高"), ("﨑", "崎"), ("嵜", "崎"), ("齋", "斎"), ("齊", "斉"), ("邊", "辺"),
    ("邉", "辺"), ("澤", "沢"), ("濱", "浜"), ("廣", "広"), ("國", "国"), ("櫻", "桜"),
    ("龍", "竜"), ("眞", "真"), ("德", "徳"), ("惠", "恵"), ("壽", "寿"), ("藏", "蔵"),
    ("實", "実"), ("會", "会"), ("靜", "静"), ("瀨", "瀬"), ("嶋", "島"), ("𠮷", "吉"),
])
def test_old_and_variant_forms_fold_to_the_new_form(old, new):
    assert fold_variants(old) == new
    assert match_name(f"{old}田") == match_name(f"{new}田")


@pytest.mark.parametrize("a, b", [("斉藤", "斎藤"), ("崎山", "埼山"), ("恵美", "慧美"),
                                  ("祐介", "佑介"), ("杉田", "椙田")])
def test_different_characters_sharing_a_reading_are_not_folded(a, b):
    assert match_name(a) != match_name(b)


def test_the_variant_table_is_one_step_and_stable_under_nfkc():
    for old, new in VARIANTS.items():
        assert old != new and new not in VARIANTS, old
        assert unicodedata.normalize("NFKC", new) == new, new
        assert unicodedata.normalize("NFKC", old) == old, old  # else NFKC would hide it


def test_ideographic_variation_selectors_are_ignored():
    assert match_name("葛\U000E0100西") == match_name("葛西")
    assert match_name("辻\U000E0101") == match_name("辻")


@pytest.mark.parametrize("written", [
    "山田 花子", "山田　花子", "ﾔﾏﾀﾞﾊﾅｺ", "ヤマダ ハナコ", "やまだはなこ", "ﾔﾏﾀ\uff9eﾊﾅｺ",
])
def test_name_keys_ignore_width_kana_script_and_spaces(written):
    expected = match_name("やまだはなこ") if "山" not in written else match_name("山田花子")
    assert match_name(written) == expected


def test_name_key_joins_family_and_given_names():
    assert name_key("髙橋", "一郎") == name_key("高橋一", "郎") == match_name("高橋 一郎")
    assert kana_key("タカハシ", "イチロウ") == kana_key("たかはし", "ｲﾁﾛｳ") == "たかはしいちろう"
    assert kana_key("タカハシ", None) is None


def test_kana_is_stored_as_full_width_katakana():
    assert to_katakana("やまだ ﾊﾅｺ") == "ヤマダ ハナコ"
    assert to_katakana("ｳﾞｧｲｵﾘﾝ") == "ヴァイオリン"


def test_our_fold_is_the_shared_fold_kana_without_its_spaces():
    for sample in ["ヒナンジョ", "ﾋﾅﾝｼﾞｮ", "ABCｄｅｆ", "髙橋　一郎", "ｶ゛", "Straße"]:
        assert fold(sample).split() == fold_kana(sample).split()


@PROPERTY
@given(st.text(max_size=24))
def test_our_fold_matches_fold_kana_on_any_text(text):
    assert " ".join(fold(text).split()) == fold_kana(text)


# --------------------------------------------------------------------------- dates and sex

@pytest.mark.parametrize("written", [
    "1948-04-01", "1948/4/1", "1948年4月1日", "19480401", "昭和23年4月1日", "S23.4.1", "s23/4/1",
    "昭23.4.1", "１９４８年４月１日", "昭和２３年４月１日",
])
def test_wareki_and_seireki_birth_dates_are_the_same_day(written):
    assert parse_birth_date(written, today=TODAY) == date(1948, 4, 1)


@pytest.mark.parametrize("written", ["平成31年5月1日", "1955-02-30", "明日", "55/5/3", "",
                                     "2030-01-01", "1800-01-01"])
def test_bad_birth_dates_are_refused_without_repeating_them(written):
    with pytest.raises(RegistryInputError) as caught:
        parse_birth_date(written, today=TODAY)
    assert caught.value.field == "birthDate"
    assert written not in str(caught.value) or not written
    # parse_date's own message quotes the text: it must not ride along as the cause
    assert caught.value.__cause__ is None
    assert caught.value.__context__ is None or caught.value.__suppress_context__


def test_gengo_boundaries_come_from_the_shared_parser():
    assert parse_birth_date("平成元年1月8日", today=TODAY) == date(1989, 1, 8)
    assert parse_birth_date("令和元年5月1日", today=TODAY) == date(2019, 5, 1)


@pytest.mark.parametrize("written, token", [("男", "male"), ("女性", "female"), ("F", "female"),
                                            ("1", "male"), ("不明", "not_known")])
def test_sex_aliases(written, token):
    assert parse_sex(written) == token


# --------------------------------------------------------------------------- addresses

@pytest.mark.parametrize("written", [
    "宮城県仙台市青葉区国分町三丁目12番5号",
    "仙台市青葉区国分町3-12-5",
    "宮城県仙台市青葉区国分町３ー１２ー５",
    "宮城県仙台市青葉区国分町3－12－5",
    "宮城県仙台市青葉区国分町3‐12−5",
    "〒980-0803 宮城県仙台市青葉区国分町3丁目12番地5",
    "宮城県 仙台市 青葉区 国分町 3丁目 12番地の5",
    "宮城県仙台市青葉区大字国分町3-12-5",
    "宮城県仙台市青葉区字国分町3ノ12ノ5",
])
def test_address_variants_share_one_key(written):
    assert address_key(written, SENDAI) == "仙台市青葉区国分町3-12-5"


def test_prefecture_is_optional_only_in_front_of_the_own_municipality():
    assert address_key("宮城県仙台市泉区1-2", SENDAI) == address_key("仙台市泉区1-2", SENDAI)
    # another municipality keeps its prefecture, and no registry place means no guess
    assert address_key("宮城県大和町吉岡1-2", SENDAI) == "宮城県大和町吉岡1-2"
    assert address_key("宮城県仙台市泉区1-2") != address_key("仙台市泉区1-2")
    # a same-named city of another prefecture is not ours when the prefecture is known
    assert address_key("広島県府中市1-2", AddressContext("東京都", "府中市")) != \
        address_key("府中市1-2", AddressContext("東京都", "府中市"))


def test_place_names_with_numerals_are_left_alone():
    assert address_key("仙台市青葉区一番町一丁目6番地の1", SENDAI) == "仙台市青葉区一番町1-6-1"
    assert address_key("仙台市若林区六丁の目西町2-1", SENDAI) == "仙台市若林区六丁の目西町2-1"
    assert address_key("センター1ー2") == "せんたー1-2"  # a long vowel is a letter


def test_building_and_room_stay_part_of_the_address():
    a = address_key("仙台市青葉区一番町1-6-1 サンハイツ101号室", SENDAI)
    assert a == address_key("仙台市青葉区一番町1丁目6番1号ｻﾝﾊｲﾂ101号室", SENDAI)
    assert a != address_key("仙台市青葉区一番町1-6-1 サンハイツ102号室", SENDAI)


# --------------------------------------------------------------------------- idempotence

@PROPERTY
@given(st.text(max_size=30))
def test_name_keys_are_idempotent(text):
    key = match_name(text)
    assert match_name(key) == key


_ADDRESSISH = st.lists(st.sampled_from(
    list("0123456789０１２３４５６７８９一二三四五六七八九十")
    + list("丁目番地号のノ字大小-ー－‐− 　〒県市区町")
    + ["宮城県", "仙台市", "青葉区", "ヶ", "ｹ", "髙", "ｶ", "゛", "\u3099", "A", "ß"]),
    max_size=16).map("".join)


@PROPERTY
@given(st.one_of(_ADDRESSISH, st.text(max_size=30)), st.booleans())
def test_address_keys_are_idempotent(text, placed):
    where = SENDAI if placed else None
    key = address_key(text, where)
    assert address_key(key, where) == key


@PROPERTY
@given(st.text(max_size=30))
def test_display_text_is_idempotent(text):
    assert display_text(display_text(text)) == display_text(text)


# --------------------------------------------------------------------------- My Number

def test_my_number_check_digit():
    assert check_digit("12345678901") == 8
    assert is_my_number("123456789018") and not is_my_number("123456789012")


@pytest.mark.parametrize("text", [
    "123456789018", "1234 5678 9018", "1234-5678-9018", "１２３４５６７８９０１８",
    "番号:123456789018。", "1234‐5678‐9018", "𝟏𝟐𝟑𝟒𝟓𝟔𝟕𝟖𝟗𝟎𝟏𝟖",
])
def test_my_numbers_are_found_in_any_width_and_grouping(text):
    assert contains_my_number(text)


@pytest.mark.parametrize("text", [
    "123456789012",  # wrong check digit
    "+123456789018",  # an international telephone number
    "1234567890180", "090-1234-5678", "仙台市青葉区国分町3-12-5", "2025-01-17T05:46:00Z",
])
def test_other_numbers_are_not_my_numbers(text):
    assert not contains_my_number(text)


@pytest.mark.parametrize("value, field", [
    ({"familyName": "山田", "contact": {"telephone": "1234 5678 9018"}}, "contact.telephone"),
    ({"careNeeds": {"careNotes": "番号 123456789018"}}, "careNeeds.careNotes"),
    ({"myNumber": "x"}, "myNumber"), ({"マイナンバー": ""}, "マイナンバー"),
    ({"個人 番号": None}, "個人 番号"), ({"list": ["a", 123456789018]}, "list[1]"),
])
def test_refusal_names_the_field_and_never_the_number(value, field):
    with pytest.raises(MyNumberRefused) as caught:
        refuse_my_number(value)
    assert caught.value.field == field and caught.value.code == "personal_number.refused"
    assert "9018" not in str(caught.value) and "9018" not in repr(caught.value.to_dict())


@PROPERTY
@given(st.from_regex(r"[0-9]{11}", fullmatch=True), st.sampled_from(["", " ", "-"]),
       st.sampled_from(["氏名", "備考: ", "tel "]))
def test_every_valid_my_number_is_refused_in_any_field(first11, sep, prefix):
    number = first11 + str(check_digit(first11))
    written = prefix + sep.join((number[:4], number[4:8], number[8:]))
    with pytest.raises(MyNumberRefused):
        refuse_my_number({"address": written})
