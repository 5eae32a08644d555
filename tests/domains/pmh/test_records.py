"""pmh records: schemas, the checks a schema cannot say, and the content rules (no My Number)
that run on every connector that publishes or receives one."""

from __future__ import annotations

import pytest

from domains.japanese.mynumber import PersonalNumberRefused
from domains.pmh import plugin as pmh
from domains.pmh import vocab
from domains.pmh.errors import MeasurementImpossible, PmhCode, PmhInputError, SubsidyNumberInvalid
from domains.pmh.model.checks import check_record
from tests.domains.pmh import family

MY_NUMBER = "123456789018"  # 11 digits and a right check digit: My Number shaped


def _rule(record):
    return pmh.content_rules[vocab.type_iri(record["type"])]


@pytest.mark.parametrize("record", family.family(), ids=lambda r: r["type"] + r["id"][-3:])
def test_the_family_passes_its_schemas_and_rules(record):
    assert check_record(record) == record["type"]
    _rule(record)(record)


@pytest.mark.parametrize("changes, field", [
    ({"systolic": 500, "diastolic": 300}, "$.systolic"),
    ({"systolic": 120, "diastolic": 300}, "$.diastolic"),
    ({"systolic": 80, "diastolic": 90}, "$.systolic"),
    ({"measurement": "gestational_age", "weeks": 60, "days": 0}, "$.weeks"),
    ({"measurement": "gestational_age", "weeks": 30, "days": 7}, "$.days"),
    ({"measurement": "epds_total", "value": 31}, "$.value"),
    ({"measurement": "body_weight", "value": -2}, "$.value"),
    ({"measurement": "fundal_height", "value": 240}, "$.value"),
])
def test_impossible_measurements_are_refused_naming_the_field(changes, field):
    record = {k: v for k, v in family.observation(**changes).items()
              if changes.get("measurement") is None or k not in ("systolic", "diastolic")}
    with pytest.raises(MeasurementImpossible) as caught:
        check_record(record)
    assert caught.value.code == PmhCode.MEASUREMENT_IMPOSSIBLE
    assert caught.value.field == field
    with pytest.raises(MeasurementImpossible):
        _rule(record)(record)


def test_an_epds_score_must_be_whole():
    record = family.observation(measurement="epds_total", value=9.5)
    del record["systolic"], record["diastolic"]
    with pytest.raises(PmhInputError) as caught:
        check_record(record)
    assert caught.value.field == "$.value"


@pytest.mark.parametrize("field", ["payerNumber", "recipientNumber"])
def test_subsidy_numbers_with_wrong_check_digits_are_refused(field):
    good = family.subsidy()[field]
    record = family.subsidy(**{field: good[:-1] + str((int(good[-1]) + 1) % 10)})
    with pytest.raises(SubsidyNumberInvalid) as caught:
        check_record(record)
    assert caught.value.field == f"$.{field}" and good[:-1] not in str(caught.value)


def test_a_municipality_code_with_a_wrong_check_digit_is_refused():
    with pytest.raises(PmhInputError) as caught:
        check_record(family.voucher(issuer={"code": "131017", "name": "千代田区"}))
    assert caught.value.field == "$.issuer.code"


def test_dates_out_of_order_are_refused():
    with pytest.raises(PmhInputError) as caught:
        check_record(family.voucher(validFrom="2027-01-10", validUntil="2026-01-09"))
    assert caught.value.field == "$.validUntil"


def test_schema_failures_name_the_path():
    with pytest.raises(PmhInputError) as caught:
        check_record(family.mother(familyNameKana="yamada"))
    assert caught.value.field == "$.familyNameKana" and caught.value.code == PmhCode.RECORD_INVALID
    with pytest.raises(PmhInputError) as caught:
        check_record(family.voucher(sequence=15))
    assert caught.value.field == "$.sequence"


@pytest.mark.parametrize("record, path", [
    (family.mother(address=f"東京都千代田区一番町1-1 個人番号{MY_NUMBER}"), "$.address"),
    (family.mother(address="東京都千代田区 １２３４ ５６７８ ９０１８"), "$.address"),
    (family.registration(handbookNumber=MY_NUMBER), "$.handbookNumber"),
    (family.voucher(voucherNumber=MY_NUMBER), "$.voucherNumber"),
    (family.immunization(lotNumber=MY_NUMBER), "$.lotNumber"),
    (family.immunization(series=MY_NUMBER), "$.series"),
    (family.child(givenName=MY_NUMBER), "$.givenName"),
])
def test_a_my_number_is_refused_in_every_free_text_field(record, path):
    with pytest.raises(PersonalNumberRefused) as caught:
        _rule(record)(record)
    assert caught.value.field == path and MY_NUMBER not in str(caught.value.to_dict())


def test_ids_and_codes_are_not_mistaken_for_a_my_number():
    record = family.mother(id=f"urn:uuid:00000000-0000-4000-8000-{MY_NUMBER}")
    _rule(record)(record)


def test_subjects_name_the_people_a_record_is_about():
    subjects = pmh.record_subjects
    assert list(subjects[vocab.type_iri("Mother")](family.mother())) == [family.MOTHER]
    assert list(subjects[vocab.type_iri("MotherChildLink")](family.link())) == [family.MOTHER,
                                                                                family.CHILD]
    assert list(subjects[vocab.type_iri("Immunization")](family.immunization())) == [
        family.CHILD]
