"""Benchmark of the pmh hub, one section per figure family (more sections to come: add a
function to SECTIONS). ``--json PATH`` writes every figure of the run. ``view``: the
health-department view's first load (bench/pmh_view.py, ``view_first_load_ms``).

    .venv/bin/python bench/pmh.py --children 100000 --json out.json

schedule: the routine vaccination schedule (domains.pmh.schedule). The table is compiled
once (``compile_ms``); then ``evaluate`` runs for N synthetic children born over the 16
years before ``--today``, each with a plausible history (doses on allowed days, some late,
some missing), and ``check_dose`` for one next dose per child. Figures:
``schedule_children_per_s`` (wall clock; floor 20,000 on 2 cores),
``schedule_children_per_cpu_s`` (process CPU time, for a shared machine),
``schedule_statuses_per_s``,
``schedule_children_per_s_uncached`` (the per-birth-date cache off: each child computes its
own window dates), ``check_dose_per_s``, and the states found (a sanity check that the
children are varied).

contribution (bench/pmh_contribution.py): a clinic's checkup from its app to the
municipality's committed record on real connectors, open loop at ``--contribution-rate``
per second for ``--contribution-seconds``: ``contribution_p99_ms`` (floor 100 ms at 20/s).

    .venv/bin/python bench/pmh.py --sections contribution --json out.json
"""

from __future__ import annotations

import argparse
import random
import sys
import time
from collections import Counter
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.pmh_contribution import contribution_section
from bench.stream import git_commit, machine, write_json
from domains.pmh.schedule import Child, Dose, Schedule, check_dose, evaluate, load_schedule

SCHEDULE_FLOOR = 20_000  # children per second


def _history(schedule: Schedule, child: Child, today: date, rng: random.Random) -> list[Dose]:
    """Doses as a family might have had them: each series' doses on an allowed day, often a
    little late, sometimes stopped early. Built from the table, not through the engine."""
    doses: list[Dose] = []
    birth = child.birth_date
    for vaccine in schedule.vaccines:
        if vaccine.sex is not None and vaccine.sex != child.sex or vaccine.with_series:
            continue
        series = vaccine.series[-1] if vaccine.id == "pcv" and rng.random() < 0.05 else \
            vaccine.series[0]
        code = sorted(series.codes or vaccine.codes)[0]
        product = sorted(series.products)[0] if series.products else None
        given: dict[int, date] = {}
        for dose in range(1, series.doses + 1):
            rule = series.rule_at(dose, today)
            if rule is None or rng.random() < 0.08:
                break
            day = rule.window_from.at(birth)
            if rule.standard_from is not None:
                day = max(day, rule.standard_from.at(birth))
            for interval in rule.intervals:
                ref = given.get(interval.after or dose - 1)
                if ref is not None and (after := interval.earliest(ref)) is not None:
                    day = max(day, after)
            day += timedelta(days=int(rng.expovariate(1 / 20)))
            if day > today or day > rule.window_to.at(birth):
                break
            given[dose] = day
            doses.append(Dose(code, dose, day, product))
    return doses


def schedule_section(args: argparse.Namespace) -> dict[str, Any]:
    started = time.perf_counter()
    schedule = load_schedule()
    compile_ms = (time.perf_counter() - started) * 1000
    rng = random.Random(args.seed)
    today = args.today
    children = []
    for _ in range(args.children):
        child = Child(today - timedelta(days=rng.randrange(16 * 366)),
                      rng.choice(("female", "male")))
        children.append((child, _history(schedule, child, today, rng)))
    doses = sum(len(h) for _, h in children)

    states: Counter[str] = Counter()
    started, cpu_started = time.perf_counter(), time.process_time()
    for child, history in children:
        for status in evaluate(child, history, today, schedule):
            states[status.state] += 1
    elapsed, cpu = time.perf_counter() - started, time.process_time() - cpu_started
    # The same children with the per-birth-date cache off: every child computes its dates.
    uncached = load_schedule(birth_cache_size=0)
    started = time.perf_counter()
    for child, history in children:
        evaluate(child, history, today, uncached)
    uncached_elapsed = time.perf_counter() - started

    # One new dose per child: the next dose of its first vaccine with doses, on today.
    news = [(child, history, Dose(history[-1].vaccine, history[-1].dose_number + 1, today,
                                  history[-1].product))
            for child, history in children if history]
    decisions: Counter[str] = Counter()
    started = time.perf_counter()
    for child, history, new in news:
        decisions[str(check_dose(child, history, new, schedule).reason)] += 1
    check_elapsed = time.perf_counter() - started

    per_s = args.children / elapsed
    return {"children": args.children, "doses": doses, "today": today.isoformat(),
            "compile_ms": round(compile_ms, 2),
            "schedule_children_per_s": round(per_s),
            "schedule_statuses_per_s": round(sum(states.values()) / elapsed),
            # CPU time of this process: the same figure with other load on the machine removed
            "schedule_children_per_cpu_s": round(args.children / cpu),
            "schedule_children_per_s_uncached": round(args.children / uncached_elapsed),
            "birth_dates": len({child.birth_date for child, _ in children}),
            "check_dose_per_s": round(len(news) / check_elapsed) if news else None,
            "states": dict(sorted(states.items())),
            "check_dose_reasons": dict(sorted(decisions.items())),
            "schedule_floor_children_per_s": SCHEDULE_FLOOR,
            "schedule_floor_met": per_s >= SCHEDULE_FLOOR}


def view_section(args: argparse.Namespace) -> dict[str, Any]:
    """The health-department view's first load (bench/pmh_view.py)."""
    import asyncio

    from bench.pmh_view import measure
    return asyncio.run(measure(args))


SECTIONS: dict[str, Callable[[argparse.Namespace], dict[str, Any]]] = {
    "schedule": schedule_section,
    "view": view_section,
    "contribution": contribution_section,
}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--children", type=int, default=100_000)
    parser.add_argument("--today", type=date.fromisoformat, default=date(2026, 6, 1))
    parser.add_argument("--seed", type=int, default=14)
    parser.add_argument("--contribution-rate", type=float, default=20.0,
                        help="checkups offered per second (open loop)")
    parser.add_argument("--contribution-seconds", type=float, default=30.0)
    parser.add_argument("--sections", nargs="+", choices=sorted(SECTIONS),
                        default=sorted(SECTIONS))
    parser.add_argument("--pregnancies", type=int, default=10_000, help="view section")
    parser.add_argument("--view-children", type=int, default=30_000, help="view section")
    parser.add_argument("--loads", type=int, default=5, help="view section: reloads")
    parser.add_argument("--json", type=Path, help="write the figures to this file")
    args = parser.parse_args()
    result: dict[str, Any] = {}
    for name in args.sections:
        result.update(SECTIONS[name](args))
    result.update(machine=machine(), git_commit=git_commit(),
                  at=datetime.now(UTC).isoformat(timespec="seconds"))
    for key, value in result.items():
        if not isinstance(value, dict):
            print(f"{key}: {value}")
    if args.json:
        write_json(args.json, result)
    met = [v for k, v in result.items() if k.endswith("_floor_met")]
    return 0 if all(met) else 1


if __name__ == "__main__":
    sys.exit(main())
