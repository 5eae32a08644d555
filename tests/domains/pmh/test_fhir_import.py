"""A clinic's FHIR Bundle in: converted whole, or refused whole with every problem's path and
code, and nothing of the person in the error."""

from __future__ import annotations

import copy
import logging
from pathlib import Path

import orjson
import pytest

from domains.japanese.mynumber import PersonalNumberRefused
from domains.pmh.errors import BundleRefused, PmhCode
from domains.pmh.fhir.bundle import export_bundle, import_bundle
from tests.domains.pmh import family

FIXTURE = Path(__file__).parents[2] / "fixtures" / "pmh" / "clinic-bundle.json"
MY_NUMBER = "123456789018"


def clinic() -> dict:
    return orjson.loads(FIXTURE.read_bytes())


def entry(bundle: dict, resource_id: str) -> dict:
    return next(e["resource"] for e in bundle["entry"] if e["resource"]["id"] == resource_id)


def refused(bundle: dict) -> list[dict]:
    with pytest.raises(BundleRefused) as caught:
        import_bundle(bundle)
    return caught.value.details["problems"]


def test_a_clinic_bundle_without_pmh_identifiers_or_profiles_is_read():
    records = {r["id"].rsplit("/", 1)[-1]: r for r in import_bundle(clinic())}
    mother, child = records["p-100"], records["p-101"]
    assert mother["type"] == "Mother" and child["type"] == "Child"  # told by the link
    assert (mother["familyName"], mother["familyNameKana"]) == ("鈴木", "スズキ")  # hiragana
    assert (child["familyNameKana"], child["givenNameKana"]) == ("スズキ", "ハルト")  # half width
    assert "familyName" not in child
    assert records["rp-1"] == {**records["rp-1"], "mother": mother["id"], "child": child["id"]}
    bp = records["o-1"]
    assert (bp["measurement"], bp["systolic"], bp["diastolic"]) == ("blood_pressure", 124, 78)
    assert bp["encounter"] == records["e-7"]["id"]
    assert records["o-2"]["value"] == 6 and records["o-3"]["value"] == 3.94
    assert records["c-1"]["payerNumber"] == "88011002"
    assert records["e-7"]["clinic"] == {"code": "0112345678",
                                        "name": "札幌つなぐレディースクリニック"}


def test_what_is_imported_exports_and_imports_again_unchanged():
    records = import_bundle(clinic())
    assert import_bundle(export_bundle(records)) == records


def test_a_dangling_reference_refuses_the_bundle_with_its_path():
    bundle = clinic()
    entry(bundle, "o-2")["encounter"] = {"reference": "Encounter/e-404"}
    [problem] = refused(bundle)
    assert problem == {"path": "Bundle.entry[5].resource.encounter.reference",
                       "code": PmhCode.FHIR_REFERENCE,
                       "message": "Bundle.entry[5].resource.encounter.reference names no "
                                  "entry of the Bundle"}


def test_a_reference_to_the_wrong_kind_of_resource_is_refused():
    bundle = clinic()
    entry(bundle, "o-3")["subject"] = {"reference": "Encounter/e-7"}
    [problem] = refused(bundle)
    assert problem["path"] == "Bundle.entry[6].resource.subject.reference"
    assert problem["code"] == PmhCode.FHIR_REFERENCE


def test_invalid_resources_are_refused_with_every_path():
    bundle = clinic()
    entry(bundle, "p-101")["birthDate"] = "2026-13-40"
    entry(bundle, "o-3")["status"] = "maybe"
    entry(bundle, "e-7")["unknownElement"] = True
    problems = refused(bundle)
    assert {(p["path"], p["code"]) for p in problems} == {
        ("Bundle.entry[1].resource.birthDate", PmhCode.FHIR_INVALID),
        ("Bundle.entry[6].resource.status", PmhCode.FHIR_INVALID),
        ("Bundle.entry[3].resource.unknownElement", PmhCode.FHIR_INVALID)}


def test_an_unsupported_resource_and_a_broken_bundle_are_refused():
    bundle = clinic()
    bundle["entry"].append({"fullUrl": "urn:uuid:5c3f1e7a-0000-4000-8000-000000000001",
                            "resource": {"resourceType": "Condition", "id": "x"}})
    [problem] = refused(bundle)
    assert problem["path"] == "Bundle.entry[8].resource.resourceType"
    assert problem["code"] == PmhCode.FHIR_UNSUPPORTED
    assert refused({"resourceType": "Bundle", "type": "nonsense"})[0]["path"] == "Bundle.type"
    assert refused({"resourceType": "Patient"})[0]["code"] == PmhCode.FHIR_INVALID


@pytest.mark.parametrize("change, path, code", [
    (lambda b: entry(b, "c-1")["payor"][0]["identifier"].update(value="88011003"),
     "Bundle.entry[7].resource.payor[0].identifier.value", PmhCode.SUBSIDY_NUMBER_INVALID),
    (lambda b: entry(b, "c-1")["identifier"][0].update(value="2345677"),
     "Bundle.entry[7].resource.identifier[0].value", PmhCode.SUBSIDY_NUMBER_INVALID),
    (lambda b: entry(b, "o-1")["component"][0]["valueQuantity"].update(value=500),
     "Bundle.entry[4].resource.component[0].valueQuantity.value",
     PmhCode.MEASUREMENT_IMPOSSIBLE),
    (lambda b: entry(b, "o-1")["component"][1]["valueQuantity"].update(value=300),
     "Bundle.entry[4].resource.component[1].valueQuantity.value",
     PmhCode.MEASUREMENT_IMPOSSIBLE),
    (lambda b: entry(b, "o-2").update(valueInteger=31),
     "Bundle.entry[5].resource.valueInteger", PmhCode.MEASUREMENT_IMPOSSIBLE),
    (lambda b: entry(b, "o-3").update(
        code={"coding": [{"system": "http://loinc.org", "code": "11884-4"}]},
        valueQuantity={"value": 60, "unit": "wk", "system": "http://unitsofmeasure.org",
                       "code": "wk"}),
     "Bundle.entry[6].resource.valueQuantity.value", PmhCode.MEASUREMENT_IMPOSSIBLE),
    (lambda b: entry(b, "o-3")["valueQuantity"].update(code="g", unit="g"),
     "Bundle.entry[6].resource.valueQuantity.code", PmhCode.FHIR_UNSUPPORTED),
    (lambda b: entry(b, "rp-1").pop("extension"),
     "Bundle.entry[2].resource.extension", PmhCode.FHIR_MISSING),
])
def test_bad_values_are_refused_at_the_fhir_element(change, path, code):
    bundle = clinic()
    change(bundle)
    problems = refused(bundle)
    assert (path, code) in [(p["path"], p["code"]) for p in problems]


def test_every_problem_is_listed_and_nothing_is_returned_half():
    bundle = clinic()
    entry(bundle, "o-2")["valueInteger"] = 31
    entry(bundle, "c-1")["payor"][0]["identifier"]["value"] = "88011003"
    entry(bundle, "o-3")["subject"] = {"reference": "Patient/nobody"}
    problems = refused(bundle)
    assert [p["path"] for p in problems] == [
        "Bundle.entry[5].resource.valueInteger",
        "Bundle.entry[6].resource.subject.reference",
        "Bundle.entry[7].resource.payor[0].identifier.value"]


@pytest.mark.parametrize("contained", [[{"resourceType": "Nope"}], [{"resourceType": 5}]])
def test_a_contained_resource_of_no_known_kind_is_refused_not_a_crash(contained):
    bundle = clinic()
    entry(bundle, "p-100")["contained"] = contained
    [problem] = refused(bundle)
    assert problem["path"] == "Bundle.entry[0].resource"
    assert problem["code"] == PmhCode.FHIR_INVALID


def test_a_bundle_nested_too_deep_is_refused_before_any_recursive_check():
    bundle = clinic()
    deep: dict = {"url": "https://x.example/e", "valueString": "x"}
    for _ in range(500):
        deep = {"url": "https://x.example/e", "extension": [deep]}
    entry(bundle, "p-100")["extension"] = [deep]
    [problem] = refused(bundle)
    assert problem["path"] == "Bundle" and problem["code"] == PmhCode.FHIR_INVALID


def test_a_patient_neither_linked_nor_profiled_is_refused():
    bundle = clinic()
    bundle["entry"] = [e for e in bundle["entry"] if e["resource"]["id"] in ("p-101", "o-3")]
    [problem] = refused(bundle)
    assert problem["path"] == "Bundle.entry[0].resource.meta.profile"
    assert problem["code"] == PmhCode.FHIR_UNSUPPORTED


@pytest.mark.parametrize("place", [
    lambda b: entry(b, "p-100").setdefault("identifier", []).append(
        {"system": "urn:oid:1.2.392.100495.20.3.99", "value": MY_NUMBER}),
    lambda b: entry(b, "p-100")["telecom"].append({"system": "other",
                                                   "value": "1234 5678 9018"}),
    lambda b: entry(b, "o-2").update(note=[{"text": f"個人番号 {MY_NUMBER}"}]),
])
def test_a_my_number_anywhere_refuses_the_whole_bundle(place):
    bundle = clinic()
    place(bundle)
    with pytest.raises(PersonalNumberRefused) as caught:
        import_bundle(bundle)
    assert caught.value.field.startswith("Bundle.entry[")
    assert MY_NUMBER not in str(caught.value.to_dict()) and "9018" not in str(caught.value)


def test_record_ids_that_look_like_numbers_are_not_a_my_number():
    records = family.family()
    records[0] = family.mother(id=f"urn:uuid:00000000-0000-4000-8000-{MY_NUMBER}")
    records[2] = family.link(mother=records[0]["id"])
    bundle = export_bundle([r for r in records if r.get("mother", r.get("subject"))
                            != family.MOTHER or r["type"] == "MotherChildLink"])
    assert import_bundle(bundle)


def test_no_value_of_the_person_reaches_an_error_or_a_log(caplog):
    bundle = clinic()
    entry(bundle, "p-100")["birthDate"] = "1996-19-14"
    entry(bundle, "c-1")["identifier"][0]["value"] = "2345677"
    with caplog.at_level(logging.DEBUG):
        with pytest.raises(BundleRefused) as caught:
            import_bundle(copy.deepcopy(bundle))
    said = str(caught.value) + orjson.dumps(caught.value.to_dict()).decode() + caplog.text
    for value in ("鈴木", "美咲", "1996-19-14", "2345677", "090-0000-0000", "北海道"):
        assert value not in said
