"""domains.japanese.text: widths, kana, numbers in prose, address dashes."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from domains.japanese import (
    JapaneseNumberError,
    fold_kana,
    normalize_address,
    normalize_width,
    numbers_in,
    parse_int,
)
from tests.fuzz.strategies import FUZZ


def test_width_keeps_meaningful_characters():
    assert normalize_width("ﾋﾅﾝｼﾞｮ　ＡＢＣ１２３") == "ヒナンジョ ABC123"
    assert normalize_width("100㎡") == "100m²"
    assert normalize_width("①2") == "①2"  # NFKC would say "12"
    assert normalize_width("\ufa19") == "\ufa19"  # a compatibility ideograph stays itself


def test_fold_kana_reuses_catalog_key():
    assert fold_kana("ヒナンジョ") == fold_kana("ひなんじょ") == fold_kana("ﾋﾅﾝｼﾞｮ")
    assert fold_kana("山田　 太郎") == "山田 太郎"


@pytest.mark.parametrize(("text", "expected"), [
    ("東京都千代田区１ー２－３", "東京都千代田区1-2-3"),
    ("1‐2−3", "1-2-3"), ("1─2", "1-2"), ("１ｰ２", "1-2"),
    ("  市民センター　２丁目 ", "市民センター 2丁目"),  # a long vowel in a word stays
])
def test_address(text, expected):
    assert normalize_address(text) == expected


@pytest.mark.parametrize(("text", "expected"), [
    ("1,700", 1700), ("１，７００", 1700), ("1万2千", 12000), ("1万2,000", 12000),
    ("二千五百", 2500), ("十", 10), ("二〇二四", 2024), ("3億2万", 300020000), ("０", 0),
])
def test_parse_int(text, expected):
    assert parse_int(text) == expected


@pytest.mark.parametrize("text", ["", "1,70", "1,7000", "abc", "万", "百千", "2千1500", "-1",
                                  "1.5"])
def test_parse_int_refuses(text):
    with pytest.raises(JapaneseNumberError) as info:
        parse_int(text)
    assert info.value.code == "ja.number_invalid"


def test_numbers_in_prose():
    assert numbers_in("屋内1,700人／屋外2,250人") == [1700, 2250]
    assert numbers_in("１万２千人") == [12000]
    assert numbers_in("面積120.5㎡ 収容100人.") == [100]
    assert numbers_in("千代田区第一小学校 3千人") == [3000]  # kanji in names are not numbers


@FUZZ
@given(st.text(max_size=40))
def test_parse_int_only_typed_errors(text):
    try:
        assert parse_int(text) >= 0
    except JapaneseNumberError:
        pass
    assert all(n >= 0 for n in numbers_in(text))
