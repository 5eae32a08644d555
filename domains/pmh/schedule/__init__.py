"""The routine vaccination schedule (定期接種) as data and a pure engine.

    schedule = load_schedule()                    # routine.toml (+ a municipality's overrides)
    evaluate(child, doses, today, schedule)       # a status per vaccine, with its rule
    check_dose(child, doses, new_dose, schedule)  # accepted, or refused with the rule
    due_on(child, doses, day, schedule)           # what becomes due that day (reminders)

Modules: ``legal_age`` (年齢計算ニ関スル法律 arithmetic), ``ages`` (the table's age
expressions), ``table`` (reading, merging, checking, compiling), ``model``, ``engine``,
``explain`` (Japanese and English texts), ``reminders`` (events for the family app).
"""

from domains.pmh.schedule.engine import check_dose, due_on, evaluate
from domains.pmh.schedule.model import Child, Decision, Dose, DoseRefused, Reason, State, Status
from domains.pmh.schedule.table import ROUTINE, Schedule, ScheduleInvalid, load_schedule

__all__ = ["ROUTINE", "Child", "Decision", "Dose", "DoseRefused", "Reason", "Schedule",
           "ScheduleInvalid", "State", "Status", "check_dose", "due_on", "evaluate",
           "load_schedule"]
