"""The bosai vocabulary in one place: context URL and pin, record contexts, labelled tokens.

The tokens here, the enums of the JSON schemas and the terms of bosai-v1.jsonld must agree;
tests/domains/test_bosai_plugin.py checks that they do.
"""

from __future__ import annotations

from pathlib import Path

from domains.plugin import ContextSpec
from trust.jsonld import CREDENTIALS_V2, TSUNAGU_V1

HERE = Path(__file__).parent

CONTEXT_URL = "https://w3id.org/tsunagu/bosai/v1"
NAMESPACE = "https://w3id.org/tsunagu/bosai#"
# Pinned here, not computed: an edited context file must be refused, not trusted.
CONTEXT = ContextSpec(CONTEXT_URL, HERE / "bosai-v1.jsonld",
                      "22cea9acad769dc8e567989956bbe237aabe5fa6b6ed1127b761ff18b48576c5")

# credentials v2 for ``proof`` and ``name``, tsunagu v1 for ``version``/``modified``/provenance.
RECORD_CONTEXT = (CREDENTIALS_V2, TSUNAGU_V1, CONTEXT_URL)

SHELTER_STATUS = NAMESPACE + "ShelterStatus"
EVACUEE = NAMESPACE + "Evacuee"
RESIDENT_CARD_CREDENTIAL = NAMESPACE + "ResidentCardCredential"

Labels = dict[str, tuple[str, str]]  # token -> (ja, en)

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
