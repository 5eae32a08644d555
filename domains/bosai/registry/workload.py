"""Synthetic registrations for the bench and the demo: generated people, never real ones.

``registrations(count)`` gives ``count`` registration forms as reception would see them:
households of 1-4 people sharing a family name and an address (丁目/番/号 all drawn, so
addresses are as varied as a city's), about 10 % re-registrations of someone already in the
list written differently (hiragana or half-width kana, 和暦 birth date, full-width digits,
"3-12-5" for "3丁目12番5号", no prefecture, 旧字体 in the family name, 男/女), which must
merge, and about 1 % near misses (another 番, a kana one edit away), which must go to review.

``measure_dedupe(count)`` registers them into a fresh store and reports the time:
bench/bosai.py publishes it as ``dedupe_s``.
"""

from __future__ import annotations

import random
import tempfile
import time
import unicodedata
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path
from typing import Any

from domains.bosai.demo_people import FAMILY, GIVEN
from domains.bosai.registry.normalize import AddressContext
from domains.bosai.registry.registry import Registry
from domains.bosai.registry.variants import VARIANTS
from domains.japanese.dates import to_wareki

# Checked like connector.demo_people's pools (tests/test_demo.py): no name is a word the
# demos print or a part of a place name (千葉 is in 千葉県, 実 in 実行).
MORE_FAMILY = [
    ("渡辺", "ワタナベ"), ("高田", "タカダ"), ("山崎", "ヤマザキ"),
    ("長谷川", "ハセガワ"), ("浜田", "ハマダ"), ("広瀬", "ヒロセ"),
    ("黒田", "クロダ"), ("吉沢", "ヨシザワ"), ("斎藤", "サイトウ"),
    ("斉藤", "サイトウ"), ("桜井", "サクライ"), ("岡田", "オカダ"),
    ("菊地", "キクチ"), ("阿部", "アベ"), ("遠藤", "エンドウ"),
    ("熊谷", "クマガイ"), ("及川", "オイカワ"), ("菅原", "スガワラ"),
    ("佐々木", "ササキ"), ("今野", "コンノ"),
]
MORE_GIVEN = [
    ("真一", "シンイチ"), ("恵子", "ケイコ"), ("寿子", "ヒサコ"),
    ("稔", "ミノル"), ("龍之介", "リュウノスケ"), ("静香", "シズカ"),
    ("広志", "ヒロシ"), ("栄一", "エイイチ"), ("陽翔", "ハルト"),
    ("咲良", "サクラ"), ("樹", "イツキ"), ("葵", "アオイ"),
    ("美咲", "ミサキ"), ("健太", "ケンタ"), ("翔太", "ショウタ"),
    ("由美", "ユミ"), ("和子", "カズコ"), ("勝", "マサル"),
    ("清", "キヨシ"), ("幸子", "サチコ"),
]
TOWNS = ["青葉区国分町", "青葉区一番町", "宮城野区榴岡", "宮城野区新田", "若林区荒井",
         "若林区六丁の目", "太白区長町", "太白区富沢", "泉区泉中央", "泉区将監"]
SHELTERS = [f"04100-{n:04d}" for n in range(1, 101)]
PLACE = AddressContext("宮城県", "仙台市")
_OLD_FORM = {new: old for old, new in VARIANTS.items() if len(old) == 1}
_HALF_WIDTH = {unicodedata.normalize("NFKC", chr(cp) + mark): chr(cp) + mark
               for cp in range(0xFF66, 0xFF9E) for mark in ("", "ﾞ", "ﾟ")
               if len(unicodedata.normalize("NFKC", chr(cp) + mark)) == 1}


def _half_width(kana: str) -> str:
    return "".join(_HALF_WIDTH.get(c, c) for c in kana)


def _hiragana(kana: str) -> str:
    return "".join(chr(ord(c) - 0x60) if "ァ" <= c <= "ヶ" else c for c in kana)


def _full_width(text: str) -> str:
    return "".join(chr(ord(c) + 0xFEE0) if "0" <= c <= "9" or c == "-" else c for c in text)


@dataclass
class _Person:
    family: tuple[str, str]
    given: tuple[str, str]
    born: date
    sex: str
    town: str
    numbers: tuple[int, int, int]
    household: str
    shelter: str


def _form(p: _Person, rng: random.Random) -> dict[str, Any]:
    chome, ban, go = p.numbers
    form: dict[str, Any] = {
        "familyName": p.family[0], "givenName": p.given[0],
        "familyNameKana": p.family[1], "givenNameKana": p.given[1],
        "birthDate": p.born.isoformat(), "sex": p.sex,
        "address": f"宮城県仙台市{p.town}{chome}丁目{ban}番{go}号",
        "household": {"householdId": p.household},
        "stayLocation": {"stayType": "shelter", "shelterId": p.shelter},
        "consentToDisclose": rng.random() < 0.8,
    }
    if rng.random() < 0.15:
        form["careNeeds"] = {"careCategory": [rng.choice(["elderly", "infant", "pregnant"])]}
        if rng.random() < 0.3:
            form["careNeeds"]["medicalNeed"] = [rng.choice(["dialysis", "oxygen", "allergy"])]
    return form


def _variant(p: _Person, rng: random.Random) -> dict[str, Any]:
    """The same person as another reception desk might write them down."""
    form = _form(p, rng)
    chome, ban, go = p.numbers
    family = "".join(_OLD_FORM.get(c, c) for c in p.family[0])
    form.update(
        familyName=family + rng.choice(["", " ", "　"]),
        familyNameKana=rng.choice([_hiragana, _half_width])(p.family[1]),
        givenNameKana=rng.choice([_hiragana, _half_width, str])(p.given[1]),
        birthDate=rng.choice([to_wareki(p.born), p.born.strftime("%Y/%-m/%-d"),
                              _full_width(p.born.strftime("%Y-%m-%d"))]),
        sex={"male": "男", "female": "女"}[p.sex],
        address=rng.choice([f"仙台市{p.town}{chome}-{ban}-{go}",
                            _full_width(f"宮城県仙台市{p.town}{chome}-{ban}-{go}"),
                            f"宮城県仙台市{p.town}{chome}丁目{ban}番地{go}"]),
        stayLocation={"stayType": "shelter", "shelterId": rng.choice(SHELTERS)})
    return form


def _near(p: _Person, rng: random.Random) -> dict[str, Any]:
    """Someone who may or may not be the same person: a person has to look."""
    form = _form(p, rng)
    chome, ban, go = p.numbers
    if rng.random() < 0.5:
        form["address"] = f"宮城県仙台市{p.town}{chome}丁目{ban % 30 + 1}番{go}号"
    else:
        form["givenNameKana"] = p.given[1] + "ー"
    return form


@dataclass
class Workload:
    """``forms[i]`` is a registration; ``kinds[i]`` what it is: ``person`` (someone new),
    ``variant`` (someone earlier, written differently: must merge) or ``near`` (must be
    reviewed, never merged)."""

    forms: list[dict[str, Any]]
    kinds: list[str]


def workload(count: int, *, seed: int = 2026) -> Workload:
    rng = random.Random(seed)
    families, givens = FAMILY + MORE_FAMILY, GIVEN + MORE_GIVEN
    people: list[_Person] = []
    out = Workload([], [])
    while len(out.forms) < count:
        roll = rng.random()  # households average 2.2 people: ~10 % variants, ~1 % near
        if people and roll < 0.195:
            out.forms.append(_variant(rng.choice(people), rng))
            out.kinds.append("variant")
        elif people and roll < 0.215:
            out.forms.append(_near(rng.choice(people), rng))
            out.kinds.append("near")
        else:
            family = rng.choice(families)
            town = rng.choice(TOWNS)
            numbers = (rng.randint(1, 9), rng.randint(1, 30), rng.randint(1, 20))
            household = f"H{len(people):06d}"
            shelter = rng.choice(SHELTERS)
            for _ in range(min(rng.choice([1, 1, 2, 2, 3, 4]), count - len(out.forms))):
                person = _Person(family, rng.choice(givens),
                                 date(1935, 1, 1) + timedelta(days=rng.randrange(32_000)),
                                 rng.choice(["male", "female"]), town, numbers, household,
                                 shelter)
                people.append(person)
                out.forms.append(_form(person, rng))
                out.kinds.append("person")
    return out


def registrations(count: int, *, seed: int = 2026) -> list[dict[str, Any]]:
    return workload(count, seed=seed).forms


def measure_dedupe(count: int = 50_000, *, directory: Path | None = None,
                   seed: int = 2026) -> dict[str, Any]:
    """Register ``count`` synthetic people (forms, validated) with duplicate detection into a
    fresh store; ``dedupe_s`` is the wall time of ``Registry.register_many``."""
    forms = registrations(count, seed=seed)
    with tempfile.TemporaryDirectory(dir=directory) as tmp:
        registry = Registry.open(Path(tmp) / "registry.sqlite", place=PLACE)
        try:
            started = time.perf_counter()
            stats = registry.register_many(forms, source="bench")
            elapsed = time.perf_counter() - started
            people = registry.count()
        finally:
            registry.close()
    return {"dedupe_s": round(elapsed, 3), "registrations": count, "people": people,
            **{k: v for k, v in stats.to_json().items() if k not in ("total", "seconds")}}
