"""Synthetic evacuees for the demo: generated names, never real people."""

from __future__ import annotations

import random
from datetime import date, timedelta
from typing import Any

from domains.bosai.vocab import RECORD_CONTEXT

# No name here, in kanji or kana, is a word the demos print or a part of their place names
# (田中 would be in the shelter name 新田中学校): tests/test_demo.py looks for each family and
# given name alone in the demos' output, and checks these pools against those words.
FAMILY = [("佐藤", "サトウ"), ("鈴木", "スズキ"), ("高橋", "タカハシ"), ("松本", "マツモト"),
          ("伊藤", "イトウ"), ("渡辺", "ワタナベ"), ("山本", "ヤマモト"), ("中村", "ナカムラ"),
          ("小林", "コバヤシ"), ("加藤", "カトウ"), ("吉田", "ヨシダ"), ("山田", "ヤマダ")]
GIVEN = [("蒼", "アオイ"), ("陽葵", "ヒマリ"), ("湊", "ミナト"), ("結菜", "ユイナ"),
         ("蓮", "レン"), ("凛", "リン"), ("大翔", "ヒロト"), ("美羽", "ミウ"),
         ("悠真", "ユウマ"), ("紬", "ツムギ"), ("一郎", "イチロウ"), ("花子", "ハナコ")]
TOWNS = ["青葉区国分町", "宮城野区榴岡", "若林区荒井", "太白区長町", "泉区泉中央"]


def evacuee(n: int, rng: random.Random, shelters: list[str]) -> dict[str, Any]:
    family, family_kana = rng.choice(FAMILY)
    given, given_kana = rng.choice(GIVEN)
    born = date(1935, 1, 1) + timedelta(days=rng.randrange(0, 32_000))
    person: dict[str, Any] = {
        "@context": list(RECORD_CONTEXT),
        "id": f"urn:tsunagu:demo:evacuee:{n:05d}",
        "type": "Evacuee",
        "familyName": family, "givenName": given,
        "familyNameKana": family_kana, "givenNameKana": given_kana,
        "birthDate": born.isoformat(),
        "sex": rng.choice(["male", "female"]),
        "address": f"宮城県仙台市{rng.choice(TOWNS)}{rng.randint(1, 9)}-{rng.randint(1, 30)}",
        "stayLocation": {"stayType": "shelter", "shelterId": rng.choice(shelters)},
        "consentToDisclose": rng.random() < 0.8,
    }
    if rng.random() < 0.15:
        person["careNeeds"] = {"careCategory": [rng.choice(["elderly", "infant", "pregnant"])]}
    return person


def evacuees(count: int, shelters: list[str], seed: int = 2026) -> list[dict[str, Any]]:
    rng = random.Random(seed)
    return [evacuee(n, rng, shelters) for n in range(count)]
