"""The steel dataset types and their content rules (run before anything is stored, on the
publishing connector and on every receiving one)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from connector.plugins.contract import ContentRule, DatasetType
from domains.steel import vocab
from domains.steel.certificate import recheck
from domains.steel.rules import check_derived, check_event

DATASET_TYPES: dict[str, DatasetType] = {
    "mill-certificates": DatasetType(
        schema=vocab.HERE / "certificate.schema.json",
        record_type=vocab.type_iri(vocab.CERTIFICATE), record_context=vocab.RECORD_CONTEXT,
        description_ja="ミルシート（EN 10168 検査証明書、溶鋼番号、鋼種、規格値の判定）",
        description_en="Mill certificates: EN 10168 inspection certificates with heat "
                       "numbers, grade and the result of every grade check"),
    "derived-certificates": DatasetType(
        schema=vocab.HERE / "derived-certificate.schema.json",
        record_type=vocab.type_iri(vocab.DERIVED_CERTIFICATE),
        record_context=vocab.RECORD_CONTEXT,
        description_ja="派生証明書（スリット・切断した品の質量・寸法、親の証明書へのハッシュ付き"
                       "リンク、親から継承した試験結果）",
        description_en="Derived certificates: pieces slit or cut from a parent piece, with "
                       "their masses and dimensions, a hash link to the parent and the "
                       "parent's results"),
    "custody-events": DatasetType(
        schema=vocab.HERE / "custody-event.schema.json",
        record_type=vocab.type_iri(vocab.CUSTODY_EVENT), record_context=vocab.RECORD_CONTEXT,
        description_ja="引渡し記録（契約に基づく品の引渡し、これまでの来歴の記録を添付）",
        description_en="Custody events: pieces transferred under an agreement, with the "
                       "pieces' chain to date"),
}


def _rule(record: Mapping[str, Any]) -> None:
    recheck(dict(record))


CONTENT_RULES: dict[str, ContentRule] = {
    vocab.type_iri(vocab.CERTIFICATE): _rule,
    vocab.type_iri(vocab.DERIVED_CERTIFICATE): check_derived,
    vocab.type_iri(vocab.CUSTODY_EVENT): check_event,
}
