"""Synthetic mothers and children for the pmh demo: drawn from small pools of common
names with a fixed seed, never a real person; ids are opaque uuids."""

from __future__ import annotations

import random
import uuid
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

from domains.pmh import vocab

FAMILIES = (("佐藤", "サトウ"), ("鈴木", "スズキ"), ("高橋", "タカハシ"), ("田中", "タナカ"),
            ("伊藤", "イトウ"), ("渡辺", "ワタナベ"), ("山本", "ヤマモト"), ("中村", "ナカムラ"),
            ("小林", "コバヤシ"), ("加藤", "カトウ"))
MOTHERS = (("陽子", "ヨウコ"), ("美咲", "ミサキ"), ("優子", "ユウコ"), ("真由美", "マユミ"),
           ("彩", "アヤ"), ("恵", "メグミ"), ("智子", "トモコ"), ("麻衣", "マイ"))
CHILDREN = (("陽向", "ヒナタ", "male"), ("結衣", "ユイ", "female"), ("蓮", "レン", "male"),
            ("葵", "アオイ", "female"), ("湊", "ミナト", "male"), ("凛", "リン", "female"))
STREETS = ("一番町", "九段南", "神田小川町", "麹町", "飯田橋", "富士見")
_IDS = uuid.UUID("9a1c7b2e-4f5d-4c3b-8e6a-1d2c3b4a5f60")  # uuid5 namespace: stable ids


def _id(kind: str, n: int) -> str:
    return f"urn:uuid:{uuid.uuid5(_IDS, f'{kind}-{n}')}"


def _record(term: str, record_id: str, **fields: Any) -> dict[str, Any]:
    return {"@context": list(vocab.RECORD_CONTEXT), "id": record_id, "type": term, **fields}


@dataclass(frozen=True)
class Family:
    mother: dict[str, Any]
    child: dict[str, Any] | None  # born before the months begin; None: pregnant
    expected_delivery: date | None  # the pregnant mothers'
    vouchers: tuple[dict[str, Any], ...]  # pregnancy checkup vouchers, sequence 1..

    @property
    def subjects(self) -> list[str]:
        return [self.mother["id"], *([self.child["id"]] if self.child else [])]


def families(people: int, start: date, months: int, code: str, seed: int = 14
             ) -> list[Family]:
    """``people`` people: three in five mothers, the rest the infants of the first of them
    (born 1-8 weeks before ``start``); the other mothers are pregnant, with one pregnancy
    checkup voucher per simulated month."""
    rng = random.Random(seed)
    mothers = max(1, -(-people * 3 // 5))
    children = min(people - mothers, mothers - 1)
    out = []
    for n in range(mothers):
        family, kana = rng.choice(FAMILIES)
        given, given_kana = rng.choice(MOTHERS)
        mother = _record(vocab.MOTHER, _id("mother", n), familyName=family, givenName=given,
                         familyNameKana=kana, givenNameKana=given_kana,
                         birthDate=(date(1986, 1, 1) + timedelta(days=rng.randrange(5000)))
                         .isoformat(),
                         address=f"東京都千代田区{rng.choice(STREETS)}{rng.randint(1, 5)}-"
                                 f"{rng.randint(1, 20)}-{rng.randint(1, 30)}")
        child = None
        if n < children:
            name, name_kana, sex = rng.choice(CHILDREN)
            born = start - timedelta(days=rng.randint(7, 56))
            child = _record(vocab.CHILD, _id("child", n), familyName=family, givenName=name,
                            familyNameKana=kana, givenNameKana=name_kana,
                            birthDate=born.isoformat(), sex=sex)
        due = None if child else start + timedelta(days=rng.randint(60, 200))
        vouchers = () if child else tuple(
            _record(vocab.VOUCHER, _id(f"voucher-{n}", seq), subject=mother["id"],
                    voucherKind="pregnancy_checkup", sequence=seq,
                    issuer={"code": code, "name": "千代田区"},
                    voucherNumber=f"{code}-{n:05d}-{seq:02d}",
                    validFrom=(start - timedelta(days=30)).isoformat(),
                    validUntil=(start + timedelta(days=400)).isoformat())
            for seq in range(1, months + 1))
        out.append(Family(mother, child, due, vouchers))
    return out
