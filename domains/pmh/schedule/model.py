"""What the engine takes (a child, the doses given) and what it answers (a status per
vaccine, a decision per new dose), each naming the rule and the constraint that decided."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from enum import StrEnum
from typing import NamedTuple

from domains.pmh.errors import PmhCode
from domains.pmh.schedule.table import SEXES, Rule
from trust.errors import ValidationError


@dataclass(frozen=True, slots=True)
class Child:
    birth_date: date
    sex: str  # "female" / "male" (HPV is routine for girls)

    def __post_init__(self) -> None:
        # A misspelt sex would silently drop HPV: refuse it.
        if self.sex not in SEXES or type(self.birth_date) is not date:
            raise ValidationError(f"a child needs a birth date and a sex in {SEXES}, not "
                                  f"{self.birth_date!r}, {self.sex!r}")


@dataclass(frozen=True, slots=True)
class Dose:
    vaccine: str  # a dose code of the table: "rotavirus", "dpt_ipv_hib", "mr1", ...
    dose_number: int  # within its series (a PCV booster after a skipped dose keeps 4)
    date: date
    product: str | None = None  # "rotarix", "rotateq", "gardasil9" where the series depends on it

    def __post_init__(self) -> None:
        if isinstance(self.dose_number, bool) or not isinstance(self.dose_number, int) or \
                self.dose_number < 1 or type(self.date) is not date:
            raise ValidationError(f"a dose needs a number from 1 and a date, not "
                                  f"{self.dose_number!r}, {self.date!r}")


class State(StrEnum):
    DUE = "due"  # allowed and in its standard period (or one with no standard period)
    OVERDUE = "overdue"  # past the standard period, still at public expense
    ALLOWED = "allowed"  # allowed at public expense, before its standard period begins
    NOT_YET_ALLOWED = "not_yet_allowed"
    NO_LONGER_PUBLIC = "no_longer_public"  # the window closed: no longer at public expense
    COMPLETE = "complete"


class Reason(StrEnum):
    """The constraint of the rule that decided."""

    WINDOW_FROM = "window_from"
    WINDOW_TO = "window_to"
    MIN_INTERVAL = "min_interval"
    STANDARD_FROM = "standard_from"
    STANDARD_TO = "standard_to"
    STANDARD_INTERVAL = "standard_interval"
    EFFECTIVE_FROM = "effective_from"  # no version of the rule in effect on that day
    SERIES = "series"  # the dose does not continue the child's series
    DOSE_NUMBER = "dose_number"
    SERIES_COMPLETE = "series_complete"
    COHORT = "cohort"  # born before the vaccine's routine cohort, or not of its sex
    UNKNOWN_VACCINE = "unknown_vaccine"
    IN_WINDOW = "in_window"  # an accepted dose


class Status(NamedTuple):
    """Where a child stands with one vaccine on ``day``: the next dose and its state.

    A named tuple, not a frozen dataclass: built for every vaccine of every child, and a
    frozen dataclass sets its 13 fields one by one."""

    vaccine: str
    name_ja: str
    name_en: str
    series: str
    dose: int  # the next dose (the last one for a complete series)
    state: State
    reason: Reason
    rule: Rule
    day: date
    earliest: date | None = None  # first day allowed at public expense
    due: date | None = None  # the day it becomes due (reminders go out on it)
    overdue_from: date | None = None
    last: date | None = None  # last day at public expense

    @property
    def rule_id(self) -> str:
        return self.rule.id

    @property
    def ja(self) -> str:
        from domains.pmh.schedule.explain import status_ja
        return status_ja(self)

    @property
    def en(self) -> str:
        from domains.pmh.schedule.explain import status_en
        return status_en(self)


class DoseRefused(ValidationError):
    """A dose that routine vaccination does not allow, with the rule and the constraint."""

    code = PmhCode.DOSE_OUTSIDE_WINDOW


@dataclass(frozen=True, slots=True)
class Decision:
    accepted: bool
    reason: Reason
    rule_id: str | None
    code: PmhCode | None  # why refused
    limit: date | None = None  # the edge the dose fell on the wrong side of
    ja: str = ""
    en: str = ""

    def raise_if_refused(self) -> None:
        if not self.accepted:
            raise DoseRefused(f"{self.en} / {self.ja}", code=self.code, rule=self.rule_id,
                              reason=str(self.reason), limit=self.limit)
