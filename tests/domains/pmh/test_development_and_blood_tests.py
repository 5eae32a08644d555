"""Development items at infant checkups and pregnancy blood tests: the data files (items per
checkup age, standard periods per test) load and agree with the vocabulary; an item of
another checkup age or an impossible result is refused naming the field; FHIR carries
them as the documented codes and back."""

from __future__ import annotations

from pathlib import Path

import orjson
import pytest

from domains.pmh import vocab
from domains.pmh.errors import BundleRefused, MeasurementImpossible, PmhCode, PmhInputError
from domains.pmh.fhir import systems
from domains.pmh.fhir.bundle import export_bundle, import_bundle
from domains.pmh.model import blood_tests, development
from domains.pmh.model.checks import check_record
from tests.domains.pmh import family


def observation(kind: str, **fields) -> dict:
    record = family.observation(200, measurement=kind, **fields)
    del record["systolic"], record["diastolic"]
    return {**record, **fields}


def item(age: str, key: str, answer: str = "yes") -> dict:
    return observation("development_item", subject=family.CHILD, encounter=family.ENCOUNTER,
                       checkupAge=age, item=key, answer=answer)


def test_each_checkup_age_has_its_items_with_texts():
    found = development.items()
    assert set(found) == set(vocab.CHECKUP_AGES)
    assert {"head_control", "follows_with_eyes", "smiles_when_played_with"} <= set(found["3_4m"])
    assert {"walks_alone", "says_meaningful_words"} <= set(found["1y6m"])
    for age, listed in found.items():
        assert listed, age
        for it in listed.values():
            assert it.ja and it.en and it.polarity in development.POLARITIES


@pytest.mark.parametrize("text, wrong", [
    ('[ages."5y".items]\nx = { ja = "x", en = "x", polarity = "positive" }\n', "ages.5y"),
    ('[ages."3y".items]\nx = { ja = "x", en = "x", polarity = "maybe" }\n', "ages.3y.items.x"),
])
def test_an_items_file_with_an_unknown_age_or_polarity_is_refused(tmp_path: Path, text, wrong):
    bad = tmp_path / "items.toml"
    bad.write_text(text, encoding="utf-8")
    with pytest.raises(ValueError, match=wrong.replace(".", r"\.")):
        development.items(bad)


def test_each_age_names_the_voucher_of_its_checkup():
    assert development.vouchers() == {"1m": "infant_checkup_1m",
                                      "3_4m": "infant_checkup_3_4m",
                                      "1y6m": "infant_checkup_1y6m", "3y": "infant_checkup_3y"}


def test_a_development_answer_is_held_for_its_own_checkup_age():
    assert check_record(item("1y6m", "walks_alone", "no")) == "Observation"
    assert development.item("1y6m", "walks_alone").to_follow("no")
    assert development.item("3_4m", "eye_movement_concern").to_follow("yes")
    assert not development.item("3_4m", "head_control").to_follow("unknown")


@pytest.mark.parametrize("age, key", [("3_4m", "walks_alone"), ("1m", "head_control"),
                                      ("3y", "no_such_item")])
def test_an_item_of_another_checkup_age_is_refused(age, key):
    with pytest.raises(PmhInputError) as caught:
        check_record(item(age, key))
    assert (caught.value.code, caught.value.field) == (PmhCode.DEVELOPMENT_ITEM, "$.item")
    assert key not in caught.value.message  # names the field, not the value


def test_an_answer_is_yes_no_or_unknown():
    with pytest.raises(PmhInputError) as caught:
        check_record(item("3_4m", "head_control", "maybe"))
    assert caught.value.field == "$.answer"


def test_every_pregnancy_test_has_standard_periods():
    found = blood_tests.standards()
    assert set(found) == {k for k, m in vocab.MEASUREMENTS.items() if m.pregnancy_test}
    hb = found["hemoglobin"]
    assert hb.periods == ((0, 13), (24, 35), (36, 45))
    assert [hb.period_of(w) for w in (13, 14, 23, 24, 35, 36)] == [
        (0, 13), None, None, (24, 35), (24, 35), (36, 45)]
    gbs = found["gbs"]
    assert [gbs.period_of(w) for w in (32, 33, 37, 38)] == [None, (33, 37), (33, 37), None]
    assert found["htlv1_antibody"].period_of(30) and not found["htlv1_antibody"].period_of(31)


def test_a_standards_file_for_a_test_pmh_does_not_hold_is_refused(tmp_path: Path):
    bad = tmp_path / "tests.toml"
    bad.write_text('[tests.toxoplasma]\nja = "x"\nperiods = [[0, 13]]\nstandard = "x"\n',
                   encoding="utf-8")
    with pytest.raises(ValueError, match="tests.toxoplasma"):
        blood_tests.standards(bad)


@pytest.mark.parametrize("kind, fields, field", [
    ("hemoglobin", {"value": 40, "weeks": 10, "days": 0}, "$.value"),
    ("blood_glucose", {"value": 5, "weeks": 10, "days": 0}, "$.value"),
    ("hemoglobin", {"value": 11.5, "weeks": 60, "days": 0}, "$.weeks"),
    ("rubella_hi", {"value": 12, "weeks": 10, "days": 0}, "$.value"),
    ("rubella_hi", {"value": 16384, "weeks": 10, "days": 0}, "$.value"),
])
def test_impossible_blood_test_values_are_refused_naming_the_field(kind, fields, field):
    with pytest.raises(MeasurementImpossible) as caught:
        check_record(observation(kind, **fields))
    assert caught.value.field == field


def test_below_the_lowest_dilution_goes_only_with_it():
    assert check_record(observation("rubella_hi", value=8, comparator="<", weeks=9, days=0))
    with pytest.raises(PmhInputError) as caught:
        check_record(observation("rubella_hi", value=16, comparator="<", weeks=9, days=0))
    assert caught.value.field == "$.comparator"


def test_a_blood_test_names_the_gestational_age_it_was_taken_at():
    with pytest.raises(PmhInputError) as caught:
        check_record(observation("hbs_antigen", result="negative"))
    assert caught.value.field == "$" and "weeks" in caught.value.message


def _resources(records: list[dict]) -> dict[str, dict]:
    bundle = export_bundle(records)
    return {e["resource"]["identifier"][0]["value"]: e["resource"] for e in bundle["entry"]}


def test_fhir_codes_of_development_items_and_blood_tests():
    records = [family.mother(), family.child(), family.encounter(), family.voucher(),
               {**item("3_4m", "head_control"), "id": "urn:uuid:dev-1"},
               {**observation("blood_group", abo="O", rhD="positive", weeks=11, days=3),
                "id": "urn:uuid:bg-1"},
               {**observation("hiv_antibody", result="negative", weeks=11, days=3),
                "id": "urn:uuid:hiv-1"},
               {**observation("rubella_hi", value=8, comparator="<", weeks=11, days=3),
                "id": "urn:uuid:hi-1"}]
    found = _resources(records)
    dev = found["urn:uuid:dev-1"]
    assert dev["code"]["coding"][0] == {"system": systems.DEVELOPMENT, "code": "3_4m.head_control",
                                        "display": "Holds the head steady (head control)"}
    assert dev["valueCodeableConcept"]["coding"][0]["code"] == "yes"
    assert dev["category"][0]["coding"][0]["code"] == "survey"
    group = found["urn:uuid:bg-1"]
    assert group["code"]["coding"][0]["code"] == "882-1"
    assert [c["code"]["coding"][0]["code"] for c in group["component"]] == ["883-9", "10331-7"]
    assert group["extension"] == [{"url": systems.EXT_GESTATIONAL_AGE, "valueQuantity": {
        "value": 80, "unit": "d", "system": systems.UCUM, "code": "d"}}]
    assert found["urn:uuid:hiv-1"]["code"]["coding"][0]["code"] == "31201-7"
    assert found["urn:uuid:hi-1"]["valueQuantity"]["comparator"] == "<"
    back = import_bundle(orjson.loads(orjson.dumps(export_bundle(records))))
    assert back == records


def test_a_bundle_with_an_item_of_another_age_is_refused_at_its_code():
    record = item("3_4m", "head_control")
    bundle = export_bundle([family.mother(), family.child(), family.encounter(),
                            family.voucher(), record])
    for entry in bundle["entry"]:
        if entry["resource"]["resourceType"] == "Observation":
            entry["resource"]["code"]["coding"][0]["code"] = "1m.head_control"
    with pytest.raises(BundleRefused) as caught:
        import_bundle(bundle)
    problem = caught.value.details["problems"][0]
    assert problem["code"] == "pmh.development_item" and problem["path"].endswith(".code")


def test_a_blood_test_without_its_gestational_age_extension_is_refused():
    record = observation("gbs", result="positive", weeks=35, days=0)
    bundle = export_bundle([family.mother(), family.encounter(), family.voucher(), record])
    for entry in bundle["entry"]:
        entry["resource"].pop("extension", None)
    with pytest.raises(BundleRefused) as caught:
        import_bundle(bundle)
    problem = caught.value.details["problems"][0]
    assert problem["code"] == "pmh.fhir.missing" and problem["path"].endswith(".extension")
