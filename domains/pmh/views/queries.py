"""The health department's figures: each counted with SQL by the module owning its table
(the hub's index of the municipality's records, follow-ups, claims), never by reading
every record in Python."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime

from connector.store.database import Store
from domains.pmh.hub import claims, followups, index, settlements

COHORT_YEARS = 6  # cohorts (birth years) shown in the coverage table


@dataclass(frozen=True)
class Overview:
    trimesters: dict[int, int]  # 1, 2, 3 -> pregnancies (expected delivery today or later)
    checkups: list[tuple[str, int, int]]  # voucher kind, due (valid by today), done (used)
    blood_tests: list[tuple[str, int, int]]  # test, taken, outside the standard periods
    followups_open: int
    followups_overdue: int
    cohorts: list[tuple[str, int]]  # birth year, children
    coverage: dict[tuple[str, str], int]  # (birth year, vaccine) -> children with a dose
    vaccines: list[str]
    # clinic code, vouchers used, in batches not yet paid, paid, yen paid, 里帰り claims,
    # claims approved
    clinics: list[tuple[str, int, int, int, int, int, int]]
    claims: dict[str, int]  # status -> claims


def overview(store: Store, today: date, now: datetime) -> Overview:
    open_, overdue = followups.counts(store, now.isoformat())
    sizes, dosed = index.cohorts(store, today.year - COHORT_YEARS + 1)
    used = index.vouchers_used_by_clinic(store)
    claimed = claims.by_clinic(store)
    settled = settlements.by_clinic(store)
    clinics = sorted((code, used.get(code, 0), *settled.get(code, (0, 0, 0)),
                      *claimed.get(code, (0, 0)))
                     for code in used.keys() | claimed.keys() | settled.keys())
    return Overview(index.trimesters(store, today), index.vouchers_due_and_used(store, today),
                    index.blood_tests_done(store), open_, overdue, sizes, dosed,
                    sorted({v for _, v in dosed}), clinics, claims.by_status(store))
