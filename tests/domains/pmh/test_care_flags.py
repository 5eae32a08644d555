"""The care flags pmh derives for disaster response: the weeks and months, who gets none,
and that a flag holds exactly the 4 items and one need (the schema refuses anything more)."""

from __future__ import annotations

from datetime import date, timedelta

import pytest

from domains.pmh.errors import PmhInputError
from domains.pmh.hub import care_flags
from domains.pmh.model.checks import check_record
from tests.domains.pmh import family

EDD = date(2026, 8, 7)


@pytest.mark.parametrize(("today", "weeks"), [
    (EDD, 40), (EDD - timedelta(days=1), 39), (EDD - timedelta(days=280), 0),
    (EDD - timedelta(days=67), 30), (EDD + timedelta(days=41), 45),
    (EDD + timedelta(days=42), None), (EDD - timedelta(days=281), None)])
def test_pregnancy_weeks_count_completed_weeks_from_the_expected_delivery(today, weeks):
    assert care_flags.pregnancy_weeks(EDD, today) == weeks


@pytest.mark.parametrize(("born", "today", "months"), [
    (date(2026, 1, 31), date(2026, 2, 27), 0), (date(2026, 1, 31), date(2026, 2, 28), 1),
    (date(2026, 8, 3), date(2026, 10, 2), 2), (date(2026, 8, 3), date(2027, 8, 1), 11),
    (date(2026, 8, 3), date(2027, 8, 2), None),  # reaches one year at the end of 8/2
    (date(2026, 8, 3), date(2026, 8, 2), None)])
def test_infant_months_are_the_months_reached_under_one_year(born, today, months):
    assert care_flags.infant_months(born, today) == months


def test_a_flag_holds_the_4_items_and_one_need_and_passes_the_schema():
    flag = care_flags.for_mother(family.mother(), EDD, date(2026, 6, 1))
    assert check_record(flag) == "CareFlag"
    assert set(flag) - {"@context", "id", "type"} == {
        "familyName", "givenName", "familyNameKana", "givenNameKana", "birthDate", "sex",
        "address", "pregnancyWeeks", "asOf"}
    assert flag["id"] == care_flags.flag_id(family.MOTHER) != family.MOTHER
    child = care_flags.for_child(family.child(), family.mother()["address"], date(2026, 10, 5))
    assert check_record(child) == "CareFlag" and child["infantAgeMonths"] == 2
    for extra in ({"infantAgeMonths": 2}, {"expectedDelivery": "2026-08-07"}):
        with pytest.raises(PmhInputError):
            check_record({**flag, **extra})  # never two needs, never another field


def test_no_flag_without_what_a_match_needs():
    today = date(2026, 10, 5)
    assert care_flags.for_child(family.child(sex="unknown"), "東京都千代田区一番町1-1",
                                today) is None
    assert care_flags.for_child(family.child(), None, today) is None  # no address
    unnamed = {k: v for k, v in family.child().items() if k != "givenName"}
    assert care_flags.for_child(unnamed, "東京都千代田区一番町1-1", today) is None
    assert care_flags.for_mother(family.mother(), EDD, EDD + timedelta(days=60)) is None
