"""Voucher settlement (精算) with clinics: the municipality pays each clinic, per 医療機関コード
and month, for the checkup vouchers (受診票) used there, at its own unit price per voucher kind.

``pmh_voucher_prices`` holds the unit prices (data the municipality sets);
``pmh_settlements`` the batches (created -> approved -> paid); ``pmh_settlement_lines`` one
row per voucher settled, its primary key making a second settlement of a voucher impossible
(a batch created while another takes the same voucher fails whole). The vouchers to settle
are read from the uses (``pmh_voucher_uses``, owned by ``vouchers``) and the hub's index of
visits and vouchers (``index``), inside the transaction that writes the batch.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Mapping
from typing import Any

from connector.store.database import Error as DbError
from domains.pmh.errors import HubRefusal, PmhCode
from domains.pmh.hub import index, vouchers
from trust.errors import ValidationError

SCHEMA = """
CREATE TABLE IF NOT EXISTS pmh_voucher_prices (
    voucher_kind TEXT PRIMARY KEY,  -- a CheckupVoucher kind
    unit_yen INTEGER NOT NULL CHECK (unit_yen >= 0)
);
CREATE TABLE IF NOT EXISTS pmh_settlements (
    id TEXT PRIMARY KEY,
    clinic_code TEXT NOT NULL,      -- 医療機関コード
    month TEXT NOT NULL,            -- YYYY-MM of the checkups settled
    status TEXT NOT NULL,           -- created | approved | paid
    vouchers INTEGER NOT NULL,
    amount_yen INTEGER NOT NULL,
    created TEXT NOT NULL,
    created_by TEXT NOT NULL,
    approved TEXT,
    approved_by TEXT,
    paid_on TEXT,                   -- the payment date (YYYY-MM-DD)
    paid_by TEXT
);
CREATE INDEX IF NOT EXISTS pmh_settlements_clinic ON pmh_settlements(clinic_code, month);
CREATE TABLE IF NOT EXISTS pmh_settlement_lines (
    voucher TEXT PRIMARY KEY,       -- a voucher is settled at most once
    settlement TEXT NOT NULL,
    encounter TEXT NOT NULL,
    voucher_kind TEXT NOT NULL,
    used_on TEXT NOT NULL,
    unit_yen INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS pmh_settlement_lines_batch ON pmh_settlement_lines(settlement);
"""

CREATED, APPROVED, PAID = "created", "approved", "paid"
NEXT = {APPROVED: CREATED, PAID: APPROVED}  # a step -> the state it needs
_COLUMNS = ("id", "clinic_code", "month", "status", "vouchers", "amount_yen", "created",
            "created_by", "approved", "approved_by", "paid_on", "paid_by")
_MONTH = re.compile(r"^[0-9]{4}-(0[1-9]|1[0-2])$")
_CLINIC = re.compile(r"^[0-9]{10}$")


def set_price(db: Any, kind: str, unit_yen: int) -> None:
    if not isinstance(unit_yen, int) or isinstance(unit_yen, bool) or unit_yen < 0:
        raise ValidationError("a unit price is a whole number of yen, 0 or more",
                              field="unit_yen")
    db.execute("INSERT OR REPLACE INTO pmh_voucher_prices (voucher_kind, unit_yen) "
               "VALUES (?, ?)", (kind, unit_yen))


def prices(store: Any) -> dict[str, int]:
    return dict(store.query("SELECT voucher_kind, unit_yen FROM pmh_voucher_prices"))


def _unsettled(db: Any, clinic_code: str, month: str) -> list[tuple[str, str, str, str]]:
    """(voucher, encounter, kind, used on) of the clinic's vouchers used that month and not
    yet in any batch: the uses are ``vouchers``' and the visits' clinics and the vouchers'
    kinds the ``index``'s, each asked of its owner."""
    uses = vouchers.used_in_month(db, month)
    clinics = index.visit_clinics(db, [encounter for _, encounter, _ in uses])
    mine = [u for u in uses if clinics.get(u[1]) == clinic_code]
    settled = {r[0] for r in db.execute("SELECT voucher FROM pmh_settlement_lines").fetchall()}
    kinds = index.voucher_kinds(db, [voucher for voucher, _, _ in mine])
    return [(voucher, encounter, kinds[voucher], used_on)
            for voucher, encounter, used_on in mine
            if voucher not in settled and voucher in kinds]


def create(db: Any, *, clinic_code: str, month: str, by: str, at: str) -> str:
    """A batch of the clinic's vouchers used in ``month`` not settled yet, at today's unit
    prices; its id. Refused when none is left (``pmh.settlement_empty``) or a kind has no
    price (``pmh.settlement_price``, naming the kind)."""
    if not isinstance(clinic_code, str) or not _CLINIC.match(clinic_code):
        raise ValidationError("clinic is a 10-digit 医療機関コード", field="clinic")
    if not isinstance(month, str) or not _MONTH.match(month):
        raise ValidationError("month is YYYY-MM", field="month")
    rows = _unsettled(db, clinic_code, month)
    if not rows:
        raise HubRefusal("no used voucher of that clinic and month is left to settle",
                         code=PmhCode.SETTLEMENT_EMPTY, field="month")
    unit = dict(db.execute("SELECT voucher_kind, unit_yen FROM pmh_voucher_prices").fetchall())
    missing = sorted({kind for _, _, kind, _ in rows if kind not in unit})
    if missing:
        raise HubRefusal(f"no unit price is set for {', '.join(missing)}",
                         code=PmhCode.SETTLEMENT_PRICE, field="voucherKind",
                         kinds=missing)
    batch = f"urn:uuid:{uuid.uuid4()}"
    try:
        db.executemany("INSERT INTO pmh_settlement_lines (voucher, settlement, encounter, "
                       "voucher_kind, used_on, unit_yen) VALUES (?, ?, ?, ?, ?, ?)",
                       [(v, batch, e, kind, on, unit[kind]) for v, e, kind, on in rows])
    except DbError:  # another batch took one of them first: nothing of this one is kept
        raise HubRefusal("a voucher of this batch was settled meanwhile: create it again",
                         code=PmhCode.SETTLEMENT_STATE) from None
    db.execute(f"INSERT INTO pmh_settlements ({', '.join(_COLUMNS[:8])}) VALUES "
               "(?, ?, ?, ?, ?, ?, ?, ?)",
               (batch, clinic_code, month, CREATED, len(rows),
                sum(unit[kind] for _, _, kind, _ in rows), at, by))
    return batch


def step(db: Any, batch: Mapping[str, Any], to: str, *, by: str, at: str,
         paid_on: str | None = None) -> None:
    """Approve (created -> approved) or mark paid (approved -> paid)."""
    if batch["status"] != NEXT[to]:
        raise HubRefusal(f"the batch is {batch['status']}: it must be {NEXT[to]} to be {to}",
                         code=PmhCode.SETTLEMENT_STATE, settlement=batch["id"])
    if to == APPROVED:
        db.execute("UPDATE pmh_settlements SET status = ?, approved = ?, approved_by = ? "
                   "WHERE id = ? AND status = ?", (to, at, by, batch["id"], CREATED))
    else:
        db.execute("UPDATE pmh_settlements SET status = ?, paid_on = ?, paid_by = ? "
                   "WHERE id = ? AND status = ?", (to, paid_on, by, batch["id"], APPROVED))


def get(store: Any, batch: str) -> dict[str, Any]:
    """A batch with its lines summed by voucher kind (count, unit price, amount)."""
    rows = store.query(f"SELECT {', '.join(_COLUMNS)} FROM pmh_settlements WHERE id = ?",
                       (batch,))
    if not rows:
        raise HubRefusal("no such settlement batch", code=PmhCode.SETTLEMENT_NOT_FOUND,
                         settlement=batch)
    found = dict(zip(_COLUMNS, rows[0], strict=True))
    found["lines"] = [{"voucherKind": kind, "count": n, "unitYen": unit, "amountYen": n * unit}
                      for kind, unit, n in store.query(
                          "SELECT voucher_kind, unit_yen, count(*) FROM pmh_settlement_lines"
                          " WHERE settlement = ? GROUP BY 1, 2 ORDER BY 1, 2", (batch,))]
    return found


def listed(store: Any, *, status: str | None = None) -> list[dict[str, Any]]:
    ids = [r[0] for r in store.query("SELECT id FROM pmh_settlements ORDER BY month, "
                                     "clinic_code, created, id")]
    found = [get(store, i) for i in ids]
    return [b for b in found if status is None or b["status"] == status]


def by_clinic(store: Any) -> dict[str, tuple[int, int, int]]:
    """医療機関コード -> (vouchers in batches not yet paid, vouchers paid, yen paid)."""
    return {code: (pending, paid, yen) for code, pending, paid, yen in store.query(
        "SELECT clinic_code,"
        " sum(CASE WHEN status != 'paid' THEN vouchers ELSE 0 END),"
        " sum(CASE WHEN status = 'paid' THEN vouchers ELSE 0 END),"
        " sum(CASE WHEN status = 'paid' THEN amount_yen ELSE 0 END)"
        " FROM pmh_settlements GROUP BY clinic_code")}
