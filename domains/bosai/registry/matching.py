"""Duplicate detection on the normalised 4 items: exact merges, near matches for review.

An input is the *same person* as a registered one only when all 4 items are known and agree
after normalisation (氏名, 生年月日, 性別, 住所) and their kana do not contradict each other
(kana missing on one side is no contradiction: the card has none). Exactly one such person:
merge. Anything weaker never merges; these near matches go to a person for review, with
reasons ("differs" means known on both sides and different):

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
``unknown_items``           some of the 4 items unknown on one side or both; were they
                            equal, the pair would merge or be a near match above (whose
                            reasons are given with it); the name (or kana) or the address
                            is known and equal, and at least one more item
==========================  ==============================================================

Unknown (``is_known``, one definition per item): blank, or only placeholders (不明, 不詳,
未記入, なし, ー, "-", "?", ○○, "unknown", 0000-00-00 ... in any width, kana or case);
a name, kana or address holding 不明/不詳/未記入/不定/未定/"unknown" or ○ ? * × 〃 anywhere
("山田 不明", "神戸市 住所不明"), or a placeholder part at its start or end ("山田 ー",
"山田 ﾌﾒｲ", "山田某"); a sex other than male/female (性別 不明, 回答しない); a birth date that
is no calendar date. An unknown equals nothing, itself included: 性別 不明 and 住所
不明 on both sides are two gaps, not a match. It is no difference either: the pair goes to
review as ``unknown_items``, not as ``address_differs``.

Candidates come from two blocking keys the store indexes: the birth date, and (name,
address). Every rule above but ``birth_date_differs`` needs the birth date to agree, and that
one needs name and address to agree, so no candidate a rule could fire on is missed;
``unknown_items`` takes an unknown birth date as equal only when name and address are known
and equal, so it too only fires on candidates one of the keys finds.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date

from domains.bosai.registry.normalize import SEX_ALIASES
from domains.japanese.text import DASHES, fold_kana

REASONS = ("kana_differs", "address_differs", "name_differs_same_kana", "kana_one_edit",
           "name_one_edit", "sex_differs", "birth_date_differs", "ambiguous_exact",
           "unknown_items")
ITEMS = ("name", "birth", "sex", "address")

# What people write when they do not know or will not say, folded as ``fold_kana`` folds
# (width, case, katakana as hiragana). A value made only of these (and marks) is unknown.
PLACEHOLDERS = (
    "不明", "不詳", "未記入", "未記載", "無記入", "記入なし", "未回答", "回答なし", "未確認",
    "未定", "不定", "空欄", "空白", "該当なし", "なし", "無し", "無", "同上", "住所", "氏名",
    "名前", "名無し", "ななし", "匿名", "某", "ふめい", "ふしょう", "みきにゅう", "unknown",
    "n/a", "na", "none", "null", "nil")
_MARKS = DASHES + "・?*×✕x○◯●〇〃.…/_()[]<>「」【】'\"0"
# A name, kana or address holding one of these anywhere is not known as a whole.
_UNKNOWN_ANYWHERE = ("不明", "不詳", "未記入", "未記載", "不定", "未定", "unknown")
_UNKNOWN_MARKS = "○◯●×✕?*〃"

# A name or address key is family + given (or the address) run together, so a part left as
# a placeholder shows at an edge: "山田ー", "山田ふめい", "ー太郎", "山田某". A long-vowel mark
# ends real kana (まりー, せんたー) but never follows a kanji.
_UNKNOWN_EDGE_WORDS = ("ふめい", "ふしょう", "みきにゅう", "某")
_EDGE_DASHES = DASHES.replace("ー", "")

_WHITESPACE = re.compile(r"\s+")
_ONLY_PLACEHOLDERS = re.compile(
    "(?:" + "|".join(re.escape(p) for p in sorted(PLACEHOLDERS, key=len, reverse=True))
    + f"|[{re.escape(_MARKS)}])*")
_PLACEHOLDER_INSIDE = re.compile(
    "|".join(re.escape(p) for p in _UNKNOWN_ANYWHERE) + f"|[{re.escape(_UNKNOWN_MARKS)}]")
_PLACEHOLDER_EDGE = re.compile(
    f"^(?:[{re.escape(DASHES)}]|{'|'.join(_UNKNOWN_EDGE_WORDS)})"
    f"|(?:[{re.escape(_EDGE_DASHES)}]|{'|'.join(_UNKNOWN_EDGE_WORDS)})$"
    "|(?:^|[^ぁ-ゖー])ー+$")
_ISO_DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")
_KNOWN_SEXES = ("male", "female")


@dataclass(frozen=True)
class Keys:
    """The normalised 4 items (plus kana) of an input or of a registered person."""

    name: str
    kana: str | None
    birth: str
    sex: str
    address: str


# Known-ness per item and value, remembered: it is asked for every candidate of every input.
# Plain dicts of str -> bool, not an lru_cache: the cache's linked-list nodes are objects the
# garbage collector walks on every full collection, and with a registry's worth of names and
# addresses cached they made deduplicating 50,000 people 10 % slower.
_KNOWN: dict[str, dict[str, bool]] = {item: {} for item in (*ITEMS, "kana")}
_KNOWN_MAX = 1 << 17  # per item; a full cache starts again empty


def is_known(item: str, value: str | None) -> bool:
    """Whether ``value`` of ``item`` (``name``, ``kana``, ``birth``, ``sex``, ``address``)
    says something: not blank, not a placeholder. Works on match keys and on values as
    written (widths, kana and case are folded first)."""
    try:
        cache = _KNOWN[item]
    except KeyError:
        raise ValueError(f"no such item: {item!r}") from None
    if value is None:
        return False
    known = cache.get(value)
    if known is None:
        if len(cache) >= _KNOWN_MAX:
            cache.clear()
        known = cache[value] = _judge_known(item, value)
    return known


def _judge_known(item: str, value: str) -> bool:
    folded = _WHITESPACE.sub("", fold_kana(value))
    if _ONLY_PLACEHOLDERS.fullmatch(folded):  # blank too
        return False
    if item == "sex":
        return SEX_ALIASES.get(folded) in _KNOWN_SEXES
    if item == "birth":
        if not _ISO_DATE.fullmatch(folded):
            return False
        try:
            date.fromisoformat(folded)
        except ValueError:  # 1950-02-30
            return False
        return True
    return (_PLACEHOLDER_INSIDE.search(folded) is None
            and _PLACEHOLDER_EDGE.search(folded) is None)


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


def _kana(keys: Keys) -> str | None:
    """Kana as compared: a placeholder kana (フメイ) is no kana."""
    return keys.kana if is_known("kana", keys.kana) else None


@dataclass(slots=True)  # not frozen: made once per candidate, and frozen init is slow
class _Pair:
    """What two people's keys say about each other, item by item."""

    same: dict[str, bool]  # known on both sides and equal
    differs: dict[str, bool]  # known on both sides and different
    unknown: tuple[str, ...]  # unknown on one side or both
    new_kana: str | None
    old_kana: str | None
    names_one_edit: bool

    @classmethod
    def of(cls, new: Keys, old: Keys) -> _Pair:
        same, differs, unknown = {}, {}, []
        for item in ITEMS:
            a, b = getattr(new, item), getattr(old, item)
            # Equal values are known or not together: one lookup (this runs per candidate).
            if is_known(item, a) and (a == b or is_known(item, b)):
                same[item] = a == b
                differs[item] = not same[item]
            else:
                same[item] = differs[item] = False
                unknown.append(item)
        return cls(same, differs, tuple(unknown), _kana(new), _kana(old),
                   "name" not in unknown and within_one_edit(new.name, old.name))

    @property
    def both_kana(self) -> bool:
        return self.new_kana is not None and self.old_kana is not None

    @property
    def same_kana(self) -> bool:
        return self.both_kana and self.new_kana == self.old_kana

    @property
    def kana_agrees(self) -> bool:
        return not self.both_kana or self.new_kana == self.old_kana

    @property
    def is_exact(self) -> bool:
        return all(self.same.values()) and self.kana_agrees

    def near_reasons(self) -> tuple[str, ...]:
        return _near_reasons(self)

    def rules(self, eq: dict[str, bool]) -> list[str]:
        """The near-match rules, with ``eq`` saying which items count as equal."""
        named = eq["name"] or self.same_kana
        both_kana, kana_differs = self.both_kana, self.both_kana and not self.same_kana
        birth, sex, address = eq["birth"], eq["sex"], eq["address"]
        differs = self.differs
        reasons = []
        if eq["name"] and birth and sex and address and kana_differs:
            reasons.append("kana_differs")
        if named and birth and sex and differs["address"]:
            reasons.append("address_differs")
        if self.same_kana and differs["name"] and birth and sex:
            reasons.append("name_differs_same_kana")
        if both_kana and birth and sex and within_one_edit(self.new_kana or "",
                                                           self.old_kana or ""):
            reasons.append("kana_one_edit")
        if birth and sex and address and self.names_one_edit:
            reasons.append("name_one_edit")
        if named and birth and address and differs["sex"]:
            reasons.append("sex_differs")
        # Blocking finds this one by (name, address) only: those two must really be equal.
        if self.same["name"] and sex and self.same["address"] and differs["birth"]:
            reasons.append("birth_date_differs")
        return reasons

    def could_be_same(self) -> dict[str, bool] | None:
        """Items equal or unknown, when the pair has enough known and equal to be worth a
        person's look (the name or kana, or the address, and one more item); else None."""
        named = self.same["name"] or self.same_kana
        evidence = [named, self.same["birth"], self.same["sex"], self.same["address"]]
        if not (named or self.same["address"]) or sum(evidence) < 2:
            return None
        eq = {item: self.same[item] or item in self.unknown for item in ITEMS}
        if "birth" in self.unknown and not (self.same["name"] and self.same["address"]):
            eq["birth"] = False  # neither blocking key would offer this candidate
        return eq


def is_exact(new: Keys, old: Keys) -> bool:
    """All 4 items known and equal, and the kana not contradicting: the same person."""
    return _Pair.of(new, old).is_exact


def near_reasons(new: Keys, old: Keys) -> tuple[str, ...]:
    """Why ``old`` might be the same person as ``new`` (empty: unrelated). Not for exact
    matches."""
    return _Pair.of(new, old).near_reasons()


def _near_reasons(pair: _Pair) -> tuple[str, ...]:
    reasons = pair.rules(pair.same)
    if pair.unknown and (eq := pair.could_be_same()) is not None:
        would = pair.rules(eq)  # a superset of ``reasons``: every rule only needs equality
        if would or (all(eq.values()) and pair.kana_agrees):
            reasons = [*would, "unknown_items"]
    return tuple(reasons)


@dataclass(frozen=True)
class MatchResult:
    """``exact``: the one person to merge into (or None); ``near``: (person id, reasons)."""

    exact: str | None
    near: tuple[tuple[str, tuple[str, ...]], ...]


def match(new: Keys, candidates: dict[str, Keys]) -> MatchResult:
    # This runs for every input against every candidate the blocking keys found, so the
    # common cases avoid building a comparison: an exact match is told by plain string
    # equality (the new side's known-ness asked once), and a candidate equal in fewer than
    # two items can fire no rule at all.
    if not candidates:
        return _NOTHING
    new_known: bool | None = None
    exact: list[str] = []
    for pid, old in candidates.items():
        if (new.name == old.name and new.birth == old.birth and new.sex == old.sex
                and new.address == old.address):
            if new_known is None:
                new_known = all(is_known(item, getattr(new, item)) for item in ITEMS)
            if new_known and _kana_agrees(new.kana, old.kana):
                exact.append(pid)
    if len(exact) == 1:
        return MatchResult(exact[0], ())
    near = [(pid, ("ambiguous_exact",)) for pid in exact]
    near += [(pid, reasons) for pid, old in candidates.items()
             if pid not in exact and _may_be_near(new, old)
             and (reasons := _Pair.of(new, old).near_reasons())]
    return MatchResult(None, tuple(near))


_NOTHING = MatchResult(None, ())


def _kana_agrees(a: str | None, b: str | None) -> bool:
    return a == b or not (is_known("kana", a) and is_known("kana", b))


def _may_be_near(new: Keys, old: Keys) -> bool:
    """False only for pairs no near-match rule can fire on (a necessary condition, so that
    most candidates need no comparison): every rule needs two items written the same on
    both sides (known and equal is stricter), and all but ``kana_one_edit`` need the name,
    the kana or the address among them."""
    same_name, same_address = new.name == old.name, new.address == old.address
    same_kana = new.kana is not None and new.kana == old.kana
    same_birth, same_sex = new.birth == old.birth, new.sex == old.sex
    if same_name + same_address + same_kana + same_birth + same_sex < 2:
        return False
    if same_name or same_address or same_kana:
        return True
    return (same_birth and same_sex and new.kana is not None and old.kana is not None
            and within_one_edit(new.kana, old.kana))
