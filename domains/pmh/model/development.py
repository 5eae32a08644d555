"""発達の確認: the development items of each infant checkup age, read from
``development_items.toml`` (data a municipality may edit, with its source), and the check
that an item belongs to the checkup age it is recorded for."""

from __future__ import annotations

import tomllib
from dataclasses import dataclass
from functools import cache
from pathlib import Path

from domains.pmh import vocab
from domains.pmh.errors import PmhCode, PmhInputError

ITEMS_FILE = vocab.HERE / "development_items.toml"
POLARITIES = ("positive", "concern")


@dataclass(frozen=True)
class Item:
    age: str
    key: str
    ja: str
    en: str
    polarity: str  # "positive": yes is expected; "concern": yes reports a worry

    def to_follow(self, answer: str) -> bool:
        """Whether this answer is one the nurse looks at again (not a judgement)."""
        return answer == ("no" if self.polarity == "positive" else "yes")


@cache
def items(path: Path = ITEMS_FILE) -> dict[str, dict[str, Item]]:
    """checkup age -> item key -> Item. A file naming an age pmh does not know, or an item
    without its texts, is refused (the file's fault, said with its place)."""
    ages = tomllib.loads(path.read_text(encoding="utf-8")).get("ages", {})
    out: dict[str, dict[str, Item]] = {}
    for age, spec in ages.items():
        if age not in vocab.CHECKUP_AGES:
            raise ValueError(f"{path.name}: ages.{age} is not a checkup age of pmh")
        out[age] = {}
        for key, item in (spec.get("items") or {}).items():
            if not (isinstance(item, dict) and item.get("ja") and item.get("en")
                    and item.get("polarity") in POLARITIES):
                raise ValueError(f"{path.name}: ages.{age}.items.{key} needs ja, en and a "
                                 f"polarity ({', '.join(POLARITIES)})")
            out[age][key] = Item(age, key, item["ja"], item["en"], item["polarity"])
    return out


@cache
def vouchers(path: Path = ITEMS_FILE) -> dict[str, str]:
    """checkup age -> the voucher kind (受診票) of that checkup."""
    ages = tomllib.loads(path.read_text(encoding="utf-8")).get("ages", {})
    found = {age: spec.get("voucher") for age, spec in ages.items()}
    wrong = [age for age, kind in found.items() if kind not in vocab.VOUCHER_KINDS]
    if wrong:
        raise ValueError(f"{path.name}: ages.{wrong[0]}.voucher is not a voucher kind")
    return found


def item(age: str, key: str) -> Item | None:
    return items().get(age, {}).get(key)


def check_item(age: object, key: object, field: str) -> None:
    """Refuse (``pmh.development_item``) an item that is not one of ``age``'s."""
    if not isinstance(age, str) or not isinstance(key, str):
        return  # the schema names a missing or malformed field
    if item(age, key) is None:
        raise PmhInputError(f"{field}: not a development item of the {age} checkup "
                            "(development_items.toml)", field=field,
                            code=PmhCode.DEVELOPMENT_ITEM)
