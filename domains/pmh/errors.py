"""The codes the pmh hub raises (``trust.errors`` explains the registry). The error classes
stay beside the code that raises them (``schedule.table``, ``schedule.engine``)."""

from __future__ import annotations

from trust.errors import ErrorCode


class PmhCode(ErrorCode):
    # The routine vaccination schedule (domains.pmh.schedule)
    SCHEDULE_INVALID = ("pmh.schedule_invalid",
                        "a schedule table or a municipality's override is malformed "
                        "(the message names the rule and the field)")
    DOSE_OUTSIDE_WINDOW = ("pmh.dose_outside_window",
                           "the dose date is outside the window of routine (public) vaccination")
    DOSE_TOO_SOON = ("pmh.dose_too_soon",
                     "the dose is too soon after an earlier dose of its series")
    DOSE_NOT_IN_SERIES = ("pmh.dose_not_in_series",
                          "the dose does not continue the child's series (vaccine, product or "
                          "dose number), or the series is complete")
    DOSE_NOT_ROUTINE = ("pmh.dose_not_routine",
                        "no routine rule covers this dose for this child on that date "
                        "(not yet in effect, birth cohort or sex)")
