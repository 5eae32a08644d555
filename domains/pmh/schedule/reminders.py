"""Reminder events for the family app: on the day a dose becomes due, one event per dose.
The connector delivers them; this module only says what they are."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date
from typing import Any

from domains.pmh.schedule.engine import due_on
from domains.pmh.schedule.model import Child, Dose
from domains.pmh.schedule.table import Schedule

EVENT_TYPE = "pmh.vaccination.due"


def reminder_events(child: Child, doses: Sequence[Dose], day: date,
                    settings: Schedule) -> list[dict[str, Any]]:
    """The events to send on ``day`` (JSON-ready), empty on most days."""
    return [{"type": EVENT_TYPE, "day": day.isoformat(), "vaccine": s.vaccine,
             "series": s.series, "dose": s.dose, "rule": s.rule_id,
             "last_day": s.last.isoformat() if s.last else None,
             "overdue_from": s.overdue_from.isoformat() if s.overdue_from else None,
             "text_ja": s.ja, "text_en": s.en}
            for s in due_on(child, doses, day, settings)]
