"""The URIs pmh's FHIR resources use: HL7 code systems, LOINC/UCUM, and the project's own
identifier systems, extensions and profiles (w3id.org/tsunagu/pmh: no JP Core or national
OID is claimed for them, since they could not be checked offline)."""

from __future__ import annotations

from domains.pmh.vocab import LOINC, PMH_CODES, UCUM

__all__ = ["LOINC", "PMH_CODES", "UCUM"]

RECORD_ID = "urn:ietf:rfc:3986"  # Resource.identifier carrying the pmh record's IRI
EN_REPRESENTATION = "http://hl7.org/fhir/StructureDefinition/iso21090-EN-representation"
KANJI, KANA = "IDE", "SYL"  # JP Core: ideographic and syllabic HumanName
ROLE_CODE = "http://terminology.hl7.org/CodeSystem/v3-RoleCode"
MOTHER_ROLES = ("MTH", "NMTH")  # mother, natural mother
ACT_CODE = "http://terminology.hl7.org/CodeSystem/v3-ActCode"
OBSERVATION_CATEGORY = "http://terminology.hl7.org/CodeSystem/observation-category"
COVERAGE_CLASS = "http://terminology.hl7.org/CodeSystem/coverage-class"

_ID = "https://w3id.org/tsunagu/pmh/id/"
LOCAL_GOVERNMENT_CODE = _ID + "local-government-code"  # 全国地方公共団体コード
MEDICAL_INSTITUTION_CODE = _ID + "medical-institution-code"  # 医療機関コード
PUBLIC_PAYER_NUMBER = _ID + "public-payer-number"  # 公費負担者番号
PUBLIC_RECIPIENT_NUMBER = _ID + "public-recipient-number"  # 公費受給者番号
HANDBOOK_NUMBER = _ID + "maternal-child-handbook-number"  # 母子健康手帳の番号
VOUCHER_NUMBER = _ID + "checkup-voucher-number"  # 受診票の番号

ENCOUNTER_KIND = PMH_CODES + "/encounter-kind"
VACCINE = PMH_CODES + "/vaccine"
GRADE = PMH_CODES + "/grade"
HEARING = PMH_CODES + "/hearing"
COVERAGE_TYPE = PMH_CODES + "/coverage-type"
PUBLIC_SUBSIDY, CHECKUP_VOUCHER = "public-subsidy", "checkup-voucher"

_SD = "https://w3id.org/tsunagu/pmh/fhir/StructureDefinition/"
PROFILE_MOTHER = _SD + "pmh-mother"
PROFILE_CHILD = _SD + "pmh-child"
EXT_MOTHER = _SD + "mother"  # RelatedPerson: the mother's own Patient resource
EXT_PAYING_MUNICIPALITY = _SD + "paying-municipality"  # Encounter: who pays (里帰り出産)
EXT_VOUCHER = _SD + "voucher"  # Encounter: the 受診票 (a Coverage) it was paid with
# meta: the record's provenance (prov:wasAttributedTo, prov:wasDerivedFrom) as the
# connector keeps it for contributed versions.
PROVENANCE = {"wasAttributedTo": _SD + "was-attributed-to",
              "wasDerivedFrom": _SD + "was-derived-from"}
EXT_GESTATIONAL_AGE = _SD + "gestational-age"  # Observation: a pregnancy test's day, in days

DEVELOPMENT = PMH_CODES + "/development"  # "<checkupAge>.<item>" of development_items.toml
ANSWER = PMH_CODES + "/answer"  # yes / no / unknown
LAB_RESULT = PMH_CODES + "/lab-result"  # negative / positive / indeterminate
ABO = PMH_CODES + "/abo"  # A / B / O / AB
RH_D = PMH_CODES + "/rh-d"  # positive / negative
# LOINC's parts of 882-1 (ABO and Rh group [Type] in Blood)
ABO_LOINC, RH_LOINC = "883-9", "10331-7"
# An infant's growth measurement against the growth reference (growth_reference.json): the
# band as an Observation.interpretation coding (Coding.version: the reference's edition),
# the estimated percentile in an extension (valueDecimal).
GROWTH_BAND = PMH_CODES + "/growth-percentile-band"
EXT_GROWTH_PERCENTILE = _SD + "growth-percentile"
