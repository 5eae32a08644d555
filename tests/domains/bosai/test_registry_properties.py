"""Evacuee registry properties: the same person registered twice, written any way, is one
person; and the 50,000-person dedupe run the bench measures."""

from __future__ import annotations

import time
import unicodedata
from datetime import date

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from domains.bosai.registry import AddressContext, Registry
from domains.bosai.registry.matching import Keys, MatchResult, is_exact, match, near_reasons
from domains.bosai.registry.variants import VARIANTS
from domains.bosai.registry.workload import PLACE, measure_dedupe, workload
from domains.japanese.dates import to_wareki

PROPERTY = settings(max_examples=2000, deadline=None, database=None,
                    suppress_health_check=[HealthCheck.too_slow])
KOBE = AddressContext("兵庫県", "神戸市")

_NEW_FORMS = sorted(set(VARIANTS.values()))
_OLD_OF = {}
for _old, _new in VARIANTS.items():
    _OLD_OF.setdefault(_new, []).append(_old)
NAME_CHARS = _NEW_FORMS + list("山田花子佐藤鈴木一郎美和太")
KATAKANA = [chr(c) for c in range(ord("ァ"), ord("ヶ") + 1)] + ["ー"]
_HALF = {unicodedata.normalize("NFKC", chr(cp) + m): chr(cp) + m
         for cp in range(0xFF66, 0xFF9E) for m in ("", "ﾞ", "ﾟ")
         if len(unicodedata.normalize("NFKC", chr(cp) + m)) == 1}
TOWNS = ["東灘区本山北町", "中央区加納町", "灘区六甲台町", "北区山田町下谷上"]


@st.composite
def people(draw):
    name = st.text(alphabet=st.sampled_from(NAME_CHARS), min_size=1, max_size=3)
    kana = st.text(alphabet=st.sampled_from(KATAKANA), min_size=1, max_size=6)
    return {
        "familyName": draw(name), "givenName": draw(name),
        "familyNameKana": draw(kana), "givenNameKana": draw(kana),
        "birthDate": draw(st.dates(date(1900, 1, 1), date(2024, 12, 31))),
        "sex": draw(st.sampled_from(["male", "female", "not_known"])),
        "town": draw(st.sampled_from(TOWNS)),
        "numbers": draw(st.tuples(*[st.integers(1, 40)] * 3)),
        "consent": draw(st.booleans()),
    }


def _width(text: str, full: bool) -> str:
    if not full:
        return text
    return "".join(chr(ord(c) + 0xFEE0) if c.isascii() and c.isalnum() or c == "-" else c
                   for c in text)


def form(p: dict, draw=None) -> dict:
    """The person written plainly (draw=None) or in a random variant (draw = hypothesis)."""
    c, b, g = p["numbers"]
    if draw is None:
        return {"familyName": p["familyName"], "givenName": p["givenName"],
                "familyNameKana": p["familyNameKana"], "givenNameKana": p["givenNameKana"],
                "birthDate": p["birthDate"].isoformat(), "sex": p["sex"],
                "address": f"兵庫県神戸市{p['town']}{c}丁目{b}番{g}号",
                "consentToDisclose": p["consent"]}
    old = draw(st.booleans())
    family = "".join(draw(st.sampled_from(_OLD_OF[ch])) if old and ch in _OLD_OF else ch
                     for ch in p["familyName"])
    given = "".join(draw(st.sampled_from([ch, *_OLD_OF.get(ch, [])])) for ch in p["givenName"])
    space = draw(st.sampled_from(["", " ", "　"]))
    kana_style = draw(st.sampled_from(["katakana", "hiragana", "half"]))

    def kana(text: str) -> str:
        if kana_style == "hiragana":
            return "".join(chr(ord(ch) - 0x60) if "ァ" <= ch <= "ヶ" else ch for ch in text)
        if kana_style == "half":
            return "".join(_HALF.get(ch, ch) for ch in text)
        return text

    born = p["birthDate"]
    full = draw(st.booleans())
    dates = [born.isoformat(), f"{born.year}/{born.month}/{born.day}",
             f"{born.year}年{born.month}月{born.day}日", _width(born.strftime("%Y%m%d"), True)]
    if born >= date(1873, 1, 1):
        dates.append(to_wareki(born))
    address = draw(st.sampled_from([
        f"神戸市{p['town']}{c}-{b}-{g}", f"兵庫県神戸市{p['town']}{c}丁目{b}番地{g}",
        f"兵庫県 神戸市 {p['town']} {c}ー{b}ー{g}",
        f"〒650-0001 兵庫県神戸市{p['town']}{c}-{b}-{g}"]))
    out = {"familyName": space + family + space, "givenName": given,
           "birthDate": _width(draw(st.sampled_from(dates)), full),
           "sex": draw(st.sampled_from({"male": ["male", "男", "男性", "M"],
                                        "female": ["female", "女", "女性", "F"],
                                        "not_known": ["not_known", "不明"]}[p["sex"]])),
           "address": _width(address, full), "consentToDisclose": p["consent"]}
    if draw(st.integers(0, 4)):  # else no kana, as from a card
        out["familyNameKana"] = kana(p["familyNameKana"])
        out["givenNameKana"] = kana(p["givenNameKana"]) + space
    return out


@PROPERTY
@given(people(), st.data())
def test_the_same_person_written_any_way_merges(person, data):
    """All 4 items known: written any way, the same person merges. (With 性別 不明 on both
    sides it may be two people: see the next property.)"""
    assume(person["sex"] != "not_known")
    registry = Registry.open(":memory:", place=KOBE)
    try:
        first = registry.register(form(person), source="a")
        again = registry.register(form(person, data.draw), source="b")
        assert first.outcome == "new"
        assert again.outcome == "merged", again
        assert again.person_id == first.person_id and registry.count() == 1
    finally:
        registry.close()


UNKNOWN_ADDRESSES = ["不明", "未記入", "ー", "-", "－", "ｰ", "不詳", "住所不明",
                     "兵庫県神戸市 不明", "ＵＮＫＮＯＷＮ", "ﾌﾒｲ", "?"]
UNKNOWN_GIVEN_NAMES = ["不明", "ー", "-", "未記入", "○○", "ﾌﾒｲ", "不詳", "某"]


@PROPERTY
@given(people(), st.sampled_from([("sex",), ("address",), ("sex", "address"), ("givenName",),
                                  ("givenName", "sex")]), st.data())
def test_an_unknown_item_never_merges_and_goes_to_review(person, unknown_items, data):
    """性別 不明, 住所 不明 or a placeholder name is a gap, not a value: the same person with
    unknown items on both sides (each written its own way) is a near match for a person to
    review, never a merge. (Name and address both unknown leave too little to review: the
    birth date and sex only, see test_registry_unknown_items.)"""
    unknown = dict(person, sex="not_known") if "sex" in unknown_items else person
    forms = [form(unknown), form(unknown, data.draw)]
    for f in forms:
        if "address" in unknown_items:
            f["address"] = data.draw(st.sampled_from(UNKNOWN_ADDRESSES))
        if "givenName" in unknown_items:
            f["givenName"] = data.draw(st.sampled_from(UNKNOWN_GIVEN_NAMES))
    registry = Registry.open(":memory:", place=KOBE)
    try:
        first = registry.register(forms[0], source="a")
        again = registry.register(forms[1], source="b")
        assert again.outcome == "review" and registry.count() == 2, again
        assert any(first.person_id == r.candidate_id and "unknown_items" in r.reasons
                   for r in again.reviews)
    finally:
        registry.close()


@PROPERTY
@given(people(), st.sampled_from(["familyName", "birthDate", "sex", "address"]), st.data())
def test_a_difference_in_one_item_never_merges(person, item, data):
    other = dict(person)
    if item == "familyName":
        other["familyName"] = person["familyName"] + data.draw(st.sampled_from("川森"))
    elif item == "birthDate":
        other["birthDate"] = date(person["birthDate"].year - 1, 1, 1)
    elif item == "sex":
        other["sex"] = data.draw(st.sampled_from(
            [s for s in ("male", "female", "not_known") if s != person["sex"]]))
    else:
        c, b, g = person["numbers"]
        other["numbers"] = (c, b, g % 40 + 1)
    registry = Registry.open(":memory:", place=KOBE)
    try:
        registry.register(form(person), source="a")
        second = registry.register(form(other, data.draw), source="b")
        assert second.outcome != "merged" and registry.count() == 2
    finally:
        registry.close()


@pytest.mark.slow
def test_fifty_thousand_people_register_with_dedupe(tmp_path):
    """The bench's dedupe_s run, checked for correctness (timing is reported, not asserted)."""
    work = workload(50_000)
    registry = Registry.open(tmp_path / "registry.sqlite", place=PLACE)
    started = time.perf_counter()
    stats = registry.register_many(work.forms, source="bench")
    elapsed = time.perf_counter() - started
    print(f"\n50,000 registrations with dedupe: {elapsed:.2f} s ({stats.to_json()})")
    outcomes = {kind: [r.outcome for r, k in zip(stats.results, work.kinds, strict=True)
                       if k == kind] for kind in ("person", "variant", "near")}
    assert not stats.refused
    assert set(outcomes["variant"]) == {"merged"}  # every re-registration found its person
    # every near miss went to a person for review, or merged with the same near miss made
    # earlier (the workload can draw one twice), never with the person it is near to
    near_people: set[str] = set()
    for result, kind in zip(stats.results, work.kinds, strict=True):
        if kind == "near":
            assert result.outcome == "review" or result.person_id in near_people
            near_people.add(result.person_id)
    assert "merged" not in outcomes["person"]  # and no two different people were merged
    assert registry.count() == stats.new + stats.review
    assert len(outcomes["variant"]) > 4000 and len(outcomes["near"]) > 400
    registry.close()


def test_measure_dedupe_reports_what_the_bench_publishes(tmp_path):
    result = measure_dedupe(500, directory=tmp_path)
    assert set(result) >= {"dedupe_s", "registrations", "people", "new", "merged", "review",
                           "refused"}
    assert result["registrations"] == 500 and result["merged"] > 0
    assert list(tmp_path.iterdir()) == []  # the store was temporary


# ---------------------------------------------------------------- match() against the rules

_NAMES = ["やまだはなこ", "やまだはなご", "やまだ", "ふめい", "やまだー", "-"]
_KANAS = [None, "ヤマダハナコ", "ヤマダハナゴ", "ヤマダ", "フメイ"]
_BIRTHS = ["1950-01-01", "1950-01-02", "1950-02-30"]
_SEXES = ["female", "male", "not_known"]
_ADDRESSES = ["仙台市青葉区一番町1-1", "仙台市青葉区一番町1-2", "住所不明", ""]
keys = st.builds(Keys, name=st.sampled_from(_NAMES), kana=st.sampled_from(_KANAS),
                 birth=st.sampled_from(_BIRTHS), sex=st.sampled_from(_SEXES),
                 address=st.sampled_from(_ADDRESSES))


def match_pair_by_pair(new: Keys, candidates: dict[str, Keys]) -> MatchResult:
    """The rules applied to every candidate in full, one comparison each: what ``match``
    must answer, however it skips work."""
    exact = [pid for pid, old in candidates.items() if is_exact(new, old)]
    if len(exact) == 1:
        return MatchResult(exact[0], ())
    near = [(pid, ("ambiguous_exact",)) for pid in exact]
    near += [(pid, reasons) for pid, old in candidates.items()
             if pid not in exact and (reasons := near_reasons(new, old))]
    return MatchResult(None, tuple(near))


@PROPERTY
@given(keys, st.lists(keys, max_size=4))
def test_match_answers_as_the_rules_applied_to_every_candidate(new, olds):
    candidates = {f"p{n}": old for n, old in enumerate(olds)}
    assert match(new, candidates) == match_pair_by_pair(new, candidates)
