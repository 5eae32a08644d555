"""The hub's index of the municipality's own records: a few columns per record, kept in
step by the record listener (same transaction), so the health-department view counts with
SQL over indexed columns and the family view finds a person's records without reading a
whole dataset. The records themselves stay with the connector (``connector.records``).

A voucher's ``used_by`` is the visit that named it (the rules let a visit name only an
unused one; ``pmh_voucher_uses`` stays the authority on uses).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import date
from typing import Any

from domains.pmh import vocab
from domains.pmh.model import blood_tests

SCHEMA = """
CREATE TABLE IF NOT EXISTS pmh_ix_children (
    id TEXT PRIMARY KEY, birth TEXT NOT NULL, sex TEXT);
CREATE INDEX IF NOT EXISTS pmh_ix_children_birth ON pmh_ix_children(birth);
CREATE TABLE IF NOT EXISTS pmh_ix_pregnancies (
    id TEXT PRIMARY KEY, mother TEXT NOT NULL, expected TEXT NOT NULL);
CREATE INDEX IF NOT EXISTS pmh_ix_pregnancies_expected ON pmh_ix_pregnancies(expected);
CREATE TABLE IF NOT EXISTS pmh_ix_visits (
    id TEXT PRIMARY KEY, subject TEXT NOT NULL, kind TEXT NOT NULL, day TEXT NOT NULL,
    clinic_code TEXT, voucher TEXT);
CREATE INDEX IF NOT EXISTS pmh_ix_visits_subject ON pmh_ix_visits(subject, day);
CREATE INDEX IF NOT EXISTS pmh_ix_visits_clinic ON pmh_ix_visits(clinic_code);
CREATE TABLE IF NOT EXISTS pmh_ix_observations (
    id TEXT PRIMARY KEY, subject TEXT NOT NULL, encounter TEXT, measurement TEXT NOT NULL,
    day TEXT NOT NULL);
CREATE INDEX IF NOT EXISTS pmh_ix_observations_subject ON pmh_ix_observations(subject);
CREATE TABLE IF NOT EXISTS pmh_ix_doses (
    id TEXT PRIMARY KEY, subject TEXT NOT NULL, vaccine TEXT NOT NULL, dose INTEGER,
    day TEXT NOT NULL);
CREATE INDEX IF NOT EXISTS pmh_ix_doses_vaccine ON pmh_ix_doses(vaccine, subject);
CREATE INDEX IF NOT EXISTS pmh_ix_doses_subject ON pmh_ix_doses(subject);
CREATE TABLE IF NOT EXISTS pmh_ix_vouchers (
    id TEXT PRIMARY KEY, subject TEXT NOT NULL, kind TEXT NOT NULL, valid_from TEXT,
    used_by TEXT);
CREATE INDEX IF NOT EXISTS pmh_ix_vouchers_kind ON pmh_ix_vouchers(kind, valid_from);
CREATE TABLE IF NOT EXISTS pmh_ix_blood_tests (
    id TEXT PRIMARY KEY, subject TEXT NOT NULL, test TEXT NOT NULL, weeks INTEGER NOT NULL,
    day TEXT NOT NULL, in_period INTEGER NOT NULL);  -- 0: outside the standard periods
"""
TABLES = ("pmh_ix_children", "pmh_ix_pregnancies", "pmh_ix_visits", "pmh_ix_observations",
          "pmh_ix_doses", "pmh_ix_vouchers", "pmh_ix_blood_tests")


def _day(value: Any) -> str:
    return str(value or "")[:10]


def _row(record: Mapping[str, Any]) -> tuple[str, tuple[Any, ...]] | None:
    """(table, values) for a record the index keeps, or None."""
    kind, rid = record.get("type"), record.get("id")
    if kind == vocab.CHILD and record.get("birthDate"):
        return "pmh_ix_children", (rid, record["birthDate"], record.get("sex"))
    if kind == vocab.PREGNANCY and record.get("expectedDelivery"):
        return "pmh_ix_pregnancies", (rid, record.get("mother"), record["expectedDelivery"])
    if kind == vocab.ENCOUNTER:
        return "pmh_ix_visits", (rid, record.get("subject"), record.get("encounterKind"),
                                 _day(record.get("start")),
                                 (record.get("clinic") or {}).get("code"),
                                 record.get("voucher"))
    if kind == vocab.OBSERVATION:
        return "pmh_ix_observations", (rid, record.get("subject"), record.get("encounter"),
                                       record.get("measurement"), _day(record.get("effective")))
    if kind == vocab.IMMUNIZATION:
        return "pmh_ix_doses", (rid, record.get("subject"), record.get("vaccine"),
                                record.get("doseNumber"), _day(record.get("occurred")))
    if kind == vocab.VOUCHER:
        return "pmh_ix_vouchers", (rid, record.get("subject"), record.get("voucherKind"),
                                   record.get("validFrom"), None)
    return None


def keep(db: Any, record: Mapping[str, Any], deleted: bool) -> bool:
    """Put ``record`` in the index (or take it out); whether the index holds its type."""
    found = _row(record)
    if found is None:
        return False
    table, values = found
    gone = deleted or bool(record.get("deleted"))
    if gone:
        db.execute(f"DELETE FROM {table} WHERE id = ?", (values[0],))
    elif table == "pmh_ix_vouchers":  # keep used_by when a voucher is revised
        db.execute("INSERT INTO pmh_ix_vouchers VALUES (?, ?, ?, ?, NULL) ON CONFLICT(id) DO "
                   "UPDATE SET subject = excluded.subject, kind = excluded.kind, "
                   "valid_from = excluded.valid_from", values[:4])
    else:
        marks = ", ".join("?" * len(values))
        db.execute(f"INSERT OR REPLACE INTO {table} VALUES ({marks})", values)
    if table == "pmh_ix_observations":
        _keep_blood_test(db, record, gone)
    if table == "pmh_ix_visits" and record.get("voucher"):
        db.execute("UPDATE pmh_ix_vouchers SET used_by = ? WHERE id = ?",
                   (None if gone else values[0], record["voucher"]))
    return True


def _keep_blood_test(db: Any, record: Mapping[str, Any], gone: bool) -> None:
    """A pregnancy blood test, with whether its gestational age is in a standard period
    (blood_tests.toml): one outside is kept and counted, not refused."""
    found = blood_tests.assess(dict(record))
    if found is None:
        return
    if gone:
        db.execute("DELETE FROM pmh_ix_blood_tests WHERE id = ?", (record["id"],))
        return
    db.execute("INSERT OR REPLACE INTO pmh_ix_blood_tests VALUES (?, ?, ?, ?, ?, ?)",
               (record["id"], record.get("subject"), record["measurement"], record["weeks"],
                _day(record.get("effective")), int(found[1] is not None)))


def rebuild(db: Any, records: Iterable[Mapping[str, Any]]) -> int:
    """Index ``records`` afresh (at setup, or at startup when the index is new: the live
    own records stored before it existed); vouchers first, so visits mark them used."""
    for table in TABLES:
        db.execute(f"DELETE FROM {table}")
    held = sorted(records, key=lambda r: r.get("type") != vocab.VOUCHER)
    return sum(keep(db, r, False) for r in held)


# ---------------------------------------------------------------------------- counting

def trimesters(store: Any, today: date) -> dict[int, int]:
    """Pregnancies by trimester today (1: to 13w6d, 2: 14w0d-27w6d, 3: from 28w0d), of
    those whose expected delivery is today or later."""
    found = {1: 0, 2: 0, 3: 0}
    day = today.isoformat()
    for trimester, count in store.query(
            "SELECT CASE WHEN g < 98 THEN 1 WHEN g < 196 THEN 2 ELSE 3 END, count(*) FROM ("
            " SELECT 280 - (julianday(expected) - julianday(?)) AS g FROM pmh_ix_pregnancies"
            " WHERE expected >= ? AND expected <= date(?, '+280 days')) GROUP BY 1",
            (day, day, day)):
        found[trimester] = count
    return found


def vouchers_due_and_used(store: Any, today: date) -> list[tuple[str, int, int]]:
    """(voucher kind, vouchers valid by today, of those used), by kind."""
    return [tuple(r) for r in store.query(
        "SELECT kind, count(*), count(used_by) FROM pmh_ix_vouchers"
        " WHERE valid_from IS NULL OR valid_from <= ? GROUP BY kind ORDER BY kind",
        (today.isoformat(),))]


def blood_tests_done(store: Any) -> list[tuple[str, int, int]]:
    """(test, taken, of those outside the standard periods), by test."""
    return [tuple(r) for r in store.query(
        "SELECT test, count(*), count(CASE WHEN in_period = 0 THEN 1 END)"
        " FROM pmh_ix_blood_tests GROUP BY test ORDER BY test")]


def _by_id(db: Any, sql: str, ids: list[str]) -> dict[str, Any]:
    found: dict[str, Any] = {}
    for start in range(0, len(ids), 500):  # under SQLite's bound-parameter limit
        chunk = ids[start:start + 500]
        marks = ",".join("?" * len(chunk))
        found.update(db.execute(sql.format(marks=marks), chunk).fetchall())
    return found


def visit_clinics(db: Any, encounters: list[str]) -> dict[str, str | None]:
    """The 医療機関コード each visit (Encounter id) was recorded with."""
    return _by_id(db, "SELECT id, clinic_code FROM pmh_ix_visits WHERE id IN ({marks})",
                  encounters)


def voucher_kinds(db: Any, vouchers: list[str]) -> dict[str, str]:
    """The kind (checkup it pays for) of each voucher id."""
    return _by_id(db, "SELECT id, kind FROM pmh_ix_vouchers WHERE id IN ({marks})", vouchers)


def vouchers_used_by_clinic(store: Any) -> dict[str, int]:
    return dict(store.query("SELECT coalesce(clinic_code, '?'), count(*) FROM pmh_ix_visits"
                            " WHERE voucher IS NOT NULL GROUP BY 1"))


def cohorts(store: Any, first_year: int) -> tuple[list[tuple[str, int]],
                                                   dict[tuple[str, str], int]]:
    """Children by birth year from ``first_year`` (newest first), and per (year, vaccine)
    how many have at least one dose."""
    first = str(first_year)
    sizes = [tuple(r) for r in store.query(
        "SELECT substr(birth, 1, 4), count(*) FROM pmh_ix_children WHERE birth >= ?"
        " GROUP BY 1 ORDER BY 1 DESC", (first,))]
    dosed = {(y, v): n for y, v, n in store.query(
        "SELECT substr(c.birth, 1, 4), d.vaccine, count(DISTINCT d.subject)"
        " FROM pmh_ix_children c JOIN pmh_ix_doses d ON d.subject = c.id"
        " WHERE c.birth >= ? GROUP BY 1, 2", (first,))}
    return sizes, dosed


def children_among(store: Any, people: set[str]) -> list[str]:
    """Which of ``people`` are children the municipality holds (oldest first)."""
    if not people:
        return []
    marks = ", ".join("?" * len(people))
    return [r[0] for r in store.query(
        f"SELECT id FROM pmh_ix_children WHERE id IN ({marks}) ORDER BY birth, id",
        tuple(sorted(people)))]


def birth_and_sex(db: Any, child: Any) -> tuple[str, str | None] | None:
    """A child's birth date and sex as indexed, or None (inside a transaction: ``db``)."""
    found = db.execute("SELECT birth, sex FROM pmh_ix_children WHERE id = ?",
                       (child,)).fetchone()
    return None if found is None else (found[0], found[1])


ABOUT = {"visits": "pmh_ix_visits", "observations": "pmh_ix_observations",
         "doses": "pmh_ix_doses"}


def ids_about(store: Any, what: str, subject: str, *, measurement: tuple[str, ...] = ()
              ) -> list[str]:
    """Ids of the indexed ``what`` (visits, observations, doses) about ``subject``, oldest
    first."""
    sql, args = f"SELECT id FROM {ABOUT[what]} WHERE subject = ?", [subject]
    if measurement:
        sql += f" AND measurement IN ({', '.join('?' * len(measurement))})"
        args += measurement
    return [r[0] for r in store.query(sql + " ORDER BY day, id", tuple(args))]
