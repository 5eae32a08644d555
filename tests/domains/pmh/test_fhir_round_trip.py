"""pmh records -> FHIR R4 -> pmh records loses nothing, for every record type, and the FHIR
side validates (fhir.resources R4B models, element for element R4 for these resources)."""

from __future__ import annotations

import orjson
import pytest
from fhir.resources.R4B.bundle import Bundle
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from domains.pmh import vocab
from domains.pmh.fhir import systems
from domains.pmh.fhir.bundle import export_bundle, import_bundle
from domains.pmh.subsidy_numbers import with_check_digit
from tests.domains.pmh import family


def round_trip(records: list[dict]) -> list[dict]:
    bundle = export_bundle(records)
    Bundle.model_validate(bundle)  # the whole Bundle, as a FHIR R4(B) server would
    return import_bundle(orjson.loads(orjson.dumps(bundle)))


def test_the_family_survives_the_round_trip():
    records = family.family()
    assert round_trip(records) == records


def _by_type(bundle: dict) -> dict[str, list[dict]]:
    out: dict[str, list[dict]] = {}
    for entry in bundle["entry"]:
        out.setdefault(entry["resource"]["resourceType"], []).append(entry["resource"])
    return out


def test_the_fhir_side_is_shaped_as_jp_core_and_loinc_say():
    resources = _by_type(export_bundle(family.family()))
    mother = resources["Patient"][0]
    kanji, kana = mother["name"]
    assert kanji["extension"][0] == {"url": systems.EN_REPRESENTATION, "valueCode": "IDE"}
    assert (kanji["family"], kanji["given"]) == ("山田", ["花子"])
    assert kana["extension"][0]["valueCode"] == "SYL" and kana["family"] == "ヤマダ"
    assert mother["gender"] == "female" and mother["meta"]["versionId"] == "2"
    link = resources["RelatedPerson"][0]
    assert link["relationship"][0]["coding"][0]["code"] == "MTH"
    codes = {o["code"]["coding"][0]["code"] for o in resources["Observation"]}
    assert {"29463-7", "8302-2", "85354-9", "8867-4", "55283-6", "11881-0", "8280-0",
            "8287-5", "11884-4", "5804-0", "5792-7", "71354-5"} <= codes
    bp = next(o for o in resources["Observation"] if o["code"]["coding"][0]["code"] == "85354-9")
    assert [c["code"]["coding"][0]["code"] for c in bp["component"]] == ["8480-6", "8462-4"]
    assert bp["component"][0]["valueQuantity"] == {"value": 118, "unit": "mm[Hg]",
                                                   "system": systems.UCUM, "code": "mm[Hg]"}
    ga = next(o for o in resources["Observation"] if o["code"]["coding"][0]["code"] == "11884-4")
    assert ga["valueQuantity"]["value"] == 25 * 7 + 3 and ga["valueQuantity"]["code"] == "d"
    dose = resources["Immunization"][0]
    assert dose["protocolApplied"] == [{"doseNumberPositiveInt": 1, "series": "1期初回"}]
    assert dose["lotNumber"] == "AB123C"
    voucher, subsidy = sorted(resources["Coverage"],
                              key=lambda c: c["type"]["coding"][0]["code"])
    assert subsidy["type"]["coding"][0]["code"] == "public-subsidy"
    assert subsidy["payor"][0]["identifier"]["value"] == family.PAYER
    assert [c["type"]["coding"][0]["code"] for c in voucher["class"]] == ["plan", "sequence"]


def test_every_reference_resolves_inside_the_bundle():
    bundle = export_bundle(family.family())
    urls = {e["fullUrl"] for e in bundle["entry"]}
    found = []

    def walk(value):
        if isinstance(value, dict):
            if "reference" in value:
                found.append(value["reference"])
            for item in value.values():
                walk(item)
        elif isinstance(value, list):
            for item in value:
                walk(item)

    walk(bundle)
    assert found and set(found) <= urls


def test_export_refuses_a_record_whose_reference_would_dangle():
    from domains.pmh.errors import BundleRefused, PmhCode

    with pytest.raises(BundleRefused) as caught:
        export_bundle([family.mother(), family.encounter()])  # the voucher is left out
    [problem] = caught.value.details["problems"]
    assert problem["code"] == PmhCode.FHIR_REFERENCE and "$.voucher" in problem["path"]


# --------------------------------------------------------------------------- generated

KANJI = st.sampled_from(["山田", "佐藤", "鈴木", "髙橋", "渡邉", "齋藤", "花子", "美咲", "陽菜",
                         "蓮", "さくら", "結衣"])
KANA = st.text("アイウエオカキクケコサシスセソタチツテトナニヌネノハヒフヘホマミムメモヤユヨ"
               "ラリルレロワヲンガギグゲゴパピプペポャュョッー", min_size=1, max_size=8)
DATES = st.dates().map(lambda d: d.isoformat()).filter(lambda s: len(s) == 10)
CODE = st.sampled_from([family.CHIYODA, family.SAPPORO, {"code": "130001"}])
CLINIC = st.sampled_from([family.CLINIC, {"name": "つなぐ助産院"}, {"code": "0112345678"}])


def optional(**fields: st.SearchStrategy) -> st.SearchStrategy[dict]:
    return st.fixed_dictionaries({}, optional=fields)


def measurement_fields(kind: str) -> st.SearchStrategy[dict]:
    m = vocab.MEASUREMENTS[kind]
    if m.shape == "quantity":
        return st.fixed_dictionaries({"value": st.one_of(
            st.integers(int(m.low) + 1, int(m.high)),
            st.floats(m.low, m.high, allow_nan=False).map(lambda v: round(v, 2)))})
    if m.shape == "score":
        return st.fixed_dictionaries({"value": st.integers(int(m.low), int(m.high))})
    if m.shape == "bp":
        return st.integers(60, 260).flatmap(lambda s: st.fixed_dictionaries(
            {"systolic": st.just(s), "diastolic": st.integers(20, min(s - 1, 200))}))
    if m.shape == "ga":
        return st.fixed_dictionaries({"weeks": st.integers(0, 45), "days": st.integers(0, 6)})
    return st.fixed_dictionaries({m.shape: st.sampled_from(
        list(vocab.GRADES if m.shape == "grade" else vocab.HEARING_RESULTS))})


@st.composite
def families(draw) -> list[dict]:
    names = optional(familyName=KANJI, givenName=KANJI, familyNameKana=KANA,
                     givenNameKana=KANA)
    mother = family.mother(**draw(optional(address=st.just("大阪府大阪市北区1-1"))))
    for key in ("address", "version", "modified"):
        mother.pop(key)
    mother.update(familyName=draw(KANJI), givenName=draw(KANJI), birthDate=draw(DATES),
                  **draw(optional(version=st.integers(1, 99),
                                  modified=st.just("2026-05-01T09:00:00Z"))))
    for key in ("familyNameKana", "givenNameKana"):
        mother[key] = draw(KANA)
    child = {k: v for k, v in family.child().items() if not k.endswith("Name")
             and not k.endswith("Kana")}
    child.update(birthDate=draw(DATES), sex=draw(st.sampled_from(list(vocab.SEXES))),
                 **draw(names))
    kind = draw(st.sampled_from(list(vocab.MEASUREMENTS)))
    observation = {k: v for k, v in family.observation().items()
                   if k not in ("systolic", "diastolic", "encounter")}
    observation.update(measurement=kind, subject=draw(st.sampled_from([family.MOTHER,
                                                                       family.CHILD])),
                       effective=draw(st.sampled_from(["2026-06-01",
                                                       "2026-06-01T10:10:00+09:00"])),
                       **draw(measurement_fields(kind)),
                       **draw(optional(encounter=st.just(family.ENCOUNTER))))
    encounter = {k: v for k, v in family.encounter().items()
                 if k not in ("end", "clinic", "payingMunicipality", "voucher")}
    encounter.update(encounterKind=draw(st.sampled_from(list(vocab.ENCOUNTER_KINDS))),
                     **draw(optional(end=st.just("2026-06-01T11:00:00+09:00"), clinic=CLINIC,
                                     payingMunicipality=CODE,
                                     voucher=st.just(family.VOUCHER))))
    dose = {k: v for k, v in family.immunization().items()
            if k not in ("series", "lotNumber", "clinic")}
    dose.update(vaccine=draw(st.sampled_from(list(vocab.VACCINES))),
                doseNumber=draw(st.integers(1, 4)), occurred=draw(DATES),
                **draw(optional(series=st.sampled_from(["1期", "2期", "追加"]),
                                lotNumber=st.from_regex(r"[0-9A-Z]{1,10}", fullmatch=True),
                                clinic=CLINIC, encounter=st.just(family.ENCOUNTER))))
    voucher = {k: v for k, v in family.voucher().items()
               if k not in ("voucherNumber", "validFrom", "validUntil")}
    voucher.update(voucherKind=draw(st.sampled_from(list(vocab.VOUCHER_KINDS))),
                   sequence=draw(st.integers(1, 14)), issuer=draw(CODE),
                   **draw(optional(voucherNumber=st.from_regex(r"[0-9A-Za-z-]{1,20}",
                                                               fullmatch=True),
                                   validFrom=st.just("2026-01-01"),
                                   validUntil=st.just("2027-12-31"))))
    subsidy = family.subsidy(
        payerNumber=with_check_digit(draw(st.from_regex(r"[0-9]{7}", fullmatch=True))),
        recipientNumber=with_check_digit(draw(st.from_regex(r"[0-9]{6}", fullmatch=True))))
    if draw(st.booleans()):
        del subsidy["validUntil"]
    registration = family.registration(issuingMunicipality=draw(CODE))
    if draw(st.booleans()):
        del registration["handbookNumber"]
    return [mother, child, family.link(), registration, encounter, observation, dose,
            voucher, subsidy]


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(families())
def test_generated_records_survive_the_round_trip(records):
    assert round_trip(records) == records
