"""The steel dataset type and its content rule (run before anything is stored, on the
publishing connector and on every receiving one)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from connector.plugins.contract import ContentRule, DatasetType
from domains.steel import vocab
from domains.steel.certificate import recheck

DATASET_TYPES: dict[str, DatasetType] = {
    "mill-certificates": DatasetType(
        schema=vocab.HERE / "certificate.schema.json",
        record_type=vocab.type_iri(vocab.CERTIFICATE), record_context=vocab.RECORD_CONTEXT,
        description_ja="ミルシート（EN 10168 検査証明書、溶鋼番号、鋼種、規格値の判定）",
        description_en="Mill certificates: EN 10168 inspection certificates with heat "
                       "numbers, grade and the result of every grade check"),
}


def _rule(record: Mapping[str, Any]) -> None:
    recheck(dict(record))


CONTENT_RULES: dict[str, ContentRule] = {vocab.type_iri(vocab.CERTIFICATE): _rule}
