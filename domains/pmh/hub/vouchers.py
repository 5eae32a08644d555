"""Which checkup vouchers (受診票) were used: ``pmh_voucher_uses``, one row per voucher.

The municipality holds each voucher as a ``CheckupVoucher`` record; whether it was used is
the hub's state, written in the transaction that stores the checkup that used it (the
record listener), so a checkup and its voucher's use commit together. The primary key makes
a second use impossible even if two checkups raced past the change rule's check.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date
from typing import Any

from connector.store.database import Error as DbError
from domains.pmh.errors import HubRefusal, PmhCode

SCHEMA = """
CREATE TABLE IF NOT EXISTS pmh_voucher_uses (
    voucher TEXT PRIMARY KEY,       -- the CheckupVoucher record id
    encounter TEXT NOT NULL,        -- the Encounter record that used it
    clinic TEXT NOT NULL,           -- the contributor's DID
    used_on TEXT NOT NULL,          -- the checkup date (YYYY-MM-DD)
    at TEXT NOT NULL
);
"""

# An Encounter's kind -> the voucher kinds that pay for it.
PAYS_FOR = {
    "pregnancy_checkup": ("pregnancy_checkup",),
    "postpartum_checkup": ("postpartum_checkup",),
    "newborn_hearing": ("newborn_hearing",),
    "infant_checkup": ("infant_checkup_1m", "infant_checkup_3_4m", "infant_checkup_6_7m",
                       "infant_checkup_9_10m", "infant_checkup_1y6m", "infant_checkup_3y"),
}


def used_by(store: Any, voucher: str) -> str | None:
    """The encounter that used ``voucher``, or None."""
    rows = store.query("SELECT encounter FROM pmh_voucher_uses WHERE voucher = ?", (voucher,))
    return rows[0][0] if rows else None


def use(db: Any, voucher: str, encounter: str, clinic: str, on: str, at: str) -> None:
    """Mark ``voucher`` used, inside the transaction storing the visit; a second use that
    raced past the change rule fails here and rolls the visit back."""
    try:
        db.execute("INSERT INTO pmh_voucher_uses (voucher, encounter, clinic, used_on, at) "
                   "VALUES (?, ?, ?, ?, ?)", (voucher, encounter, clinic, on, at))
    except DbError:
        if used_by_in(db, voucher) is None:
            raise
        raise HubRefusal("the voucher was already used", code=PmhCode.VOUCHER_USED,
                         field="voucher") from None


def used_in_month(db: Any, month: str) -> list[tuple[str, str, str]]:
    """(voucher, encounter, used on) of every voucher used in ``month`` (YYYY-MM)."""
    return [tuple(r) for r in db.execute(
        "SELECT voucher, encounter, used_on FROM pmh_voucher_uses"
        " WHERE substr(used_on, 1, 7) = ? ORDER BY used_on, voucher", (month,)).fetchall()]


def used_by_in(db: Any, voucher: str) -> str | None:
    rows = db.execute("SELECT encounter FROM pmh_voucher_uses WHERE voucher = ?",
                      (voucher,)).fetchall()
    return rows[0][0] if rows else None


def check_usable(voucher: Mapping[str, Any] | None, *, subject: str, kind: str, on: date,
                 issuer: str) -> None:
    """Refuse (``pmh.voucher_invalid``) a voucher that cannot pay for this checkup: not
    held, of another person or municipality, of another kind, or not valid that day. Pure:
    whether it was used is asked apart (``used_by``)."""
    def bad(why: str) -> HubRefusal:
        return HubRefusal(f"the voucher {why}", code=PmhCode.VOUCHER_INVALID, field="voucher")

    if voucher is None or voucher.get("type") != "CheckupVoucher":
        raise bad("is not one this municipality issued")
    if voucher.get("subject") != subject:
        raise bad("was issued for another person")
    if (voucher.get("issuer") or {}).get("code") != issuer:
        raise bad("was issued by another municipality")
    if voucher.get("voucherKind") not in PAYS_FOR.get(kind, ()):
        raise bad(f"is not a voucher for a {kind}")
    start, until = voucher.get("validFrom"), voucher.get("validUntil")
    if (start and on < date.fromisoformat(start)) or (until and on > date.fromisoformat(until)):
        raise bad("is not valid on the checkup date")
