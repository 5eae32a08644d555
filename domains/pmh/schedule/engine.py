"""The schedule engine: for a child and the doses given, the state of each vaccine on a day,
whether a new dose is allowed, and which doses become due on a day (reminders).

Pure: no I/O, no clock (the day is always given). The table is compiled once
(``table.load_schedule``); per child the engine does a few date computations per vaccine.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, timedelta
from operator import attrgetter
from typing import NamedTuple

from domains.pmh.errors import PmhCode
from domains.pmh.schedule import explain
from domains.pmh.schedule.ages import AgeExpr
from domains.pmh.schedule.model import Child, Decision, Dose, Reason, State, Status
from domains.pmh.schedule.table import Rule, Schedule, Series, Vaccine

_ONE_DAY = timedelta(days=1)
_BY_DAY = attrgetter("date", "dose_number")
_NONE: list[Dose] = []  # no doses of a vaccine (never mutated)


class _Ages(dict[AgeExpr, date]):
    """The dates of the table's age expressions for one birth date, each computed once;
    and, for one day, the statuses that depend on nothing but the birth date and the day
    (a vaccine with no dose yet, a complete series)."""

    __slots__ = ("birth", "day", "statuses")

    def __init__(self, birth: date) -> None:
        super().__init__()
        self.birth = birth
        self.day: date | None = None
        self.statuses: dict[tuple[str, str], Status] = {}

    def statuses_on(self, day: date) -> dict[tuple[str, str], Status]:
        if day != self.day:
            self.day, self.statuses = day, {}
        return self.statuses

    def __missing__(self, expr: AgeExpr) -> date:
        day = self[expr] = expr.at(self.birth)
        return day


def _ages(schedule: Schedule, birth: date) -> _Ages:
    """The birth date's dates, shared by the children born that day (the table is the same
    for them), from the schedule's bounded cache."""
    cache = schedule.birth_cache
    found = cache.get(birth)
    if found is None:
        found = _Ages(birth)
        if schedule.birth_cache_size:
            if len(cache) >= schedule.birth_cache_size:
                cache.clear()
            cache[birth] = found
    return found


class _Next(NamedTuple):
    """The next dose of a series on a day: its rule and its allowed span."""

    dose: int
    rule: Rule | None  # None: no version in effect on the day (see ``first``)
    first: Rule  # the oldest version, for messages
    earliest: date
    earliest_reason: Reason
    last: date
    refs: tuple[date | None, ...]  # per interval of the rule: the dose it counts from


def _select(vaccine: Vaccine, ages: _Ages, doses: Sequence[Dose], day: date) -> Series | None:
    """The series the child follows: the first whose conditions hold for the first dose (with
    none yet, for a first dose on ``day``, any product, any later start band)."""
    if vaccine.only is not None:
        return vaccine.only
    first = doses[0] if doses else None
    start = first.date if first is not None else day
    for series in vaccine.series:
        if first is not None:
            if series.products is not None and first.product not in series.products:
                continue
            if series.codes is not None and first.vaccine not in series.codes:
                continue
            if series.start_from is not None and start < ages[series.start_from]:
                continue
        if series.started_before is not None and start >= series.started_before:
            continue
        if series.start_to is not None and start > ages[series.start_to]:
            continue
        return series
    return None


def _next(series: Series, ages: _Ages, doses: Sequence[Dose], day: date) -> _Next | None:
    """The next dose on ``day`` (None when the series is complete). A skippable dose whose
    window has closed by ``day`` is passed over."""
    dose = doses[-1].dose_number + 1 if doses else 1
    if dose > series.doses:  # most children's courses: done
        return None
    given = {d.dose_number: d.date for d in doses}
    if (early := series.complete_early) is not None and dose > early[0]:
        done, (interval, ref) = given.get(early[0]), (early[1], given.get(early[1].after or 0))
        if done is not None and ref is not None and done >= interval.earliest(ref):
            return None
    previous = doses[-1].date if doses else None
    while dose <= series.doses:
        rule = series.rule_at(dose, day)
        first = series.first_rule(dose)
        shape = rule or first
        earliest, reason = ages[shape.window_from], Reason.WINDOW_FROM
        refs = []
        for interval in shape.intervals:
            ref = previous if interval.after is None else given.get(interval.after, previous)
            refs.append(ref)
            after = interval.earliest(ref) if ref is not None else None
            if after is not None and after > earliest:
                earliest, reason = after, Reason.MIN_INTERVAL
        if rule is None and first.effective_from > earliest:
            earliest, reason = first.effective_from, Reason.EFFECTIVE_FROM
        last = ages[shape.window_to]
        if shape.skippable and dose < series.doses and (day > last or earliest > last):
            dose += 1
            continue
        return _Next(dose, rule, first, earliest, reason, last, tuple(refs))
    return None


def _applies(vaccine: Vaccine, child: Child, selected: dict[str, Series | None]) -> bool:
    if not vaccine.restricted:
        return True
    if vaccine.sex is not None and child.sex != vaccine.sex:
        return False
    if vaccine.born_from is not None and child.birth_date < vaccine.born_from:
        return False
    if vaccine.with_series is not None:
        return any(s is not None and s.id == vaccine.with_series for s in selected.values())
    return True


def _by_vaccine(schedule: Schedule, doses: Sequence[Dose]) -> dict[str, list[Dose]]:
    grouped: dict[str, list[Dose]] = {}
    by_code = schedule.by_code
    for dose in doses:
        vaccine = by_code.get(dose.vaccine)
        if vaccine is not None:
            group = grouped.get(vaccine.id)
            if group is None:
                grouped[vaccine.id] = [dose]
            else:
                group.append(dose)
    for group in grouped.values():
        if len(group) > 1:
            group.sort(key=_BY_DAY)
    return grouped


def _status(vaccine: Vaccine, series: Series, ages: _Ages, doses: list[Dose],
            day: date) -> Status:
    # Positional construction: this runs for every vaccine of every child.
    nxt = _next(series, ages, doses, day)
    if nxt is None:
        # The series' last dose, or an earlier one ending it; a record numbered past the
        # series (doses counted under another series) names the series' last rule.
        last = min(doses[-1].dose_number, series.doses)
        return Status(vaccine.id, vaccine.name_ja, vaccine.name_en, series.id, last,
                      State.COMPLETE, Reason.SERIES_COMPLETE, series.first_rule(last), day)
    rule = nxt.rule or nxt.first
    if day > nxt.last or nxt.earliest > nxt.last:
        return Status(vaccine.id, vaccine.name_ja, vaccine.name_en, series.id, nxt.dose,
                      State.NO_LONGER_PUBLIC, Reason.WINDOW_TO, rule, day, nxt.earliest,
                      None, None, nxt.last)
    # The standard period: from the latest of its starts, until the earliest of its ends.
    due, due_reason = nxt.earliest, nxt.earliest_reason
    end, end_reason = None, Reason.STANDARD_TO
    if rule.standard_from is not None and (start := ages[rule.standard_from]) > due:
        due, due_reason = start, Reason.STANDARD_FROM
    if rule.standard_to is not None:
        end = ages[rule.standard_to]
    for interval, ref in zip(rule.intervals, nxt.refs, strict=True):
        if ref is None:
            continue
        if (start := interval.standard_start(ref)) is not None and start > due:
            due, due_reason = start, Reason.STANDARD_INTERVAL
        if (stop := interval.standard_end(ref)) is not None and (end is None or stop < end):
            end, end_reason = stop, Reason.STANDARD_INTERVAL
    due = min(due, nxt.last)
    overdue_from = end + _ONE_DAY if end is not None and end < nxt.last else None
    if day < nxt.earliest:
        state, reason = State.NOT_YET_ALLOWED, nxt.earliest_reason
    elif overdue_from is not None and day >= overdue_from:
        state, reason = State.OVERDUE, end_reason
    elif day < due:
        state, reason = State.ALLOWED, due_reason
    else:
        state, reason = State.DUE, due_reason
    return Status(vaccine.id, vaccine.name_ja, vaccine.name_en, series.id, nxt.dose, state,
                  reason, rule, day, nxt.earliest, due, overdue_from, nxt.last)


def evaluate(child: Child, doses: Sequence[Dose], today: date,
             settings: Schedule) -> list[Status]:
    """One status per vaccine that applies to the child (sex, birth cohort, the series it
    goes with), in table order. A course whose given doses fit no series is reported as no
    longer public, with the series rule."""
    grouped = _by_vaccine(settings, doses)
    ages = _ages(settings, child.birth_date)
    selected: dict[str, Series | None] = {}
    shared: dict[tuple[str, str], Status] | None = None
    out = []
    for vaccine in settings.vaccines:
        own = grouped.get(vaccine.id, _NONE)
        series = selected[vaccine.id] = vaccine.only or _select(vaccine, ages, own, today)
        if vaccine.restricted and not _applies(vaccine, child, selected):
            continue
        if series is None:
            # No dose yet: every series' start band has passed (PCV after 60 months). Else the
            # doses given fit no series (四種混合 started after 2024-03-31).
            rule = vaccine.series[-1].first_rule(1)
            out.append(Status(vaccine.id, vaccine.name_ja, vaccine.name_en, rule.series, 1,
                              State.NO_LONGER_PUBLIC, Reason.SERIES if own else Reason.WINDOW_TO,
                              rule, today, None, None, None,
                              None if own else ages[rule.window_to]))
            continue
        # No dose yet, or all given: the status is the same for every child born that day.
        key = ("none", vaccine.id) if not own else ("all", series.id) \
            if own[-1].dose_number == series.doses else None
        if key is None:
            out.append(_status(vaccine, series, ages, own, today))
            continue
        if shared is None:
            shared = ages.statuses_on(today)
        status = shared.get(key)
        if status is None:
            status = shared[key] = _status(vaccine, series, ages, own, today)
        out.append(status)
    return out


def due_on(child: Child, doses: Sequence[Dose], day: date, settings: Schedule) -> list[Status]:
    """The doses that become due on ``day``: what the family app is reminded of that day."""
    return [s for s in evaluate(child, doses, day, settings)
            if s.state is State.DUE and s.due == day]


def _refuse(code: PmhCode, reason: Reason, rule_id: str | None, limit: date | None,
            **facts: object) -> Decision:
    ja, en = explain.refusal(reason, rule_id, limit, **facts)
    return Decision(False, reason, rule_id, code, limit, ja, en)


def _outside_every_series(vaccine: Vaccine, birth: date, day: date) -> Decision | None:
    """A first dose before every series' window opens or after every one closes is refused
    for the window (naming the first series to open, or the last to close), not the series."""
    firsts = [s.first_rule(1) for s in vaccine.series]
    opening = min(firsts, key=lambda r: r.window_from.at(birth))
    closing = max(reversed(firsts), key=lambda r: r.window_to.at(birth))
    if day < (start := opening.window_from.at(birth)):
        return _refuse(PmhCode.DOSE_OUTSIDE_WINDOW, Reason.WINDOW_FROM, opening.id, start)
    if day > (end := closing.window_to.at(birth)):
        return _refuse(PmhCode.DOSE_OUTSIDE_WINDOW, Reason.WINDOW_TO, closing.id, end)
    return None


def check_dose(child: Child, doses: Sequence[Dose], new_dose: Dose,
               settings: Schedule) -> Decision:
    """Whether ``new_dose`` is a routine dose at public expense for the child, given the
    doses already recorded: refused (with the rule) when outside its window, too soon after
    an earlier dose, out of its series or not covered on that day."""
    vaccine = settings.by_code.get(new_dose.vaccine)
    birth = child.birth_date
    if vaccine is None:
        return _refuse(PmhCode.DOSE_NOT_ROUTINE, Reason.UNKNOWN_VACCINE, None, None,
                       vaccine=new_dose.vaccine)
    grouped = _by_vaccine(settings, doses)
    ages = _ages(settings, birth)
    selected = {v.id: _select(v, ages, grouped.get(v.id, []), new_dose.date)
                for v in settings.vaccines if v.id in grouped or v.id == vaccine.id}
    if not _applies(vaccine, child, selected):
        return _refuse(PmhCode.DOSE_NOT_ROUTINE, Reason.COHORT, vaccine.series[0].first_rule(1).id,
                       vaccine.born_from, vaccine=vaccine.id)
    own = [d for d in grouped.get(vaccine.id, []) if d.date <= new_dose.date]
    series = _select(vaccine, ages, own or [new_dose], new_dose.date)
    if series is None and not own and (outside := _outside_every_series(vaccine, birth,
                                                                         new_dose.date)):
        return outside
    if series is None or (series.codes is not None and new_dose.vaccine not in series.codes) \
            or (series.products is not None and new_dose.product not in series.products):
        started = series.id if series is not None else None
        return _refuse(PmhCode.DOSE_NOT_IN_SERIES, Reason.SERIES, started, None,
                       vaccine=vaccine.id, given_code=new_dose.vaccine, product=new_dose.product)
    nxt = _next(series, ages, own, new_dose.date)
    if nxt is None:
        return _refuse(PmhCode.DOSE_NOT_IN_SERIES, Reason.SERIES_COMPLETE,
                       series.first_rule(series.doses).id, None, series=series.id)
    if new_dose.dose_number != nxt.dose:
        return _refuse(PmhCode.DOSE_NOT_IN_SERIES, Reason.DOSE_NUMBER, nxt.first.id, None,
                       expected=nxt.dose, given=new_dose.dose_number)
    if nxt.rule is None:
        return _refuse(PmhCode.DOSE_NOT_ROUTINE, Reason.EFFECTIVE_FROM, nxt.first.id,
                       nxt.first.effective_from)
    rule = nxt.rule
    if new_dose.date < (start := rule.window_from.at(birth)):
        return _refuse(PmhCode.DOSE_OUTSIDE_WINDOW, Reason.WINDOW_FROM, rule.id, start,
                       expr=rule.window_from)
    if new_dose.date > nxt.last:
        return _refuse(PmhCode.DOSE_OUTSIDE_WINDOW, Reason.WINDOW_TO, rule.id, nxt.last,
                       expr=rule.window_to)
    if new_dose.date < nxt.earliest:
        return _refuse(PmhCode.DOSE_TOO_SOON, Reason.MIN_INTERVAL, rule.id, nxt.earliest,
                       intervals=rule.intervals)
    ja, en = explain.accepted(rule)
    return Decision(True, Reason.IN_WINDOW, rule.id, None, None, ja, en)
