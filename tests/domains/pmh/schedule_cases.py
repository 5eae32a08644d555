"""Boundary cases generated from the schedule table: for every rule (every version) and a
few birth dates (the rule's first day of effect, the end of that month, a later 2/29), the
span a dose is allowed in and the standard period, as the table's data says. The tests then
check the engine on the day before, the first day, the last day and the day after."""

from __future__ import annotations

import calendar
from dataclasses import dataclass
from datetime import date, timedelta

from domains.pmh.schedule import Child, Dose, Schedule, check_dose
from domains.pmh.schedule.table import Interval, Rule, Series, Vaccine

ONE = timedelta(days=1)


@dataclass(frozen=True)
class Case:
    rule: Rule
    series: Series
    vaccine: Vaccine
    child: Child
    history: tuple[Dose, ...]  # the doses before, each on its first allowed day
    code: str
    product: str | None
    lower: date  # first day allowed for this rule (as this series)
    lower_by: str  # "window_from" / "min_interval" / "series" (a start band)
    upper: date
    upper_by: str  # "window_to" / "series"
    interval: Interval | None  # the interval that binds ``lower``, if one does

    @property
    def name(self) -> str:
        bound = "" if self.interval is None else f"-after{self.interval.after or 'prev'}"
        return f"{self.rule.id}@{self.rule.effective_from}/born{self.child.birth_date}{bound}"

    def dose(self, day: date) -> Dose:
        return Dose(self.code, self.rule.dose, day, self.product)


def _births(rule: Rule) -> list[date]:
    start = rule.effective_from + ONE  # the day before a window opening at birth is covered
    end_of_month = start.replace(day=calendar.monthrange(start.year, start.month)[1])
    year = next(y for y in range(start.year, start.year + 8) if calendar.isleap(y)
                and date(y, 2, 29) >= start)
    return [start, end_of_month, date(year, 2, 29)]


def _series_lower(vaccine: Vaccine, series: Series, birth: date) -> date | None:
    """The first day of the series' start band; the band's first day belongs to an earlier
    series ending on the same expression (the first band in file order wins)."""
    if series.start_from is None:
        return None
    shared = any(s.start_to is not None and s.start_to.text == series.start_from.text
                 for s in vaccine.series[:vaccine.series.index(series)])
    return series.start_from.at(birth) + (ONE if shared else timedelta())


def _code_product(vaccine: Vaccine, series: Series) -> tuple[str, str | None]:
    code = sorted(series.codes or vaccine.codes)[0]
    return code, sorted(series.products)[0] if series.products else None


def _span(schedule: Schedule, vaccine: Vaccine, series: Series, rule: Rule, child: Child,
          history: list[Dose]) -> tuple[date, str, date, str, Interval | None]:
    birth = child.birth_date
    lower, lower_by, bound = rule.window_from.at(birth), "window_from", None
    given = {d.dose_number: d.date for d in history if d.vaccine in vaccine.codes}
    previous = max(given.values()) if given else None
    for interval in rule.intervals:
        ref = previous if interval.after is None else given.get(interval.after)
        if interval.min_days is not None:
            earliest = ref + timedelta(days=interval.min_days + 1)
        elif interval.min_months is not None:
            earliest = months_later(ref, interval.min_months)
        else:
            continue
        if earliest > lower:
            lower, lower_by, bound = earliest, "min_interval", interval
    upper, upper_by = rule.window_to.at(birth), "window_to"
    if rule.dose == 1:
        band = _series_lower(vaccine, series, birth)
        if band is not None and band > lower:
            lower, lower_by = band, "series"
        if series.start_to is not None and series.start_to.at(birth) < upper:
            upper, upper_by = series.start_to.at(birth), "series"
        if series.started_before is not None and series.started_before - ONE < upper:
            upper, upper_by = series.started_before - ONE, "series"
    return lower, lower_by, upper, upper_by, bound


def months_later(day: date, months: int) -> date:
    index = day.month - 1 + months
    year, month = day.year + index // 12, index % 12 + 1
    return date(year, month, min(day.day, calendar.monthrange(year, month)[1]))


def _companions(schedule: Schedule, vaccine: Vaccine, birth: date) -> list[Dose]:
    """Doses of another vaccine the course needs (Hib goes with a 四種混合 series)."""
    if vaccine.with_series is None:
        return []
    (series,) = [s for v in schedule.vaccines for s in v.series if s.id == vaccine.with_series]
    first = series.first_rule(1)
    code, product = _code_product(schedule.by_code[sorted(series.codes or ())[0]], series)
    return [Dose(code, 1, first.window_from.at(birth), product)]


def _history(schedule: Schedule, vaccine: Vaccine, series: Series, child: Child,
             upto: int) -> list[Dose] | None:
    """Doses 1..upto, each on its first allowed day (None if the rule versions do not allow
    it for this birth)."""
    history = _companions(schedule, vaccine, child.birth_date)
    code, product = _code_product(vaccine, series)
    for dose in range(1, upto + 1):
        rule = series.first_rule(dose)
        lower, _, upper, _, _ = _span(schedule, vaccine, series, rule, child, history)
        day = max(lower, rule.effective_from)
        if day > upper or not check_dose(child, history, Dose(code, dose, day, product),
                                         schedule).accepted:
            return None
        history.append(Dose(code, dose, day, product))
    return history


def _still_in_effect(series: Series, rule: Rule, upper: date) -> bool:
    newer = [r for r in series.versions[rule.dose] if r.effective_from > rule.effective_from]
    return all(r.effective_from > upper for r in newer)


def _late(schedule: Schedule, vaccine: Vaccine, series: Series, rule: Rule, child: Child,
          history: list[Dose]) -> list[Dose] | None:
    """A history in which the previous dose is given as late as the rule's window opens, so
    that the minimum interval after it binds (boosters from 12 months)."""
    last = history[-1]
    moved = [*history[:-1], Dose(last.vaccine, last.dose_number,
                                 rule.window_from.at(child.birth_date), last.product)]
    decision = check_dose(child, history[:-1], moved[-1], schedule)
    if decision.accepted and decision.rule_id == series.first_rule(last.dose_number).id:
        return moved
    return None


def cases(schedule: Schedule) -> list[Case]:
    out = []
    for vaccine in schedule.vaccines:
        sex = vaccine.sex or "female"
        for series in vaccine.series:
            for versions in series.versions.values():
                for rule in versions:
                    for birth in _births(rule):
                        out += _rule_cases(schedule, vaccine, series, rule, Child(birth, sex))
    return out


def _rule_cases(schedule: Schedule, vaccine: Vaccine, series: Series, rule: Rule,
                child: Child) -> list[Case]:
    history = _history(schedule, vaccine, series, child, rule.dose - 1)
    if history is None:
        return []
    histories = [history]
    if rule.intervals and (late := _late(schedule, vaccine, series, rule, child, history)):
        histories.append(late)
    code, product = _code_product(vaccine, series)
    out = []
    for past in histories:
        lower, lower_by, upper, upper_by, bound = _span(schedule, vaccine, series, rule,
                                                        child, past)
        if lower < rule.effective_from or lower > upper or \
                not _still_in_effect(series, rule, upper):
            continue
        out.append(Case(rule, series, vaccine, child, tuple(past), code, product, lower,
                        lower_by, upper, upper_by, bound))
    return out
