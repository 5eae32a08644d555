"""Every read of the pmh views: SQL over the hub's tables and its index of the
municipality's own records (``hub/index.py``), so a count costs an indexed query, never a
pass over every record in Python.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

TRIMESTER_DAYS = (98, 196)  # 妊娠14週0日 and 28週0日: the second and third trimesters begin
TERM_DAYS = 280  # 40週0日: the expected delivery date
COHORT_YEARS = 6  # cohorts (birth years) shown in the coverage table


@dataclass(frozen=True)
class Overview:
    trimesters: dict[int, int]  # 1, 2, 3 -> pregnancies (expected delivery today or later)
    checkups: list[tuple[str, int, int]]  # voucher kind, due (valid by today), done (used)
    followups_open: int
    followups_overdue: int
    cohorts: list[tuple[str, int]]  # birth year, children
    coverage: dict[tuple[str, str], int]  # (birth year, vaccine) -> children with a dose
    vaccines: list[str]
    clinics: list[tuple[str, int, int, int]]  # clinic code, vouchers used, claims, approved
    claims: dict[str, int]  # status -> claims


def overview(store: Any, today: date, now: datetime) -> Overview:
    q = store.query
    trimesters = {1: 0, 2: 0, 3: 0}
    for trimester, count in q(
            "SELECT CASE WHEN g < ? THEN 1 WHEN g < ? THEN 2 ELSE 3 END, count(*) FROM ("
            " SELECT ? - (julianday(expected) - julianday(?)) AS g FROM pmh_ix_pregnancies"
            " WHERE expected >= ? AND expected <= date(?, '+280 days')) GROUP BY 1",
            (*TRIMESTER_DAYS, TERM_DAYS, today.isoformat(), today.isoformat(),
             today.isoformat())):
        trimesters[trimester] = count
    checkups = [(k, due, done) for k, due, done in q(
        "SELECT v.kind, count(*), count(u.voucher) FROM pmh_ix_vouchers v"
        " LEFT JOIN pmh_voucher_uses u ON u.voucher = v.id"
        " WHERE v.valid_from IS NULL OR v.valid_from <= ? GROUP BY v.kind ORDER BY v.kind",
        (today.isoformat(),))]
    stamp = now.isoformat()
    (open_, overdue), = q("SELECT count(*), count(CASE WHEN due_by < ? THEN 1 END)"
                          " FROM pmh_followups WHERE status = 'open'", (stamp,))
    first = str(today.year - COHORT_YEARS + 1)
    cohorts = [(y, n) for y, n in q(
        "SELECT substr(birth, 1, 4), count(*) FROM pmh_ix_children WHERE birth >= ?"
        " GROUP BY 1 ORDER BY 1 DESC", (first,))]
    coverage = {(y, v): n for y, v, n in q(
        "SELECT substr(c.birth, 1, 4), d.vaccine, count(DISTINCT d.subject)"
        " FROM pmh_ix_children c JOIN pmh_ix_doses d ON d.subject = c.id"
        " WHERE c.birth >= ? GROUP BY 1, 2", (first,))}
    vaccines = sorted({v for _, v in coverage})
    clinics: dict[str, list[int]] = {}
    for code, used in q("SELECT coalesce(x.clinic_code, '?'), count(*) FROM pmh_voucher_uses u"
                        " LEFT JOIN pmh_ix_visits x ON x.id = u.encounter GROUP BY 1"):
        clinics.setdefault(code, [0, 0, 0])[0] = used
    for code, n, approved in q("SELECT coalesce(clinic_code, '?'), count(*),"
                               " count(CASE WHEN status = 'approved' THEN 1 END)"
                               " FROM pmh_claims GROUP BY 1"):
        clinics.setdefault(code, [0, 0, 0])[1:] = [n, approved]
    claims = dict(q("SELECT status, count(*) FROM pmh_claims GROUP BY status"))
    return Overview(trimesters, checkups, open_, overdue, cohorts, coverage, vaccines,
                    sorted((c, *v) for c, v in clinics.items()), claims)


def children_among(store: Any, people: set[str]) -> list[str]:
    """Which of ``people`` are children the municipality holds (oldest first)."""
    if not people:
        return []
    marks = ", ".join("?" * len(people))
    return [r[0] for r in store.query(
        f"SELECT id FROM pmh_ix_children WHERE id IN ({marks}) ORDER BY birth, id",
        tuple(sorted(people)))]


def ids_about(store: Any, table: str, subject: str, *, measurement: tuple[str, ...] = ()
              ) -> list[str]:
    """Ids of the indexed records about ``subject`` in ``table`` (visits, observations,
    doses), oldest first."""
    assert table in ("pmh_ix_visits", "pmh_ix_observations", "pmh_ix_doses")
    sql, args = f"SELECT id FROM {table} WHERE subject = ?", [subject]
    if measurement:
        sql += f" AND measurement IN ({', '.join('?' * len(measurement))})"
        args += measurement
    return [r[0] for r in store.query(sql + " ORDER BY day, id", tuple(args))]
