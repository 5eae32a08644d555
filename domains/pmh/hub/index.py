"""The hub's index of the municipality's own records: a few columns per record, kept in
step by the record listener (same transaction), so the health-department view counts with
SQL over indexed columns and the family view finds a person's records without reading a
whole dataset. The records themselves stay in the connector's ``records`` table.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from connector.store.database import loads
from domains.pmh import vocab

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
    id TEXT PRIMARY KEY, subject TEXT NOT NULL, kind TEXT NOT NULL, valid_from TEXT);
CREATE INDEX IF NOT EXISTS pmh_ix_vouchers_kind ON pmh_ix_vouchers(kind, valid_from);
"""
TABLES = ("pmh_ix_children", "pmh_ix_pregnancies", "pmh_ix_visits", "pmh_ix_observations",
          "pmh_ix_doses", "pmh_ix_vouchers")


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
                                   record.get("validFrom"))
    return None


def keep(db: Any, record: Mapping[str, Any], deleted: bool) -> bool:
    """Put ``record`` in the index (or take it out); whether the index holds its type."""
    found = _row(record)
    if found is None:
        return False
    table, values = found
    if deleted or record.get("deleted"):
        db.execute(f"DELETE FROM {table} WHERE id = ?", (values[0],))
    else:
        marks = ", ".join("?" * len(values))
        db.execute(f"INSERT OR REPLACE INTO {table} VALUES ({marks})", values)
    return True


def rebuild(db: Any, prefix: str) -> int:
    """Index every live own record in the datasets under ``prefix`` (at startup, when the
    index is new: records stored before it existed)."""
    count = 0
    for table in TABLES:
        db.execute(f"DELETE FROM {table}")
    rows = db.execute("SELECT body FROM records WHERE dataset_id LIKE ? AND deleted = 0",
                      (prefix + "%",)).fetchall()
    for (body,) in rows:
        count += keep(db, loads(body), False)
    return count
