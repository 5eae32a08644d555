"""The pmh vocabulary in one place: context URL and pin, record types, labelled tokens, and
the measurements an Observation record may hold with their codes and plausible limits.

The tokens here, the enums of the JSON schemas and the terms of pmh-v1.jsonld must agree;
tests/domains/pmh/test_context.py checks that they do.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from connector.plugins.contract import ContextSpec
from trust.jsonld import CREDENTIALS_V2, TSUNAGU_V1

HERE = Path(__file__).parent

CONTEXT_URL = "https://w3id.org/tsunagu/pmh/v1"
NAMESPACE = "https://w3id.org/tsunagu/pmh#"
# Pinned here, not computed: an edited context file must be refused, not trusted.
CONTEXT = ContextSpec(CONTEXT_URL, HERE / "pmh-v1.jsonld",
                      "4ec337df1dccab1b2e017658debbe2b1f24fef14d55e29fe59660e1a19ad3c3b")

# credentials v2 for ``proof`` and ``name``, tsunagu v1 for ``version``/``modified``/provenance.
RECORD_CONTEXT = (CREDENTIALS_V2, TSUNAGU_V1, CONTEXT_URL)

# Record types: the JSON-LD term (the record's ``type``) -> its expanded IRI.
MOTHER = "Mother"
CHILD = "Child"
LINK = "MotherChildLink"
PREGNANCY = "PregnancyRegistration"
ENCOUNTER = "Encounter"
OBSERVATION = "Observation"
IMMUNIZATION = "Immunization"
SUBSIDY = "SubsidyCoverage"
VOUCHER = "CheckupVoucher"
# Derived for disaster response (hub/care_flags.py): the 4 items and one care need, nothing
# else of the person's medical record.
CARE_FLAG = "CareFlag"
RECORD_TYPES = (MOTHER, CHILD, LINK, PREGNANCY, ENCOUNTER, OBSERVATION, IMMUNIZATION, SUBSIDY,
                VOUCHER, CARE_FLAG)


def type_iri(term: str) -> str:
    return NAMESPACE + term


Labels = dict[str, tuple[str, str]]  # token -> (ja, en)

# FHIR's administrative gender (a child's 性別 as the 出生届 gives it, or not yet known).
SEXES: Labels = {
    "female": ("女", "female"),
    "male": ("男", "male"),
    "other": ("その他", "other"),
    "unknown": ("不明", "unknown"),
}
ENCOUNTER_KINDS: Labels = {
    "pregnancy_checkup": ("妊婦健康診査", "pregnancy checkup"),
    "postpartum_checkup": ("産婦健康診査", "postpartum checkup"),
    "newborn_hearing": ("新生児聴覚検査", "newborn hearing screening"),
    "infant_checkup": ("乳幼児健康診査", "infant checkup"),
    "vaccination": ("予防接種", "vaccination"),
    "other": ("その他の受診", "other visit"),
}
VOUCHER_KINDS: Labels = {
    "pregnancy_checkup": ("妊婦健康診査受診票", "pregnancy checkup voucher"),
    "postpartum_checkup": ("産婦健康診査受診票", "postpartum checkup voucher"),
    "newborn_hearing": ("新生児聴覚検査受診票", "newborn hearing screening voucher"),
    "infant_checkup_1m": ("1か月児健康診査受診票", "1-month infant checkup voucher"),
    "infant_checkup_3_4m": ("3～4か月児健康診査受診票", "3-4 month infant checkup voucher"),
    "infant_checkup_6_7m": ("6～7か月児健康診査受診票", "6-7 month infant checkup voucher"),
    "infant_checkup_9_10m": ("9～10か月児健康診査受診票", "9-10 month infant checkup voucher"),
    "infant_checkup_1y6m": ("1歳6か月児健康診査受診票", "18-month infant checkup voucher"),
    "infant_checkup_3y": ("3歳児健康診査受診票", "3-year checkup voucher"),
}
# The most vouchers of one kind a 母子健康手帳 comes with (14 pregnancy checkups).
VOUCHER_SEQUENCE_MAX = 14
# Routine vaccines (予防接種法の定期接種) as pmh records name them.
VACCINES: Labels = {
    "rotavirus_rv1": ("ロタウイルス（1価: ロタリックス）", "rotavirus, monovalent (Rotarix)"),
    "rotavirus_rv5": ("ロタウイルス（5価: ロタテック）", "rotavirus, pentavalent (RotaTeq)"),
    "hepatitis_b": ("B型肝炎", "hepatitis B"),
    "pneumococcal": ("小児用肺炎球菌", "pneumococcal conjugate"),
    "dpt_ipv_hib": ("五種混合（DPT-IPV-Hib）", "DTaP-IPV-Hib (5-in-1)"),
    "dpt_ipv": ("四種混合（DPT-IPV）", "DTaP-IPV (4-in-1)"),
    "hib": ("ヒブ", "Hib"),
    "bcg": ("BCG", "BCG"),
    "mr": ("麻しん風しん混合（MR）", "measles-rubella (MR)"),
    "varicella": ("水痘", "varicella"),
    "japanese_encephalitis": ("日本脳炎", "Japanese encephalitis"),
    "dt": ("二種混合（DT）", "DT"),
    "hpv": ("ヒトパピローマウイルス（HPV）", "HPV"),
}
# Dipstick and oedema grades (−, ±, +, 2+, ...) as written in the 母子健康手帳.
GRADES: Labels = {
    "negative": ("−", "negative"),
    "trace": ("±", "trace"),
    "1plus": ("+", "1+"),
    "2plus": ("2+", "2+"),
    "3plus": ("3+", "3+"),
    "4plus": ("4+", "4+"),
}
HEARING_RESULTS: Labels = {
    "pass": ("パス", "pass"),
    "refer": ("要再検査（リファー）", "refer"),
}
# 発達の確認 at an infant checkup: the checkup ages with development items
# (development_items.toml), and the answer to each item.
CHECKUP_AGES: Labels = {
    "1m": ("1か月児", "1 month"),
    "3_4m": ("3～4か月児", "3-4 months"),
    "1y6m": ("1歳6か月児", "18 months"),
    "3y": ("3歳児", "3 years"),
}
ANSWERS: Labels = {
    "yes": ("はい", "yes"),
    "no": ("いいえ", "no"),
    "unknown": ("わからない", "unknown"),
}
# A pregnancy blood (or swab) test's qualitative result, as the 手帳 writes it.
LAB_RESULTS: Labels = {
    "negative": ("陰性（－）", "negative"),
    "positive": ("陽性（＋）", "positive"),
    "indeterminate": ("判定保留", "indeterminate"),
}
ABO_GROUPS: Labels = {"A": ("A型", "A"), "B": ("B型", "B"), "O": ("O型", "O"),
                      "AB": ("AB型", "AB")}
RH_D: Labels = {"positive": ("Rh(D)陽性", "Rh(D) positive"),
                "negative": ("Rh(D)陰性", "Rh(D) negative")}

# FHIR code systems and the project's own (no LOINC code fits those marked so).
LOINC = "http://loinc.org"
UCUM = "http://unitsofmeasure.org"
PMH_CODES = "https://w3id.org/tsunagu/pmh/codes"


@dataclass(frozen=True)
class Measurement:
    """An Observation kind: its code (LOINC where one exists, else ``PMH_CODES``), how its
    value is held, and the limits outside which it cannot be a person's (refused, naming the
    field)."""

    kind: str
    system: str
    code: str
    ja: str
    en: str
    # "quantity" (value + UCUM unit), "score", "grade", "hearing", "bp", "ga",
    # "development" (checkupAge, item, answer), "qualitative" (result), "blood_group" (abo,
    # rhD), "titer" (value, the reciprocal of a doubling dilution, and comparator "<")
    shape: str
    unit: str = ""
    low: float = 0
    high: float = 0
    # A pregnancy checkup's blood (or swab) test: it carries the gestational age of the day
    # it was taken (weeks, days), against the standard periods of blood_tests.toml.
    pregnancy_test: bool = False


MEASUREMENTS: dict[str, Measurement] = {m.kind: m for m in (
    Measurement("body_weight", LOINC, "29463-7", "体重", "body weight", "quantity", "kg",
                0.2, 300),
    Measurement("body_height", LOINC, "8302-2", "身長", "body height", "quantity", "cm",
                20, 230),
    # One Observation with both pressures as components, under the BP panel code.
    Measurement("blood_pressure", LOINC, "85354-9", "血圧", "blood pressure", "bp", "mm[Hg]"),
    Measurement("heart_rate", LOINC, "8867-4", "心拍数", "heart rate", "quantity", "/min",
                20, 250),
    Measurement("fetal_heart_rate", LOINC, "55283-6", "胎児心拍数", "fetal heart rate",
                "quantity", "/min", 50, 240),
    Measurement("fundal_height", LOINC, "11881-0", "子宮底長", "fundal height", "quantity",
                "cm", 1, 50),
    # LOINC has no abdominal circumference of pregnancy: 8280-0 (waist circumference) is the
    # nearest, and what pmh sends for 腹囲.
    Measurement("abdominal_circumference", LOINC, "8280-0", "腹囲", "abdominal circumference",
                "quantity", "cm", 40, 200),
    Measurement("head_circumference", LOINC, "8287-5", "頭囲", "head circumference",
                "quantity", "cm", 20, 70),
    Measurement("gestational_age", LOINC, "11884-4", "妊娠週数", "gestational age", "ga"),
    Measurement("urine_protein", LOINC, "5804-0", "尿蛋白", "urine protein (dipstick)",
                "grade"),
    Measurement("urine_glucose", LOINC, "5792-7", "尿糖", "urine glucose (dipstick)",
                "grade"),
    Measurement("epds_total", LOINC, "71354-5", "EPDS合計点", "EPDS total score", "score",
                "{score}", 0, 30),
    # No LOINC code for the 母子健康手帳's oedema grade: the project's own.
    Measurement("oedema", PMH_CODES, "oedema", "浮腫", "oedema", "grade"),
    # The automated ABR / OAE screening result per the 手帳 (pass / refer): the project's own.
    Measurement("hearing_screening", PMH_CODES, "newborn-hearing-screening", "新生児聴覚検査",
                "newborn hearing screening", "hearing"),
    # 発達の確認: one item of development_items.toml, answered yes / no / unknown. No LOINC
    # code exists for the 手帳's items: in FHIR the code is "<checkupAge>.<item>" of the
    # project's code system DEVELOPMENT_CODES.
    Measurement("development_item", PMH_CODES, "development-item", "発達の確認",
                "development item", "development"),
    # 妊婦健診の血液検査等 (blood_tests.toml has their standard periods). LOINC codes checked
    # against published LOINC tables and value sets (see docs/pmh.md); the project's code
    # where no LOINC code with the 告示's meaning could be checked (HI titre, HTLV-1 alone,
    # genital chlamydia by any method).
    Measurement("hemoglobin", LOINC, "718-7", "ヘモグロビン（血算）", "hemoglobin", "quantity",
                "g/dL", 1, 25, pregnancy_test=True),
    Measurement("blood_glucose", LOINC, "2345-7", "血糖", "glucose (serum or plasma)",
                "quantity", "mg/dL", 10, 1500, pregnancy_test=True),
    Measurement("blood_group", LOINC, "882-1", "血液型（ABO・Rh）", "ABO and Rh group",
                "blood_group", pregnancy_test=True),
    Measurement("irregular_antibodies", LOINC, "890-4", "不規則抗体", "blood group antibody "
                "screen", "qualitative", pregnancy_test=True),
    Measurement("hbs_antigen", LOINC, "5196-1", "HBs抗原", "hepatitis B virus surface Ag",
                "qualitative", pregnancy_test=True),
    Measurement("hcv_antibody", LOINC, "16128-1", "HCV抗体", "hepatitis C virus Ab",
                "qualitative", pregnancy_test=True),
    Measurement("hiv_antibody", LOINC, "31201-7", "HIV抗体", "HIV 1+2 Ab (immunoassay)",
                "qualitative", pregnancy_test=True),
    Measurement("syphilis", LOINC, "20507-0", "梅毒血清反応（RPR）", "reagin Ab (RPR)",
                "qualitative", pregnancy_test=True),
    Measurement("rubella_hi", PMH_CODES, "rubella-hi-antibody", "風疹HI抗体価",
                "rubella virus Ab titre (haemagglutination inhibition)", "titer", "{titer}",
                8, 8192, pregnancy_test=True),
    Measurement("htlv1_antibody", PMH_CODES, "htlv-1-antibody", "HTLV-1抗体",
                "HTLV-1 Ab", "qualitative", pregnancy_test=True),
    Measurement("chlamydia", PMH_CODES, "genital-chlamydia", "性器クラミジア",
                "Chlamydia trachomatis (genital)", "qualitative", pregnancy_test=True),
    Measurement("gbs", LOINC, "584-3", "B群溶血性レンサ球菌（腟分泌物）",
                "Streptococcus agalactiae, vaginal fluid culture", "qualitative",
                pregnancy_test=True),
)}
# A field of each shape (the schema allows a measurement only its own shape's fields).
SHAPE_FIELDS: dict[str, tuple[str, ...]] = {
    "quantity": ("value",), "score": ("value", "epdsItem10"), "bp": ("systolic", "diastolic"),
    "ga": ("weeks", "days"), "grade": ("grade",), "hearing": ("hearing",),
    "development": ("checkupAge", "item", "answer"), "qualitative": ("result",),
    "blood_group": ("abo", "rhD"), "titer": ("value", "comparator"),
}

# Blood pressure components and gestational age: limits of each field.
SYSTOLIC = Measurement("systolic", LOINC, "8480-6", "収縮期血圧", "systolic blood pressure",
                       "quantity", "mm[Hg]", 40, 300)
DIASTOLIC = Measurement("diastolic", LOINC, "8462-4", "拡張期血圧", "diastolic blood pressure",
                        "quantity", "mm[Hg]", 20, 200)
# EPDS item 10 (self-harm), held beside the total on its Observation; no LOINC code could be
# checked offline for the item alone, so the project's code system.
EPDS_ITEM10 = Measurement("epdsItem10", PMH_CODES, "epds-item-10", "EPDS項目10（自傷の考え）",
                          "EPDS item 10 (thoughts of self-harm)", "score", "{score}", 0, 3)
# 妊娠週数 as weeks and days (33週2日): 0w0d .. 45w6d (beyond 42 weeks is rare, not absent).
GESTATIONAL_WEEKS = Measurement("weeks", LOINC, "11884-4", "妊娠週数", "gestational age (weeks)",
                                "quantity", "wk", 0, 45)
GESTATIONAL_DAYS = Measurement("days", LOINC, "11884-4", "妊娠日数", "gestational age (days)",
                               "quantity", "d", 0, 6)

# The pregnancy registration is an Observation too: 母子健康手帳 issued, with the expected
# delivery date (LOINC 11778-8, "Delivery date Estimated") as a component.
PREGNANCY_REGISTRATION_CODE = "pregnancy-registration"
EXPECTED_DELIVERY_LOINC = "11778-8"

# The JSON property each vocabulary is the value set of -> its labelled tokens.
VOCABULARIES: dict[str, Labels] = {
    "sex": SEXES,
    "encounterKind": ENCOUNTER_KINDS,
    "voucherKind": VOUCHER_KINDS,
    "vaccine": VACCINES,
    "grade": GRADES,
    "hearing": HEARING_RESULTS,
    "checkupAge": CHECKUP_AGES,
    "answer": ANSWERS,
    "result": LAB_RESULTS,
    "abo": ABO_GROUPS,
    "rhD": RH_D,
    "measurement": {k: (m.ja, m.en) for k, m in MEASUREMENTS.items()},
}
