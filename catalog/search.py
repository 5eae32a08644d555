"""Search over DCAT datasets, Japanese text included.

Queries and texts are compared after the same normalisation: NFKC (full-width letters and
digits, half-width kana), case folding, and katakana folded to hiragana, so "ヒナンジョ",
"ひなんじょ" and "ﾋﾅﾝｼﾞｮ" find each other. Every whitespace-separated query term must match.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Iterable, Iterator
from typing import Any

_KATAKANA = range(0x30A1, 0x30F7)  # ァ..ヶ; the hiragana block sits 0x60 below
_KATAKANA_TO_HIRAGANA = {code: code - 0x60 for code in _KATAKANA}  # one C-level translate
TEXT_FIELDS = ("dct:title", "title", "dct:description", "description", "dcat:keyword",
               "keyword", "@id")


def normalize_text(text: str) -> str:
    folded = unicodedata.normalize("NFKC", text).casefold()
    return folded.translate(_KATAKANA_TO_HIRAGANA)


def _texts(value: Any) -> Iterator[str]:
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for key in ("@value", "value"):
            if isinstance(value.get(key), str):
                yield value[key]
    elif isinstance(value, list):
        for item in value:
            yield from _texts(item)


def dataset_text(dataset: dict[str, Any]) -> str:
    return " ".join(normalize_text(t) for f in TEXT_FIELDS for t in _texts(dataset.get(f)))


def search(datasets: Iterable[dict[str, Any]], query: str | None) -> list[dict[str, Any]]:
    """The datasets whose title, description, keywords or id contain every query term."""
    terms = normalize_text(query or "").split()
    if not terms:
        return list(datasets)
    return [d for d in datasets if all(t in dataset_text(d) for t in terms)]
