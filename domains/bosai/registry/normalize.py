"""Matching keys for the 4 basic items, and the display forms stored beside them.

A key is what two inputs of the same person have in common however they were written; it is
only compared, never shown. Display forms keep what the person wrote (width-normalised).

* names: variation selectors dropped, NFKC (width, half-width kana), case folded, katakana
  as hiragana, spaces and separators (・ =) removed, 旧字体/異体字 folded (see ``variants``).
* kana: stored as full-width katakana; its key is the name key of the kana.
* dates: 西暦 or 和暦 through ``domains.japanese.dates.parse_date``; the key is ISO 8601.
* addresses: width, dash look-alikes, kanji numerals before 丁目/番地/番/号, "3丁目6番1号",
  "3丁目6番地の1", "3-6-1" all as "3-6-1", 大字/字 removed, a leading postal code removed,
  and the prefecture optional in front of the registry's own municipality ("宮城県仙台市..."
  and "仙台市..." are one key in 仙台市's registry). An address without its municipality
  ("青葉区...") is not completed: it differs, and a person reviews it.

Every key function is idempotent (property-tested): a key is its own key.
"""

from __future__ import annotations

import functools
import re
import unicodedata
from dataclasses import dataclass
from datetime import date

from domains.bosai.registry.errors import RegistryInputError
from domains.bosai.registry.variants import fold_variants
from domains.japanese.dates import JapaneseDateError, parse_date
from domains.japanese.text import (
    JapaneseNumberError,
    normalize_address,
    normalize_hyphens,
    normalize_width,
    parse_int,
)

PREFECTURES = (
    "北海道", "青森県", "岩手県", "宮城県", "秋田県", "山形県", "福島県", "茨城県", "栃木県",
    "群馬県", "埼玉県", "千葉県", "東京都", "神奈川県", "新潟県", "富山県", "石川県", "福井県",
    "山梨県", "長野県", "岐阜県", "静岡県", "愛知県", "三重県", "滋賀県", "京都府", "大阪府",
    "兵庫県", "奈良県", "和歌山県", "鳥取県", "島根県", "岡山県", "広島県", "山口県", "徳島県",
    "香川県", "愛媛県", "高知県", "福岡県", "佐賀県", "長崎県", "熊本県", "大分県", "宮崎県",
    "鹿児島県", "沖縄県",
)
OLDEST_BIRTH_YEARS = 130

_SPACES = re.compile(r"\s+")
_NAME_SEPARATORS = re.compile(r"[\s・·‧=]+")
# Spacing sound marks become combining ones first: NFKC turns "゛" into " \u3099", and the
# space would come between the kana and its mark.
_SOUND_MARKS = str.maketrans({"゛": "\u3099", "゜": "\u309a"})
_KATAKANA_OF_HIRAGANA = {cp: cp + 0x60 for cp in range(0x3041, 0x3097)}
_HIRAGANA_OF_KATAKANA = {cp: cp - 0x60 for cp in range(0x30A1, 0x30F7)}
_KATAKANA = re.compile("[\u30a1-\u30f6]")
_SMALL_KE = str.maketrans({"ゖ": "け", "ゕ": "か"})
_KANJI_NUMERAL = "〇一二三四五六七八九十百千"
_POSTAL = re.compile(r"^(?:〒?[0-9]{3}-?[0-9]{4})+")
_NUMERAL_BEFORE_UNIT = re.compile(
    rf"([{_KANJI_NUMERAL}]+)(?=丁目|番地|号|番(?=[0-9{_KANJI_NUMERAL}\-の]|$))")
_UNITS = (
    (re.compile(r"(?<=[0-9])丁目"), "-"),
    (re.compile(r"(?<=[0-9])番地の?"), "-"),
    (re.compile(r"(?<=[0-9])番(?=[0-9\-の]|$)"), "-"),
    (re.compile(r"(?<=[0-9\-])の(?=[0-9])"), "-"),
    (re.compile(r"(?<=[0-9])号(?![室棟館])"), ""),
)
_AZA = re.compile(r"大字|小字|字")
_DASH_RUN = re.compile(r"-{2,}")


def fold(text: str) -> str:
    """NFKC, case folded, katakana as hiragana: ``domains.japanese.text.fold_kana`` (and so
    ``catalog.search.normalize_text``) without its whitespace handling, with one
    ``str.translate`` instead of a loop per character (tested equal)."""
    return unicodedata.normalize("NFKC", text).casefold().translate(_HIRAGANA_OF_KATAKANA)


def _settled(text: str) -> bool:
    """A step's output that another step cannot change (the common case: no need to run it
    again): NFKC-normal, case-folded, no katakana left."""
    return (unicodedata.is_normalized("NFKC", text) and text.casefold() == text
            and not _KATAKANA.search(text))


def _fixpoint(step, text: str) -> str:  # noqa: ANN001 (a private str -> str step)
    """Apply ``step`` until nothing changes: removing a space can let NFKC compose two
    characters it could not compose before, so one pass is not always a key yet."""
    for _ in range(6):
        nxt = step(text)
        if nxt == text:
            return text
        text = nxt
    return text


@functools.lru_cache(maxsize=1 << 16)
def display_text(text: str) -> str:
    """What is stored for display: width-normalised, whitespace collapsed and trimmed."""
    # NFKC-normal text is its own normalize_width (which is NFKC with exceptions).
    width = text if unicodedata.is_normalized("NFKC", text) else normalize_width(text)
    return _SPACES.sub(" ", width).strip()


@functools.lru_cache(maxsize=1 << 14)
def to_katakana(text: str) -> str:
    """Kana as stored: full-width katakana, single spaces ("ﾔﾏﾀﾞ", "やまだ" -> "ヤマダ")."""
    return display_text(text.translate(_SOUND_MARKS)).translate(_KATAKANA_OF_HIRAGANA)


def _name_step(text: str) -> str:
    folded = fold(fold_variants(text.translate(_SOUND_MARKS)))
    return fold_variants(_NAME_SEPARATORS.sub("", folded))


@functools.lru_cache(maxsize=1 << 16)
def match_name(text: str) -> str:
    """The matching key of a name or of its kana (both fold to the same alphabet)."""
    key = _name_step(text)
    return key if _settled(key) else _fixpoint(_name_step, key)


def name_key(family: str, given: str) -> str:
    return match_name(family + given)


def kana_key(family_kana: str | None, given_kana: str | None) -> str | None:
    if not family_kana or not given_kana:
        return None
    return match_name(family_kana + given_kana) or None


def _address_text(text: str) -> str:
    """Width, kana, case, variants, no spaces: the part of the address key without units."""
    folded = normalize_address(text.translate(_SOUND_MARKS))
    folded = fold(fold_variants(folded)).translate(_SMALL_KE)
    return fold_variants(_SPACES.sub("", folded))


_PREFECTURE = re.compile("|".join(_address_text(p) for p in PREFECTURES))


@dataclass(frozen=True)
class AddressContext:
    """The registry's own place: its prefecture and municipality names (e.g. 宮城県, 仙台市)."""

    prefecture: str | None = None
    municipality: str | None = None

    def __post_init__(self) -> None:
        # Compared against keys, so stored as keys.
        object.__setattr__(self, "prefecture", self.prefecture and _address_text(self.prefecture))
        object.__setattr__(self, "municipality",
                           self.municipality and _address_text(self.municipality))



def _kanji_number(m: re.Match[str]) -> str:
    try:
        return str(parse_int(m.group(1)))
    except JapaneseNumberError:
        return m.group(1)


def _address_step(text: str, where: AddressContext) -> str:
    a = _address_text(text)
    # Each rule can expose work for another ("3号番": removing 号 puts a digit before 番),
    # so they run until nothing changes; usually twice.
    for _ in range(8):
        before = a
        a = _POSTAL.sub("", a)
        # "宮城県仙台市..." -> "仙台市..."
        if where.municipality and (m := _PREFECTURE.match(a)) and (
                where.prefecture in (None, m.group())
                and a[m.end():].startswith(where.municipality)):
            a = a[m.end():]
        a = _AZA.sub("", a)
        a = _NUMERAL_BEFORE_UNIT.sub(_kanji_number, a)
        for pattern, replacement in _UNITS:
            a = pattern.sub(replacement, a)
        a = _DASH_RUN.sub("-", normalize_hyphens(a)).rstrip("-")
        if a == before:
            break
    return a


@functools.lru_cache(maxsize=1 << 16)
def address_key(text: str, where: AddressContext | None = None) -> str:
    place = where or AddressContext()
    key = _address_step(text, place)
    if _settled(key):  # the rules are idempotent on settled text: no second pass needed
        return key
    return _fixpoint(lambda t: _address_step(t, place), key)


def in_place(address: str, place: AddressContext, *, local_prefecture: str | None = None
             ) -> bool:
    """Whether ``address`` lies in the municipality ``place``. An address that names no
    prefecture is read as being in ``local_prefecture`` (people write their address without
    it where they live), so "府中市..." is 東京都府中市 to a registry in 東京都 only."""
    if not place.municipality:
        return False
    key = address_key(address)
    if (m := _PREFECTURE.match(key)) is not None:
        return (place.prefecture in (None, m.group())
                and key[m.end():].startswith(place.municipality))
    local = local_prefecture and _address_text(local_prefecture)
    return key.startswith(place.municipality) and place.prefecture in (None, local)


# --------------------------------------------------------------------------- values

SEX_ALIASES = {
    "male": "male", "m": "male", "男": "male", "男性": "male", "1": "male", "man": "male",
    "female": "female", "f": "female", "女": "female", "女性": "female", "2": "female",
    "woman": "female",
    "not_known": "not_known", "unknown": "not_known", "不明": "not_known", "0": "not_known",
    "9": "not_known", "回答しない": "not_known",
}


def parse_sex(value: object, field: str = "sex") -> str:
    if isinstance(value, str):
        token = SEX_ALIASES.get(display_text(value).casefold())
        if token is not None:
            return token
    raise RegistryInputError(f"{field} must be male, female or not_known (男/女/不明)",
                             field=field)


# Birth dates repeat (a city has ~33,000 of them for all its people): parse each text once.
_parse_date = functools.lru_cache(maxsize=1 << 16)(parse_date)


def parse_birth_date(value: object, *, today: date, field: str = "birthDate") -> date:
    """西暦 or 和暦 text, or a date. The message never repeats the value."""
    if isinstance(value, date) and not hasattr(value, "hour"):
        day = value
    elif isinstance(value, str):
        try:
            day = _parse_date(value)
        except JapaneseDateError:
            # parse_date's own message quotes the text: not for a birth date.
            raise RegistryInputError(
                f"{field} is not a date (write e.g. 2001-04-01, 2001/4/1 or 平成13年4月1日)",
                field=field) from None
    else:
        raise RegistryInputError(f"{field} must be a date", field=field)
    if day > today:
        raise RegistryInputError(f"{field} is in the future", field=field)
    if day.year < today.year - OLDEST_BIRTH_YEARS:
        raise RegistryInputError(f"{field} is more than {OLDEST_BIRTH_YEARS} years ago",
                                 field=field)
    return day
