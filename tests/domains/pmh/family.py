"""A synthetic family as pmh records (no real person): a mother, her child, their link, the
pregnancy registration, a checkup with its measurements, a vaccination, a subsidy and a
voucher. Tests change what they need with ``dict`` updates."""

from __future__ import annotations

from domains.pmh import vocab
from domains.pmh.subsidy_numbers import with_check_digit

CONTEXT = list(vocab.RECORD_CONTEXT)
MOTHER = "urn:uuid:0b6f4a4e-1c1e-4f0a-9e1a-000000000001"
CHILD = "urn:uuid:0b6f4a4e-1c1e-4f0a-9e1a-000000000002"
VOUCHER = "urn:uuid:0b6f4a4e-1c1e-4f0a-9e1a-000000000008"
ENCOUNTER = "urn:uuid:0b6f4a4e-1c1e-4f0a-9e1a-000000000005"
CHIYODA = {"code": "131016", "name": "千代田区"}
SAPPORO = {"code": "011002", "name": "札幌市"}
CLINIC = {"code": "1312345678", "name": "つなぐ産婦人科クリニック"}
PAYER = with_check_digit("5213100")  # 法別 52, 東京都 13, 実施機関 100
RECIPIENT = with_check_digit("123456")


def _record(type_: str, number: int, **fields) -> dict:
    return {"@context": CONTEXT, "id": f"urn:uuid:0b6f4a4e-1c1e-4f0a-9e1a-{number:012d}",
            "type": type_, **fields}


def mother(**changes) -> dict:
    return {**_record("Mother", 1, familyName="山田", givenName="花子",
                      familyNameKana="ヤマダ", givenNameKana="ハナコ", birthDate="1994-04-01",
                      address="東京都千代田区一番町1-1", version=2,
                      modified="2026-05-01T09:00:00Z"), **changes}


def child(**changes) -> dict:
    return {**_record("Child", 2, familyName="山田", givenName="さくら",
                      familyNameKana="ヤマダ", givenNameKana="サクラ", birthDate="2026-08-03",
                      sex="female"), **changes}


def link(**changes) -> dict:
    return {**_record("MotherChildLink", 3, mother=MOTHER, child=CHILD), **changes}


def registration(**changes) -> dict:
    return {**_record("PregnancyRegistration", 4, mother=MOTHER, handbookIssued="2026-01-10",
                      expectedDelivery="2026-08-07", issuingMunicipality=CHIYODA,
                      handbookNumber="R8-0123"), **changes}


def encounter(**changes) -> dict:
    return {**_record("Encounter", 5, subject=MOTHER, encounterKind="pregnancy_checkup",
                      start="2026-06-01T10:00:00+09:00", end="2026-06-01T10:40:00+09:00",
                      clinic=CLINIC, payingMunicipality=CHIYODA, voucher=VOUCHER), **changes}


def observation(number: int = 6, **changes) -> dict:
    return {**_record("Observation", number, subject=MOTHER, encounter=ENCOUNTER,
                      effective="2026-06-01T10:10:00+09:00", measurement="blood_pressure",
                      systolic=118, diastolic=72), **changes}


def immunization(**changes) -> dict:
    return {**_record("Immunization", 7, subject=CHILD, vaccine="dpt_ipv_hib", doseNumber=1,
                      series="1期初回", lotNumber="AB123C", occurred="2026-10-05",
                      clinic=CLINIC), **changes}


def voucher(**changes) -> dict:
    return {**_record("CheckupVoucher", 8, subject=MOTHER, voucherKind="pregnancy_checkup",
                      sequence=5, issuer=CHIYODA, voucherNumber="131016-05",
                      validFrom="2026-01-10", validUntil="2027-01-09"), **changes}


def subsidy(**changes) -> dict:
    return {**_record("SubsidyCoverage", 9, subject=CHILD, payerNumber=PAYER,
                      recipientNumber=RECIPIENT, validFrom="2026-08-03",
                      validUntil="2027-03-31"), **changes}


MEASUREMENTS = {
    "body_weight": {"value": 58.4}, "body_height": {"value": 158.2},
    "blood_pressure": {"systolic": 118, "diastolic": 72}, "heart_rate": {"value": 78},
    "fetal_heart_rate": {"value": 142}, "fundal_height": {"value": 24.5},
    "abdominal_circumference": {"value": 86}, "head_circumference": {"value": 33.5},
    "gestational_age": {"weeks": 25, "days": 3}, "urine_protein": {"grade": "trace"},
    "urine_glucose": {"grade": "negative"}, "epds_total": {"value": 9},
    "oedema": {"grade": "1plus"}, "hearing_screening": {"hearing": "pass"},
    "development_item": {"checkupAge": "3_4m", "item": "head_control", "answer": "yes"},
    "hemoglobin": {"value": 11.8, "weeks": 10, "days": 2},
    "blood_glucose": {"value": 88, "weeks": 10, "days": 2},
    "blood_group": {"abo": "AB", "rhD": "negative", "weeks": 10, "days": 2},
    "irregular_antibodies": {"result": "negative", "weeks": 10, "days": 2},
    "hbs_antigen": {"result": "negative", "weeks": 10, "days": 2},
    "hcv_antibody": {"result": "negative", "weeks": 10, "days": 2},
    "hiv_antibody": {"result": "indeterminate", "weeks": 10, "days": 2},
    "syphilis": {"result": "negative", "weeks": 10, "days": 2},
    "rubella_hi": {"value": 8, "comparator": "<", "weeks": 10, "days": 2},
    "htlv1_antibody": {"result": "negative", "weeks": 24, "days": 0},
    "chlamydia": {"result": "positive", "weeks": 24, "days": 0},
    "gbs": {"result": "negative", "weeks": 34, "days": 1},
}


def observations() -> list[dict]:
    out = []
    for number, (kind, fields) in enumerate(MEASUREMENTS.items(), start=100):
        record = observation(number, measurement=kind)
        for key in ("systolic", "diastolic"):
            record.pop(key)
        out.append({**record, **fields})
    return out


def family() -> list[dict]:
    return [mother(), child(), link(), registration(), encounter(), immunization(), voucher(),
            subsidy(), *observations()]
