"""pmh records -> FHIR R4 -> pmh records loses nothing, for every record type, and the FHIR
side validates (fhir.resources R4B models, element for element R4 for these resources)."""

from __future__ import annotations

import orjson
import pytest
from fhir.resources.R4B.bundle import Bundle
from hypothesis import HealthCheck, given, settings

from domains.pmh.fhir import systems
from domains.pmh.fhir.bundle import export_bundle, import_bundle
from tests.domains.pmh import family
from tests.domains.pmh.strategies import families


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


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(families())
def test_generated_records_survive_the_round_trip(records):
    assert round_trip(records) == records



def _infant_growth(**child) -> list[dict]:
    # the girl born 2026-08-03, measured at 33 days: weight P50-P75, head below P3
    out = [family.child(**child)]
    for number, kind, value in ((120, "body_weight", 4.2), (121, "head_circumference", 32.0)):
        record = family.observation(number, subject=family.CHILD, measurement=kind,
                                    value=value, effective="2026-09-05")
        for key in ("systolic", "diastolic", "encounter"):
            record.pop(key)
        out.append(record)
    return out


def test_an_infants_growth_carries_its_band_and_the_round_trip_keeps_the_record():
    records = _infant_growth()
    bundle = export_bundle(records)
    weight, head = _by_type(bundle)["Observation"]
    [band] = weight["interpretation"][0]["coding"]
    assert (band["system"], band["version"], band["code"]) == (
        systems.GROWTH_BAND, "r5-2023", "P50-P75")
    [estimate] = [e for e in weight["extension"] if e["url"] == systems.EXT_GROWTH_PERCENTILE]
    assert 50 < estimate["valueDecimal"] < 75
    assert head["interpretation"][0]["coding"][0]["code"] == "<P3"
    assert "extension" not in head  # no estimate outside P3-P97
    assert round_trip(records) == records  # derived: read back as nothing


def test_a_child_of_a_sex_the_reference_lacks_gets_no_band():
    for resource in _by_type(export_bundle(_infant_growth(sex="unknown")))["Observation"]:
        assert "interpretation" not in resource and "extension" not in resource
