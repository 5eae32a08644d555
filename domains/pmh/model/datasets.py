"""The pmh dataset types: which schema and record type each dataset of the hub uses."""

from __future__ import annotations

import json
from functools import cache
from typing import Any

from connector.plugins.contract import DatasetType
from domains.pmh import vocab


def _dataset(schema: str, term: str, ja: str, en: str) -> DatasetType:
    return DatasetType(schema=vocab.HERE / f"{schema}.schema.json",
                       record_type=vocab.type_iri(term), record_context=vocab.RECORD_CONTEXT,
                       description_ja=ja, description_en=en)


DATASET_TYPES: dict[str, DatasetType] = {
    "mothers": _dataset("mother", vocab.MOTHER, "妊産婦（氏名の漢字・カナ、生年月日、住所）",
                        "Mothers: names in kanji and kana, birth date, address"),
    "children": _dataset("child", vocab.CHILD, "子（氏名の漢字・カナ、生年月日、性別）",
                         "Children: names in kanji and kana, birth date, sex"),
    "mother-child-links": _dataset("mother-child-link", vocab.LINK, "母と子の関係",
                                   "Which mother each child has"),
    "pregnancy-registrations": _dataset(
        "pregnancy-registration", vocab.PREGNANCY,
        "妊娠届・母子健康手帳の交付（交付日、出産予定日、交付した市区町村）",
        "Pregnancy registrations: 母子健康手帳 issue date, expected delivery date, issuing "
        "municipality"),
    "encounters": _dataset("encounter", vocab.ENCOUNTER,
                           "受診（妊婦・産婦・乳幼児健診、新生児聴覚検査、予防接種）と支払う市区町村・受診票",
                           "Visits (pregnancy, postpartum and infant checkups, hearing "
                           "screening, vaccination) with the paying municipality and voucher"),
    "observations": _dataset("observation", vocab.OBSERVATION,
                             "健診の測定・検査結果（体重、血圧、尿蛋白、子宮底長、EPDS など）",
                             "Checkup measurements (weight, blood pressure, urine protein, "
                             "fundal height, EPDS ...)"),
    "immunizations": _dataset("immunization", vocab.IMMUNIZATION,
                              "予防接種の記録（ワクチン、接種回数、ロット、接種日）",
                              "Vaccinations given: vaccine, dose number, lot, date"),
    "subsidy-coverages": _dataset("subsidy-coverage", vocab.SUBSIDY,
                                  "公費負担（公費負担者番号・受給者番号、有効期間）",
                                  "Public subsidies: payer and recipient numbers, validity"),
    "checkup-vouchers": _dataset("checkup-voucher", vocab.VOUCHER,
                                 "受診票（妊婦健診14回、産婦健診、新生児聴覚検査、乳幼児健診）",
                                 "Checkup vouchers: 14 pregnancy checkups, postpartum, newborn "
                                 "hearing, infant checkups"),
    "care-flags": _dataset("care-flag", vocab.CARE_FLAG,
                           "要配慮者の情報（災害対応用: 4情報と妊娠週数または乳児の月齢のみ）",
                           "Care flags for disaster response: the 4 items and pregnancy weeks "
                           "or an infant's age in months, nothing else"),
}

# Record type term (``Mother``) -> its dataset type.
BY_TERM: dict[str, DatasetType] = {
    dt.record_type.removeprefix(vocab.NAMESPACE): dt for dt in DATASET_TYPES.values()}


@cache
def schema_of(term: str) -> dict[str, Any]:
    """The JSON schema of the record type ``term`` (``Mother``)."""
    return json.loads(BY_TERM[term].schema.read_bytes())
