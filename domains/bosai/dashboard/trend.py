"""People in shelters over time, kept up to date from the registry's stay history.

Each ``bosai_stay_history`` row says where one person stays from then on. A person entering
a shelter adds one to it (and to "all shelters"), leaving takes one away; the counts over
time are the running sums of these steps. Recomputing that over 50,000 people costs tens of
milliseconds, too much for every check-in, so ``StayTrend`` reads only the rows added since
its last look and keeps each person's last place and the steps per minute. It starts over
when history was rewritten rather than appended to: a review merge moves rows to another
person (a new alias row), a deletion makes the row count shrink.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from connector.store.database import Store

POINTS = 48
# Bucket sizes a series may use, smallest first: the first that keeps the points few wins.
BUCKETS = tuple(timedelta(minutes=m) for m in (1, 5, 15, 30, 60, 180, 360, 720, 1440))
ALL = ""  # the key of "any shelter" in the step tables (shelter ids are never empty)

NEW_ROWS = """
SELECT seq, person_id, stay_type, shelter_id, substr(at, 1, 16) FROM bosai_stay_history
WHERE seq > ? ORDER BY seq
"""
SHAPE = """
SELECT (SELECT count(*) FROM bosai_stay_history), (SELECT count(*) FROM bosai_person_aliases)
"""

Series = tuple[tuple[datetime, int], ...]


@dataclass
class _State:
    seq: int = 0
    rows: int = 0
    aliases: int = 0
    where: dict[str, str | None] = field(default_factory=dict)  # person -> shelter or None
    steps: dict[str, dict[str, int]] = field(
        default_factory=lambda: defaultdict(lambda: defaultdict(int)))  # shelter -> minute -> step


class StayTrend:
    def __init__(self, store: Store) -> None:
        self.store = store
        self._state = _State()

    def refresh(self) -> None:
        rows, aliases = self.store.query(SHAPE)[0]
        state = self._state
        if aliases != state.aliases or rows < state.rows:
            state = self._state = _State(aliases=aliases)
        fresh = self.store.query(NEW_ROWS, (state.seq,))
        for seq, person, stay_type, shelter_id, minute in fresh:
            before = state.where.get(person)
            after = shelter_id if stay_type == "shelter" and shelter_id else None
            if before != after:
                if before is not None:
                    state.steps[before][minute] -= 1
                    state.steps[ALL][minute] -= 1
                if after is not None:
                    state.steps[after][minute] += 1
                    state.steps[ALL][minute] += 1
            state.where[person] = after
            state.seq = seq
        state.rows += len(fresh)

    def series(self, shelter_id: str | None = None, now: datetime | None = None) -> Series:
        """Counts in a shelter (or all of them) from the first step to ``now``: at most
        ``POINTS`` points, each the count at the end of its bucket."""
        self.refresh()
        steps = sorted((datetime.fromisoformat(minute + ":00+00:00"), n) for minute, n
                       in self._state.steps.get(shelter_id or ALL, {}).items())
        if not steps:
            return ()
        start = steps[0][0]
        now = max(now or datetime.now(UTC), steps[-1][0])
        bucket = next((b for b in BUCKETS if (now - start) / b <= POINTS), BUCKETS[-1])
        points: list[tuple[datetime, int]] = []
        total, i, edge = 0, 0, start
        while True:
            while i < len(steps) and steps[i][0] <= edge:
                total += steps[i][1]
                i += 1
            points.append((edge, total))
            if edge >= now:
                return tuple(points)
            edge = min(edge + bucket, now)
