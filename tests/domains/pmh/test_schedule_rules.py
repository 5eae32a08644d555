"""Hand-checked cases of the routine schedule: windows of a month-end birth computed by hand,
the 五種混合 switch on 2024-04-01 and the continuation of 四種混合 series, product and
start-age series, the MR 2期 April 1 / April 2 cohorts, HPV, versioned rules, birth cohorts,
reminders, refusals with their codes, and the table checks a municipality's edit meets."""

from __future__ import annotations

from datetime import date, timedelta
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from domains.pmh.errors import PmhCode
from domains.pmh.schedule import (
    ROUTINE,
    Child,
    Dose,
    DoseRefused,
    Reason,
    ScheduleInvalid,
    State,
    check_dose,
    due_on,
    evaluate,
    load_schedule,
)
from domains.pmh.schedule.reminders import EVENT_TYPE, reminder_events
from trust.errors import ValidationError

D = date
ONE = timedelta(days=1)
S = load_schedule()
HARD_STOP = ROUTINE.with_name("overrides") / "rotavirus_first_dose_hard_stop.toml"


def statuses(child, doses, day, schedule=S):
    return {s.vaccine: s for s in evaluate(child, doses, day, schedule)}


# ---------------------------------------------------------------- windows computed by hand

# Born 2024-08-31 (a month end): (earliest, due, overdue_from, last) of each first dose.
# 2m: 10/31 exists -> 10/30. 6m: no 2/31 -> 2025-02-28. 8m: no 4/31 -> 2025-04-30.
# 15m: no 11/31 -> 2025-11-30. 90m: no 2032-02-31 -> 2032-02-29. <13y: 2037-08-29.
# School entry: reaches 6 on 2030-08-30 -> 2031-04-01. Reaches 12 on 2036-08-30 (年度 2036).
BY_HAND = {
    "rotavirus": (D(2024, 10, 12), D(2024, 10, 30), D(2024, 12, 14), D(2025, 2, 15)),
    "hepb": (D(2024, 8, 31), D(2024, 10, 30), D(2025, 5, 31), D(2025, 8, 30)),
    "pcv": (D(2024, 10, 30), D(2024, 10, 30), D(2025, 3, 31), D(2029, 8, 30)),
    "dpt_ipv": (D(2024, 10, 30), D(2024, 10, 30), D(2025, 3, 31), D(2032, 2, 29)),
    "bcg": (D(2024, 8, 31), D(2025, 1, 30), D(2025, 5, 1), D(2025, 8, 30)),
    "mr1": (D(2025, 8, 30), D(2025, 8, 30), None, D(2026, 8, 30)),  # no standard period
    "mr2": (D(2030, 4, 1), D(2030, 4, 1), None, D(2031, 3, 31)),
    "varicella": (D(2025, 8, 30), D(2025, 8, 30), D(2025, 12, 1), D(2027, 8, 30)),
    "je1": (D(2025, 2, 28), D(2027, 8, 30), D(2028, 8, 31), D(2032, 2, 29)),
    "je2": (D(2033, 8, 30), D(2033, 8, 30), D(2034, 8, 31), D(2037, 8, 29)),
    "dt2": (D(2035, 8, 30), D(2035, 8, 30), D(2036, 8, 31), D(2037, 8, 29)),
    "hpv": (D(2036, 4, 1), D(2037, 4, 1), D(2038, 4, 1), D(2041, 3, 31)),
}


def test_first_dose_windows_of_a_month_end_birth_match_the_hand_computed_dates():
    found = statuses(Child(D(2024, 8, 31), "female"), [], D(2024, 9, 1))
    assert set(found) == set(BY_HAND)  # no Hib: the child is on 五種混合
    for vaccine, (earliest, due, overdue_from, last) in BY_HAND.items():
        s = found[vaccine]
        assert (s.earliest, s.due, s.overdue_from, s.last) == (earliest, due, overdue_from,
                                                                last), vaccine


# ---------------------------------------------------------------- 五種混合 from 2024-04-01

JAN = Child(D(2024, 1, 15), "male")


def test_pentavalent_doses_are_routine_from_2024_04_01():
    before = check_dose(JAN, [], Dose("dpt_ipv_hib", 1, D(2024, 3, 31)), S)
    assert (before.accepted, before.reason, before.code, before.limit) == \
        (False, Reason.EFFECTIVE_FROM, PmhCode.DOSE_NOT_ROUTINE, D(2024, 4, 1))
    on = check_dose(JAN, [], Dose("dpt_ipv_hib", 1, D(2024, 4, 1)), S)
    assert (on.accepted, on.rule_id) == (True, "dpt_ipv.five.1")


def test_a_quadrivalent_series_starts_by_2024_03_31_and_continues_with_the_same_vaccines():
    started = check_dose(JAN, [], Dose("dpt_ipv", 1, D(2024, 3, 31)), S)
    assert (started.accepted, started.rule_id) == (True, "dpt_ipv.four.1")
    late = check_dose(JAN, [], Dose("dpt_ipv", 1, D(2024, 4, 1)), S)
    assert (late.accepted, late.reason, late.code) == \
        (False, Reason.SERIES, PmhCode.DOSE_NOT_IN_SERIES)
    doses = [Dose("dpt_ipv", 1, D(2024, 3, 20)), Dose("hib", 1, D(2024, 3, 20))]
    switched = check_dose(JAN, doses, Dose("dpt_ipv_hib", 2, D(2024, 4, 20)), S)
    assert (switched.accepted, switched.reason, switched.rule_id) == \
        (False, Reason.SERIES, "dpt_ipv.four")
    assert check_dose(JAN, doses, Dose("dpt_ipv", 2, D(2024, 4, 20)), S).rule_id == \
        "dpt_ipv.four.2"
    found = statuses(JAN, doses, D(2024, 4, 20))
    assert (found["dpt_ipv"].series, found["dpt_ipv"].dose) == ("dpt_ipv.four", 2)
    assert (found["hib"].rule_id, found["hib"].state) == ("hib.standard.2", State.DUE)
    five = statuses(JAN, [Dose("dpt_ipv_hib", 1, D(2024, 4, 1))], D(2024, 4, 20))
    assert "hib" not in five and five["dpt_ipv"].series == "dpt_ipv.five"


def test_intervals_count_clear_days_and_same_days_of_later_months():
    child = Child(D(2025, 1, 20), "male")
    d1 = Dose("dpt_ipv_hib", 1, D(2025, 4, 1))
    s = statuses(child, [d1], D(2025, 4, 21))["dpt_ipv"]  # 20日以上, 標準的には56日まで
    assert (s.state, s.earliest, s.due, s.overdue_from) == \
        (State.NOT_YET_ALLOWED, D(2025, 4, 22), D(2025, 4, 22), D(2025, 5, 29))
    assert statuses(child, [d1], D(2025, 5, 28))["dpt_ipv"].state is State.DUE
    doses = [d1, Dose("dpt_ipv_hib", 2, D(2025, 4, 22)), Dose("dpt_ipv_hib", 3, D(2025, 6, 10))]
    s = statuses(child, doses, D(2025, 12, 9))["dpt_ipv"]  # 6月以上, 標準的には18月まで
    assert (s.dose, s.state, s.earliest, s.overdue_from) == \
        (4, State.NOT_YET_ALLOWED, D(2025, 12, 10), D(2026, 12, 11))
    assert statuses(child, doses, D(2026, 12, 10))["dpt_ipv"].state is State.DUE
    assert statuses(child, doses, D(2026, 12, 11))["dpt_ipv"].state is State.OVERDUE


def test_hib_alone_is_refused_beside_a_pentavalent_series():
    doses = [Dose("dpt_ipv_hib", 1, D(2024, 4, 1))]
    d = check_dose(JAN, doses, Dose("hib", 1, D(2024, 4, 1)), S)
    assert (d.accepted, d.reason, d.code) == (False, Reason.COHORT, PmhCode.DOSE_NOT_ROUTINE)


# ---------------------------------------------------------------- rotavirus

BABY = Child(D(2025, 1, 31), "female")  # 6w0d 2025-03-14, 14w6d 2025-05-15, 24w0d 07-18


def test_rotavirus_series_follow_the_product_of_the_first_dose():
    rotateq = [Dose("rotavirus", 1, D(2025, 3, 14), "rotateq"),
               Dose("rotavirus", 2, D(2025, 4, 11), "rotateq")]
    third = Dose("rotavirus", 3, D(2025, 5, 9), "rotateq")
    assert check_dose(BABY, rotateq, third, S).rule_id == "rotavirus.rotateq.3"
    rotarix = [Dose("rotavirus", n, d.date, "rotarix") for n, d in enumerate(rotateq, 1)]
    done = check_dose(BABY, rotarix, Dose("rotavirus", 3, D(2025, 5, 9), "rotarix"), S)
    assert (done.accepted, done.reason) == (False, Reason.SERIES_COMPLETE)
    assert statuses(BABY, rotarix, D(2025, 5, 9))["rotavirus"].state is State.COMPLETE
    mixed = check_dose(BABY, rotarix[:1], Dose("rotavirus", 2, D(2025, 4, 11), "rotateq"), S)
    assert (mixed.accepted, mixed.reason) == (False, Reason.SERIES)
    # RotaTeq's window runs to 32w0d (2025-09-11), Rotarix's to 24w0d (2025-07-18).
    assert check_dose(BABY, rotateq, Dose("rotavirus", 3, D(2025, 9, 11), "rotateq"), S).accepted
    late = check_dose(BABY, rotarix[:1], Dose("rotavirus", 2, D(2025, 7, 19), "rotarix"), S)
    assert (late.reason, late.limit) == (Reason.WINDOW_TO, D(2025, 7, 18))


def test_rotavirus_first_dose_after_14w6d_is_overdue_or_refused_by_municipal_setting():
    first = Dose("rotavirus", 1, D(2025, 5, 16), "rotarix")  # 出生14週6日後 + 1
    assert check_dose(BABY, [], first, S).accepted
    assert statuses(BABY, [], D(2025, 5, 16))["rotavirus"].state is State.OVERDUE
    assert statuses(BABY, [], D(2025, 5, 15))["rotavirus"].state is State.DUE
    strict = load_schedule(HARD_STOP)
    refused = check_dose(BABY, [], first, strict)
    assert (refused.reason, refused.rule_id, refused.limit) == \
        (Reason.WINDOW_TO, "rotavirus.rotarix.1", D(2025, 5, 15))
    assert check_dose(BABY, [], Dose("rotavirus", 1, D(2025, 5, 15), "rotarix"), strict).accepted
    assert statuses(BABY, [], D(2025, 5, 16), strict)["rotavirus"].state is \
        State.NO_LONGER_PUBLIC
    # The second dose keeps the national window.
    second = check_dose(BABY, [Dose("rotavirus", 1, D(2025, 5, 15), "rotarix")],
                        Dose("rotavirus", 2, D(2025, 7, 18), "rotarix"), strict)
    assert second.accepted


def test_a_dose_too_soon_is_refused_with_the_interval_rule_and_raises_with_its_code():
    d1 = Dose("rotavirus", 1, D(2025, 3, 14), "rotarix")
    soon = check_dose(BABY, [d1], Dose("rotavirus", 2, D(2025, 4, 10), "rotarix"), S)
    assert (soon.reason, soon.code, soon.rule_id, soon.limit) == \
        (Reason.MIN_INTERVAL, PmhCode.DOSE_TOO_SOON, "rotavirus.rotarix.2", D(2025, 4, 11))
    assert "間隔" in soon.ja and "too soon" in soon.en
    with pytest.raises(DoseRefused) as caught:
        soon.raise_if_refused()
    assert caught.value.code is PmhCode.DOSE_TOO_SOON
    assert caught.value.details["rule"] == "rotavirus.rotarix.2"
    check_dose(BABY, [d1], Dose("rotavirus", 2, D(2025, 4, 11), "rotarix"), S).raise_if_refused()


# ---------------------------------------------------------------- pneumococcal

PCV_CHILD = Child(D(2024, 5, 10), "male")  # 7m: 2024-12-09, 12m: 2025-05-09, 24m: 2026-05-09


def test_pcv_series_follows_the_age_at_the_first_dose():
    def first(day):
        return check_dose(PCV_CHILD, [], Dose("pcv", 1, day), S).rule_id
    assert first(D(2024, 12, 9)) == "pcv.standard.1"
    assert first(D(2024, 12, 10)) == "pcv.from7m.1"
    assert first(D(2025, 5, 9)) == "pcv.from7m.1"
    assert first(D(2025, 5, 10)) == "pcv.from12m.1"
    assert first(D(2026, 5, 10)) == "pcv.from24m.1"


def test_pcv_primary_doses_after_24_months_are_passed_over_for_the_booster():
    doses = [Dose("pcv", 1, D(2024, 7, 9)), Dose("pcv", 2, D(2024, 8, 6))]
    at_24m = statuses(PCV_CHILD, doses, D(2026, 5, 9))["pcv"]
    assert (at_24m.dose, at_24m.state) == (3, State.OVERDUE)
    after = statuses(PCV_CHILD, doses, D(2026, 5, 10))["pcv"]
    assert (after.dose, after.rule_id, after.state) == (4, "pcv.standard.4", State.OVERDUE)
    third = check_dose(PCV_CHILD, doses, Dose("pcv", 3, D(2026, 5, 10)), S)
    assert (third.accepted, third.reason, third.rule_id) == \
        (False, Reason.DOSE_NUMBER, "pcv.standard.4")
    assert check_dose(PCV_CHILD, doses, Dose("pcv", 4, D(2026, 5, 10)), S).accepted


def test_a_course_never_started_closes_with_the_last_window():
    s = statuses(PCV_CHILD, [], D(2029, 5, 10))["pcv"]  # 60m reached on 2029-05-09
    assert (s.state, s.reason, s.rule_id, s.last) == \
        (State.NO_LONGER_PUBLIC, Reason.WINDOW_TO, "pcv.from24m.1", D(2029, 5, 9))
    s = statuses(PCV_CHILD, [], D(2029, 5, 9))["pcv"]
    assert (s.state, s.rule_id) == (State.DUE, "pcv.from24m.1")
    late = check_dose(JAN, [], Dose("dpt_ipv", 1, D(2024, 5, 1)), S)
    found = statuses(JAN, [Dose("dpt_ipv", 1, D(2024, 5, 1))], D(2024, 6, 1))["dpt_ipv"]
    assert (late.reason, found.state, found.reason) == \
        (Reason.SERIES, State.NO_LONGER_PUBLIC, Reason.SERIES)


def test_doses_numbered_past_their_series_are_complete_not_an_error():
    # Recorded as a 3+1 series, but the first dose came after 7 months (a 2+1 series).
    doses = [Dose("pcv", n, D(2024, 12, 10) + timedelta(days=60 * n)) for n in range(1, 5)]
    s = statuses(PCV_CHILD, doses, D(2026, 1, 1))["pcv"]
    assert (s.state, s.series, s.dose, s.rule_id) == \
        (State.COMPLETE, "pcv.from7m", 3, "pcv.from7m.3")


# ---------------------------------------------------------------- MR 2期, HPV

@pytest.mark.parametrize(("birth", "first", "last"), [
    (D(2019, 4, 1), D(2024, 4, 1), D(2025, 3, 31)),  # enters school 2025-04-01
    (D(2019, 4, 2), D(2025, 4, 1), D(2026, 3, 31)),  # a year later
])
def test_mr_stage_2_is_the_school_year_before_entry(birth, first, last):
    child = Child(birth, "male")
    for day, ok in ((first - ONE, False), (first, True), (last, True), (last + ONE, False)):
        assert check_dose(child, [], Dose("mr2", 1, day), S).accepted is ok, day


def test_hpv_is_for_girls_and_the_series_follows_the_age_at_the_first_dose():
    boy = Child(D(2012, 6, 10), "male")
    assert "hpv" not in statuses(boy, [], D(2025, 6, 1))
    refused = check_dose(boy, [], Dose("hpv", 1, D(2025, 6, 1), "gardasil9"), S)
    assert (refused.reason, refused.code) == (Reason.COHORT, PmhCode.DOSE_NOT_ROUTINE)
    girl = Child(D(2010, 6, 10), "female")  # reaches 15 on 2025-06-09: under 15 to 06-08
    two = check_dose(girl, [], Dose("hpv", 1, D(2025, 6, 8), "gardasil9"), S)
    three = check_dose(girl, [], Dose("hpv", 1, D(2025, 6, 9), "gardasil9"), S)
    assert (two.rule_id, three.rule_id) == ("hpv.nine_two.1", "hpv.nine_three.1")


def test_hpv_begun_under_15_ends_after_2_doses_5_months_apart_or_needs_a_third():
    girl = Child(D(2012, 6, 10), "female")
    d1 = Dose("hpv", 1, D(2025, 5, 10), "gardasil9")
    two = [d1, Dose("hpv", 2, D(2025, 10, 10), "gardasil9")]  # the same day 5 months later
    s = statuses(girl, two, D(2025, 10, 11))["hpv"]
    assert (s.state, s.dose, s.rule_id) == (State.COMPLETE, 2, "hpv.nine_two.2")
    third = check_dose(girl, two, Dose("hpv", 3, D(2026, 1, 10), "gardasil9"), S)
    assert (third.accepted, third.reason) == (False, Reason.SERIES_COMPLETE)
    early = [d1, Dose("hpv", 2, D(2025, 10, 9), "gardasil9")]  # a day short of 5 months
    s = statuses(girl, early, D(2025, 10, 11))["hpv"]
    assert (s.state, s.dose, s.earliest) == (State.NOT_YET_ALLOWED, 3, D(2026, 1, 9))
    assert check_dose(girl, early, Dose("hpv", 3, D(2026, 1, 9), "gardasil9"), S).accepted
    # The 3-dose schedule (0, 2, 6 months) from the start is allowed under 15 too.
    assert check_dose(girl, [d1], Dose("hpv", 2, D(2025, 7, 10), "gardasil9"), S).accepted
    soon = check_dose(girl, [d1], Dose("hpv", 2, D(2025, 6, 9), "gardasil9"), S)
    assert (soon.reason, soon.limit) == (Reason.MIN_INTERVAL, D(2025, 6, 10))


# ---------------------------------------------------------------- versions and cohorts

def test_a_rule_applies_to_doses_given_on_or_after_its_effective_date():
    child = Child(D(2012, 10, 15), "female")  # 6m: 2013-04-14
    old = check_dose(child, [], Dose("bcg", 1, D(2013, 3, 31)), S)
    assert old.accepted and old.rule_id == "bcg.once.1"
    # Under the 2005 version the window closed at 6 months; from 2013-04-01, at age 1.
    assert check_dose(child, [], Dose("bcg", 1, D(2013, 9, 1)), S).accepted
    earlier = Child(D(2012, 8, 15), "female")  # 6m: 2013-02-14
    refused = check_dose(earlier, [], Dose("bcg", 1, D(2013, 2, 15)), S)
    assert (refused.reason, refused.limit) == (Reason.WINDOW_TO, D(2013, 2, 14))


def test_quadrivalent_doses_from_2_months_only_from_2023_04_01():
    child = Child(D(2023, 1, 10), "male")  # 2m: 2023-03-09, 3m: 2023-04-09
    before = check_dose(child, [], Dose("dpt_ipv", 1, D(2023, 3, 31)), S)
    assert (before.reason, before.rule_id, before.limit) == \
        (Reason.WINDOW_FROM, "dpt_ipv.four.1", D(2023, 4, 9))
    assert check_dose(child, [], Dose("dpt_ipv", 1, D(2023, 4, 1)), S).accepted


def test_birth_cohorts():
    for birth, covered in ((D(2020, 7, 31), False), (D(2020, 8, 1), True)):
        child = Child(birth, "male")
        day = D(2020, 10, 1)  # the day rotavirus became routine
        assert ("rotavirus" in statuses(child, [], day)) is covered
        d = check_dose(child, [], Dose("rotavirus", 1, day, "rotarix"), S)
        assert d.accepted is covered


def test_children_and_doses_are_checked_when_made():
    for make in (lambda: Child(D(2025, 1, 1), "F"), lambda: Child("2025-01-01", "female"),
                 lambda: Dose("mr1", 0, D(2026, 1, 1)), lambda: Dose("mr1", 1, "2026-01-01")):
        with pytest.raises(ValidationError):
            make()


def test_unknown_vaccines_are_not_routine():
    d = check_dose(BABY, [], Dose("influenza", 1, D(2025, 10, 1)), S)
    assert (d.accepted, d.reason, d.code) == (False, Reason.UNKNOWN_VACCINE,
                                              PmhCode.DOSE_NOT_ROUTINE)


# ---------------------------------------------------------------- reminders, texts

def test_reminders_go_out_on_the_day_a_dose_becomes_due():
    assert due_on(BABY, [], D(2025, 3, 29), S) == []  # 2m is reached on 2025-03-30
    assert due_on(BABY, [], D(2025, 3, 14), S) == []  # rotavirus allowed from 6w0d, not due
    due = {s.rule_id for s in due_on(BABY, [], D(2025, 3, 30), S)}
    assert due == {"rotavirus.rotarix.1", "hepb.routine.1", "pcv.standard.1", "dpt_ipv.five.1"}
    assert due_on(BABY, [], D(2025, 3, 31), S) == []
    d1 = Dose("rotavirus", 1, D(2025, 3, 30), "rotarix")
    assert [s.rule_id for s in due_on(BABY, [d1], D(2025, 4, 27), S)] == ["rotavirus.rotarix.2"]
    (event,) = [e for e in reminder_events(BABY, [], D(2025, 3, 30), S)
                if e["vaccine"] == "rotavirus"]
    assert event["type"] == EVENT_TYPE and event["dose"] == 1
    assert event["overdue_from"] == "2025-05-16" and "ロタウイルス" in event["text_ja"]


def test_statuses_explain_themselves_in_japanese_and_english_with_the_rule():
    s = statuses(BABY, [], D(2025, 3, 30))["rotavirus"]
    assert "ロタウイルス感染症 1回目: 接種時期です" in s.ja and "rotavirus.rotarix.1" in s.ja
    assert "2025年5月16日から標準期間外" in s.ja and "出生6週0日後" in s.ja
    assert "due" in s.en and "rule rotavirus.rotarix.1" in s.en


# ---------------------------------------------------------------- the table

def _override(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "city.toml"
    path.write_text(text, encoding="utf-8")
    return path


@pytest.mark.parametrize(("text", "names"), [
    ('[[rule]]\nid = "mr1.once.1"\nto = "2 years"\n', ("mr1.once.1", "'to'", "age expression")),
    ('[[rule]]\nid = "mr1.once.1"\nwindow = "1y"\n', ("mr1.once.1", "'window'", "unknown field")),
    ('[[rule]]\nid = "mr1.once.1"\nto = "6m"\n', ("mr1.once.1", "'to'", "closes before")),
    ('[[rule]]\nid = "bcg.once.1"\ndose = "1"\n', ("bcg.once.1", "'dose'", "must be a int")),
    ('[[rule]]\nid = "hepb.routine.3"\ninterval = [{ after = 3, min_days = 139 }]\n',
     ("hepb.routine.3", "interval.after", "earlier dose number")),
    ('[[rule]]\nid = "hepb.routine.2"\ninterval = [{ after = 1, standard_max_days = 9 }]\n',
     ("hepb.routine.2", "'interval'", "minimum interval")),
    ('[[rule]]\nid = "new.rule"\nseries = "nowhere"\ndose = 1\nfrom = "1y"\nto = "2y"\n'
     'effective_from = 2026-04-01\nsource = "x"\n', ("new.rule", "'series'", "names no series")),
    ('[[rule]]\nid = "new.rule"\nseries = "mr1.once"\ndose = 3\nfrom = "1y"\nto = "2y"\n'
     'effective_from = 2026-04-01\nsource = "x"\ninterval = [{ after = 1, min_days = 9 }]\n',
     ("new.rule", "'dose'", "mr1.once", "[1, 3]")),
    ('[[rule]]\nid = "new.rule"\nseries = "mr1.once"\n', ("new.rule", "'dose'", "required")),
    ('[[vaccine]]\nid = "hpv"\ncodes = ["hpv", "bcg"]\n', ("hpv", "'codes'", "'bcg' is counted")),
    ('[[vaccine]]\nid = "rsv"\nname_ja = "RS"\nname_en = "RSV"\ncodes = ["rsv"]\n',
     ("rsv", "no [[series]]")),
    ('[[vaccine]]\nid = "hpv"\nsex = "girls"\n', ("hpv", "'sex'", "female")),
    ('[[series]]\nid = "hpv.nine_two"\nstart_to = "<fifteen"\n', ("hpv.nine_two", "start_to")),
    ('[[series]]\nid = "hpv.nine_two"\ncomplete_early = { dose = 2, after = "previous", '
     'min_months = 5 }\n', ("hpv.nine_two", "complete_early.after")),
    ('[[rules]]\nid = "x"\n', ("rules", "unknown key")),
    ('[[rule]\nid = "x"\n', ("cannot read",)),
])
def test_a_wrong_municipal_table_is_refused_naming_the_rule_and_field(tmp_path, text, names):
    with pytest.raises(ScheduleInvalid) as caught:
        load_schedule(_override(tmp_path, text))
    assert caught.value.code is PmhCode.SCHEDULE_INVALID
    for name in names:
        assert name in str(caught.value), str(caught.value)
    assert str(tmp_path / "city.toml") in str(caught.value)


def test_an_override_with_a_new_effective_date_adds_a_version(tmp_path):
    # From 2026-04-01 a city gives MR 1期 up to age 3 (hypothetical): doses before keep 2.
    city = load_schedule(_override(tmp_path, '[[rule]]\nid = "mr1.once.1"\nto = "36m"\n'
                                   'effective_from = 2026-04-01\nsource = "市の要綱"\n'))
    assert [r.effective_from for r in city.rules["mr1.once.1"]] == [D(2026, 4, 1),
                                                                    D(2006, 4, 1)]
    child = Child(D(2023, 10, 1), "male")  # 24m reached 2025-09-30
    late = Dose("mr1", 1, D(2026, 3, 31))
    assert check_dose(child, [], late, city).reason is Reason.WINDOW_TO
    ok = check_dose(child, [], Dose("mr1", 1, D(2026, 4, 1)), city)
    assert ok.accepted and "市の要綱" in ok.ja
    assert not check_dose(child, [], Dose("mr1", 1, D(2026, 4, 1)), S).accepted


def test_every_rule_cites_its_source():
    for versions in S.rules.values():
        for rule in versions:
            assert any(name in rule.source for name in ("令", "規則", "要領")), rule.id


# ---------------------------------------------------------------- the per-birth-date cache

CODES = {"dpt_ipv": "dpt_ipv_hib"}  # a course's dose code where it is not the course id
PRODUCTS = {"rotavirus": "rotarix", "hpv": "gardasil9"}


def _plain(statuses):
    """Statuses without the rule objects (two compiled schedules have distinct ones)."""
    return [(*s[:7], s.rule_id, *s[8:]) for s in statuses]


def test_the_birth_date_cache_changes_no_answer():
    """Children sharing birth dates, histories built through the engine (doses on the day
    they fall due), evaluated on several days: the cached schedule answers as one with the
    cache off, call after call."""
    import random

    rng = random.Random(3)
    found: set[State] = set()
    cached, uncached = load_schedule(), load_schedule(birth_cache_size=0)
    births = [D(2014, 1, 1) + timedelta(days=rng.randrange(12 * 365)) for _ in range(40)]
    for n in range(240):
        child = Child(births[n % len(births)], rng.choice(("female", "male")))
        doses: list[Dose] = []
        day = child.birth_date
        for _ in range(rng.randrange(1, 40)):
            day += timedelta(days=rng.randrange(1, 120))
            for s in evaluate(child, doses, day, uncached):
                if s.state in (State.DUE, State.OVERDUE) and rng.random() < 0.8:
                    code = CODES.get(s.vaccine, s.vaccine)
                    product = PRODUCTS.get(s.vaccine)
                    new = Dose(code, s.dose, day, product)
                    if check_dose(child, doses, new, uncached).accepted:
                        doses.append(new)
        today = day + timedelta(days=rng.randrange(0, 400))
        expected = _plain(evaluate(child, doses, today, uncached))
        assert _plain(evaluate(child, doses, today, cached)) == expected
        assert _plain(evaluate(child, doses, today, cached)) == expected
        found.update(s.state for s in evaluate(child, doses, today, cached))
    assert found == set(State)  # the children reached every state


# ---------------------------------------------------------------- any record

_CODES = sorted(S.by_code) + ["influenza"]
_doses = st.builds(Dose, st.sampled_from(_CODES), st.integers(1, 6),
                   st.dates(D(2010, 1, 1), D(2040, 1, 1)),
                   st.sampled_from([None, "rotarix", "rotateq", "gardasil9"]))


@settings(max_examples=300, deadline=None)
@given(st.dates(D(2008, 1, 1), D(2030, 1, 1)), st.sampled_from(["female", "male"]),
       st.lists(_doses, max_size=12), _doses, st.dates(D(2008, 1, 1), D(2040, 1, 1)))
def test_any_record_gets_an_answer_never_an_exception(birth, sex, doses, new, today):
    """Records as they come (wrong numbers, other series' doses, before birth, unknown
    codes): a status per vaccine and a decision, never a crash."""
    child = Child(birth, sex)
    found = evaluate(child, doses, today, S)
    assert len({s.vaccine for s in found}) == len(found)
    assert all(s.ja and s.en for s in found)
    decision = check_dose(child, doses, new, S)
    assert decision.ja and decision.en and (decision.accepted or decision.code is not None)
