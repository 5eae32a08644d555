"""Duplicate detection on the normalised 4 items: exact merges, near matches for review.

An input is the *same person* as a registered one only when all 4 items agree after
normalisation (氏名, 生年月日, 性別, 住所) and their kana do not contradict each other (kana
missing on one side is no contradiction: the card has none). Exactly one such person: merge.
Anything weaker never merges; these near matches go to a person for review, with reasons:

==========================  ==============================================================
``kana_differs``            4 items equal, but both have kana and it differs
``address_differs``         name (or kana), birth date and sex equal; address differs
``name_differs_same_kana``  kana, birth date and sex equal; the written name differs
                            (斉藤/斎藤, kanji vs kana writing)
``kana_one_edit``           kana one edit apart (ユウマ/ユーマ), birth date and sex equal
``name_one_edit``           name one edit apart, birth date, sex and address equal
``sex_differs``             name (or kana), birth date and address equal; sex differs
``birth_date_differs``      name, sex and address equal; birth date differs
``ambiguous_exact``         several registered people match exactly (kept apart earlier)
``unknown_items``           the items known on both sides agree, but 性別 or 住所 is unknown
                            on at least one side (不明, 未記入, ー, "-", blank ...)
==========================  ==============================================================

An unknown item (``is_known``) is never equal to anything, itself included: 性別 不明 and 住所
不明 on both sides are two gaps, not a match. A merge needs all 4 items known and equal; a pair
that would merge but for an unknown item goes to review (``unknown_items``).

Candidates come from two blocking keys the store indexes: the birth date, and (name,
address). Every rule above but ``birth_date_differs`` needs the birth date to agree, and that
one needs name and address to agree, so no candidate a rule could fire on is missed.
"""

from __future__ import annotations

from dataclasses import dataclass

from domains.bosai.registry.normalize import address_key, match_name

REASONS = ("kana_differs", "address_differs", "name_differs_same_kana", "kana_one_edit",
           "name_one_edit", "sex_differs", "birth_date_differs", "ambiguous_exact",
           "unknown_items")
# What people write when they do not know or will not say: never a value to match on.
PLACEHOLDERS = ("不明", "不詳", "未記入", "未記載", "記入なし", "なし", "無し", "未確認",
                "ー", "-", "－", "―", "—", "‐", "・", "?", "？", "*", "＊", "x", "ｘ",
                "unknown", "n/a", "na", "none", "null", "0000-00-00", "00000000")
_UNKNOWN_NAMES = frozenset({"", *(match_name(p) for p in PLACEHOLDERS)})
_UNKNOWN_ADDRESSES = frozenset({"", *(address_key(p) for p in PLACEHOLDERS)})
UNKNOWN_SEX = "not_known"


@dataclass(frozen=True)
class Keys:
    """The normalised 4 items (plus kana) of an input or of a registered person."""

    name: str
    kana: str | None
    birth: str
    sex: str
    address: str


def within_one_edit(a: str, b: str) -> bool:
    """True when ``a`` and ``b`` differ by exactly one insertion, deletion or substitution."""
    if a == b or abs(len(a) - len(b)) > 1:
        return False
    if len(a) > len(b):
        a, b = b, a
    i = 0
    while i < len(a) and a[i] == b[i]:
        i += 1
    if len(a) == len(b):
        return a[i + 1:] == b[i + 1:]
    return a[i:] == b[i + 1:]


def is_known(item: str, value: str | None) -> bool:
    """Whether a normalised item holds a value (not blank, not a placeholder)."""
    if value is None:
        return False
    if item == "name":
        return value not in _UNKNOWN_NAMES
    if item == "sex":
        return value != UNKNOWN_SEX
    if item == "address":
        return value not in _UNKNOWN_ADDRESSES
    return bool(value) and not set(value) <= set("0-/")  # birth: 0000-00-00 and the like


def _same(item: str, a: str | None, b: str | None) -> bool:
    """Equal and known on both sides: an unknown is equal to nothing."""
    return a == b and is_known(item, a)


def is_exact(new: Keys, old: Keys) -> bool:
    return (_same("name", new.name, old.name) and _same("birth", new.birth, old.birth)
            and _same("sex", new.sex, old.sex) and _same("address", new.address, old.address)
            and (new.kana is None or old.kana is None or new.kana == old.kana))


def near_reasons(new: Keys, old: Keys) -> tuple[str, ...]:
    """Why ``old`` might be the same person as ``new`` (empty: unrelated). Not for exact
    matches."""
    same_name = _same("name", new.name, old.name)
    both_kana = new.kana is not None and old.kana is not None
    same_kana = both_kana and new.kana == old.kana
    same_birth, same_sex = (_same("birth", new.birth, old.birth),
                            _same("sex", new.sex, old.sex))
    same_address = _same("address", new.address, old.address)
    named = same_name or same_kana
    reasons = []
    unknown = [item for item, a, b in (("sex", new.sex, old.sex),
                                        ("address", new.address, old.address))
               if not (is_known(item, a) and is_known(item, b))]
    if named and same_birth and unknown and all(
            _same(item, a, b) for item, a, b in (("sex", new.sex, old.sex),
                                                  ("address", new.address, old.address))
            if item not in unknown) and (not both_kana or same_kana):
        reasons.append("unknown_items")
    if same_name and same_birth and same_sex and same_address and both_kana and not same_kana:
        reasons.append("kana_differs")
    if named and same_birth and same_sex and not same_address:
        reasons.append("address_differs")
    if same_kana and not same_name and same_birth and same_sex:
        reasons.append("name_differs_same_kana")
    if both_kana and same_birth and same_sex and within_one_edit(new.kana or "", old.kana or ""):
        reasons.append("kana_one_edit")
    if same_birth and same_sex and same_address and within_one_edit(new.name, old.name):
        reasons.append("name_one_edit")
    if named and same_birth and same_address and not same_sex:
        reasons.append("sex_differs")
    if same_name and same_sex and same_address and not same_birth:
        reasons.append("birth_date_differs")
    return tuple(reasons)


@dataclass(frozen=True)
class MatchResult:
    """``exact``: the one person to merge into (or None); ``near``: (person id, reasons)."""

    exact: str | None
    near: tuple[tuple[str, tuple[str, ...]], ...]


def match(new: Keys, candidates: dict[str, Keys]) -> MatchResult:
    exact = [pid for pid, keys in candidates.items() if is_exact(new, keys)]
    if len(exact) == 1:
        return MatchResult(exact[0], ())
    near = [(pid, ("ambiguous_exact",)) for pid in exact]
    near += [(pid, reasons) for pid, keys in candidates.items()
             if pid not in exact and (reasons := near_reasons(new, keys))]
    return MatchResult(None, tuple(near))
