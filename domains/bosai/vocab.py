"""The bosai vocabulary in one place: context URL and pin, record contexts, labelled tokens.

The tokens here, the enums of the JSON schemas and the terms of bosai-v1.jsonld must agree;
tests/domains/test_bosai_plugin.py checks that they do.
"""

from __future__ import annotations

from pathlib import Path

from connector.plugins.contract import ContextSpec
from trust.jsonld import CREDENTIALS_V2, TSUNAGU_V1
from usage_policies.vocab import TSUNAGU
from usage_policies.vocabularies import Term, Vocabulary

HERE = Path(__file__).parent

CONTEXT_URL = "https://w3id.org/tsunagu/bosai/v1"
NAMESPACE = "https://w3id.org/tsunagu/bosai#"
# Pinned here, not computed: an edited context file must be refused, not trusted.
CONTEXT = ContextSpec(CONTEXT_URL, HERE / "bosai-v1.jsonld",
                      "5558ce5193ec908fda8f05329dfc1eea9729df9e6051f92ec54b5928a86e92c0")

# credentials v2 for ``proof`` and ``name``, tsunagu v1 for ``version``/``modified``/provenance.
RECORD_CONTEXT = (CREDENTIALS_V2, TSUNAGU_V1, CONTEXT_URL)

SHELTER_STATUS = NAMESPACE + "ShelterStatus"
EVACUEE = NAMESPACE + "Evacuee"
MEDICAL_NEEDS_TYPE = NAMESPACE + "MedicalNeeds"
SUPPLY_REQUEST = NAMESPACE + "SupplyRequest"
RESIDENT_CARD_CREDENTIAL = NAMESPACE + "ResidentCardCredential"

Labels = dict[str, tuple[str, str]]  # token -> (ja, en)

# The roles bosai brings to the data space (the core has municipality, medical_institution).
ROLES = (
    Term("shelter_operator", "避難所運営者", "shelter operator"),
    Term("relief_supplier", "救援物資の供給者", "relief supplier"),
)

# The purposes bosai's policies and reads name: disaster response and its kinds.
PURPOSES = (
    Term("disaster_response", "災害対応", "disaster response"),
    Term("evacuation_support", "避難支援", "evacuation support", "disaster_response"),
    Term("safety_confirmation", "安否確認", "safety confirmation", "disaster_response"),
    Term("shelter_operation", "避難所運営", "shelter operation", "disaster_response"),
    Term("relief_supply", "救援物資の供給", "relief supply", "disaster_response"),
    Term("rescue", "救助", "rescue", "disaster_response"),
    Term("recovery_support", "生活再建支援", "recovery support", "disaster_response"),
)

# Disaster phases, matching the tsunagu-v1 JSON-LD context (tsunagu:phase_<token>), with the
# Digital Agency's names: 平時 / 切迫時 / 応急時 / 復旧・復興時. A world fact the municipality
# sets (``tsunagu:disasterPhase``, connector.control.facts); bosai's policies depend on it.
DISASTER_PHASES = Vocabulary("disasterPhase", TSUNAGU + "phase_")
DISASTER_PHASES.register([
    Term("mitigation", "平時（減災・予防）", "normal times (mitigation)"),
    Term("preparedness", "切迫時（警戒・備え）", "imminent danger (preparedness)"),
    Term("response", "応急時", "emergency response"),
    Term("recovery", "復旧・復興時", "recovery and reconstruction"),
])

SHELTER_TYPES: Labels = {
    "designated_shelter": ("指定避難所", "designated shelter"),
    "designated_emergency_evacuation_site": ("指定緊急避難場所",
                                             "designated emergency evacuation site"),
    "welfare_shelter": ("福祉避難所", "welfare shelter"),
}
SEXES: Labels = {
    "male": ("男", "male"),
    "female": ("女", "female"),
    "not_known": ("不明", "not known"),
}
STAY_TYPES: Labels = {
    "shelter": ("避難所", "in a shelter"),
    "home": ("在宅", "at home"),
    "vehicle": ("車中泊", "in a vehicle"),
    "relatives": ("親戚・知人宅", "with relatives or friends"),
    "other": ("その他", "elsewhere"),
}
CARE_CATEGORIES: Labels = {
    "elderly": ("高齢者", "elderly"),
    "disabled": ("障害者", "person with disabilities"),
    "infant": ("乳幼児", "infant"),
    "pregnant": ("妊婦", "pregnant woman"),
    "nursing": ("授乳中の女性", "nursing mother"),
    "sick_or_injured": ("傷病者", "sick or injured"),
    "intractable_disease": ("難病患者", "intractable disease"),
    "limited_japanese": ("日本語が不自由な外国人", "foreigner with limited Japanese"),
}
MEDICAL_NEEDS: Labels = {
    "dialysis": ("人工透析", "dialysis"),
    "oxygen": ("在宅酸素", "oxygen therapy"),
    "ventilator": ("人工呼吸器", "ventilator"),
    "allergy": ("アレルギー", "allergy"),
    "special_diet": ("食事制限", "special diet"),
    "medication": ("服薬", "regular medication"),
}
HOUSEHOLD_RELATIONSHIPS: Labels = {
    "head": ("世帯主", "head of household"),
    "spouse": ("配偶者", "spouse"),
    "child": ("子", "child"),
    "parent": ("父母", "parent"),
    "grandchild": ("孫", "grandchild"),
    "grandparent": ("祖父母", "grandparent"),
    "sibling": ("兄弟姉妹", "sibling"),
    "other_relative": ("その他の親族", "other relative"),
    "other": ("同居人", "other household member"),
}
# What a person lets the registry tell a safety inquiry (安否確認) about them. "safety" (that
# the person is accounted for) is implied by every other item: any answer reveals it.
DISCLOSURE_ITEMS: Labels = {
    "safety": ("安否（所在が確認できていること）", "that the person is accounted for"),
    "stay_type": ("滞在場所の種類（避難所・在宅・車中泊など）",
                  "the kind of place where the person stays"),
    "shelter": ("滞在している避難所", "the shelter where the person stays"),
    "address": ("住所", "home address"),
    "contact": ("連絡先", "contact details"),
}

# The JSON property each vocabulary is the value set of -> its labelled tokens.
VOCABULARIES: dict[str, Labels] = {
    "shelterType": SHELTER_TYPES,
    "sex": SEXES,
    "stayType": STAY_TYPES,
    "careCategory": CARE_CATEGORIES,
    "medicalNeed": MEDICAL_NEEDS,
    "relationship": HOUSEHOLD_RELATIONSHIPS,
    "disclosureScope": DISCLOSURE_ITEMS,
}

# Relief supplies (SupplyRequest records, supply-request.schema.json). Kept apart from
# VOCABULARIES, whose agreement with the evacuee and shelter schemas is tested as one set.
SUPPLY_ITEMS: Labels = {
    "drinking_water": ("飲料水", "drinking water"),
    "food": ("食料", "food"),
    "allergy_safe_food": ("アレルギー対応食", "allergy-safe food"),
    "infant_formula": ("粉ミルク", "infant formula"),
    "baby_food": ("離乳食", "baby food"),
    "infant_diapers": ("乳幼児用おむつ", "infant diapers"),
    "adult_diapers": ("大人用おむつ", "adult diapers"),
    "sanitary_products": ("生理用品", "sanitary products"),
    "medicine": ("医薬品", "medicine"),
    "blankets": ("毛布", "blankets"),
    "portable_toilets": ("簡易トイレ", "portable toilets"),
    "clothing": ("衣類", "clothing"),
    "hygiene_supplies": ("衛生用品", "hygiene supplies"),
    "other": ("その他", "other"),
}
SUPPLY_UNITS: Labels = {
    "piece": ("個", "pieces"),
    "pack": ("パック", "packs"),
    "box": ("箱", "boxes"),
    "bottle": ("本", "bottles"),
    "can": ("缶", "cans"),
    "sheet": ("枚", "sheets"),
    "serving": ("食", "servings"),
    "liter": ("リットル", "litres"),
    "kilogram": ("キログラム", "kg"),
    "set": ("セット", "sets"),
}
URGENCIES: Labels = {
    "critical": ("最優先", "critical"),
    "high": ("高", "high"),
    "medium": ("中", "medium"),
    "low": ("低", "low"),
}
# Who the supplies are for: the 要配慮 categories, or everyone in the shelter.
FOR_WHOM: Labels = {**CARE_CATEGORIES, "general": ("避難者全般", "everyone")}
SUPPLY_STATUSES: Labels = {
    "requested": ("要請中", "requested"),
    "committed": ("手配済み", "committed"),
    "delivered": ("配送済み", "delivered"),
    "cancelled": ("取消", "cancelled"),
}
SUPPLY_VOCABULARIES: dict[str, Labels] = {
    "item": SUPPLY_ITEMS,
    "unit": SUPPLY_UNITS,
    "urgency": URGENCIES,
    "forWhom": FOR_WHOM,
    "status": SUPPLY_STATUSES,
}

# Needs (不足物資) are free text in status files (``ShelterStatus.needs``): the spellings
# municipalities use for the supply items above, so that a need can be shown in the reader's
# language. Only unambiguous ones: a bare おむつ may be for infants or adults, so it stays as
# written. The items' own Japanese and English labels match as well (``need_item``).
NEED_SPELLINGS: dict[str, str] = {
    "水": "drinking_water", "飲み水": "drinking_water", "飲用水": "drinking_water",
    "ペットボトル水": "drinking_water", "給水": "drinking_water",
    "食糧": "food", "非常食": "food", "食べ物": "food", "弁当": "food",
    "アレルギー食": "allergy_safe_food", "アレルギー対応食品": "allergy_safe_food",
    "ミルク": "infant_formula", "液体ミルク": "infant_formula",
    "子供用おむつ": "infant_diapers", "子ども用おむつ": "infant_diapers",
    "ベビー用おむつ": "infant_diapers", "乳児用おむつ": "infant_diapers",
    "大人用紙おむつ": "adult_diapers", "介護用おむつ": "adult_diapers",
    "ナプキン": "sanitary_products", "生理用ナプキン": "sanitary_products",
    "薬": "medicine", "常備薬": "medicine", "医薬品類": "medicine",
    "ブランケット": "blankets", "携帯トイレ": "portable_toilets",
    "トイレ": "portable_toilets", "仮設トイレ": "portable_toilets",
    "着替え": "clothing", "下着": "clothing", "衛生用品類": "hygiene_supplies",
}
