"""The supply request state machine: requested -> committed -> delivered, or cancelled.

Pure: a step takes the current record's fields and returns the fields to change, or raises
``SupplyError`` naming what is wrong. The requester (the shelter that holds the record)
creates and cancels; the supplier commits and delivers. A delivered or cancelled request is
final. Who may take a step is decided here by *role in the request*, so the holder can apply
the same check to a contribution it receives as the supplier applies before sending one.
"""

from __future__ import annotations

from collections.abc import Mapping
from enum import StrEnum
from typing import Any

from domains.bosai.errors import BosaiCode
from trust.errors import TsunaguError


class SupplyError(TsunaguError):
    code = BosaiCode.SUPPLY_INVALID


class Status(StrEnum):
    REQUESTED = "requested"
    COMMITTED = "committed"
    DELIVERED = "delivered"
    CANCELLED = "cancelled"


class Actor(StrEnum):
    REQUESTER = "requester"  # the shelter operator holding the request
    SUPPLIER = "supplier"


class Step(StrEnum):
    COMMIT = "commit"
    DELIVER = "deliver"
    CANCEL = "cancel"


# step -> (states it may start from, state it leads to, who may take it)
STEPS: dict[Step, tuple[frozenset[Status], Status, Actor]] = {
    Step.COMMIT: (frozenset({Status.REQUESTED}), Status.COMMITTED, Actor.SUPPLIER),
    Step.DELIVER: (frozenset({Status.COMMITTED}), Status.DELIVERED, Actor.SUPPLIER),
    Step.CANCEL: (frozenset({Status.REQUESTED, Status.COMMITTED}), Status.CANCELLED,
                  Actor.REQUESTER),
}
FINAL = frozenset({Status.DELIVERED, Status.CANCELLED})
# The fields each step may write: a supplier's contribution is scoped to these by policy.
STEP_FIELDS: dict[Step, frozenset[str]] = {
    Step.COMMIT: frozenset({"status", "committedBy", "committedQuantity", "expectedDelivery",
                            "committedAt"}),
    Step.DELIVER: frozenset({"status", "deliveredQuantity", "deliveredAt"}),
    Step.CANCEL: frozenset({"status", "cancelReason", "cancelledAt"}),
}
SUPPLIER_FIELDS = STEP_FIELDS[Step.COMMIT] | STEP_FIELDS[Step.DELIVER]


def status_of(record: Mapping[str, Any]) -> Status:
    try:
        return Status(record.get("status"))
    except ValueError:
        raise SupplyError(f"unknown supply request status {record.get('status')!r}",
                          field="status") from None


def step(record: Mapping[str, Any], action: Step, actor: Actor, *, at: str,
         by: str | None = None, quantity: int | None = None,
         expected: str | None = None, reason: str | None = None) -> dict[str, Any]:
    """The fields ``action`` by ``actor`` changes on ``record`` (ISO time ``at``)."""
    sources, target, allowed = STEPS[action]
    current = status_of(record)
    if actor is not allowed:
        raise SupplyError(f"only the {allowed.value} may {action.value} a supply request",
                          code=BosaiCode.SUPPLY_NOT_ALLOWED, step=action.value)
    if current not in sources:
        raise SupplyError(f"a {current.value} supply request cannot be {target.value}",
                          code=BosaiCode.SUPPLY_BAD_TRANSITION, current=current.value,
                          step=action.value)
    requested = int(record.get("quantity", 0))
    if action is Step.COMMIT:
        if not by:
            raise SupplyError("a commitment names the supplier", field="committedBy")
        amount = requested if quantity is None else quantity
        _check_quantity(amount, requested, "committedQuantity")
        change = {"status": target.value, "committedBy": by, "committedQuantity": amount,
                  "committedAt": at}
        if expected is not None:
            change["expectedDelivery"] = expected
        return change
    if action is Step.DELIVER:
        committed = int(record.get("committedQuantity", requested))
        amount = committed if quantity is None else quantity
        _check_quantity(amount, committed, "deliveredQuantity")
        return {"status": target.value, "deliveredQuantity": amount, "deliveredAt": at}
    if not reason or not reason.strip():
        raise SupplyError("a cancellation gives its reason", field="cancelReason")
    return {"status": target.value, "cancelReason": reason.strip()[:500], "cancelledAt": at}


def _check_quantity(amount: int, most: int, field: str) -> None:
    if isinstance(amount, bool) or not isinstance(amount, int) or not 0 < amount <= most:
        raise SupplyError(f"{field} must be a whole number from 1 to {most}", field=field)


def check_change(before: Mapping[str, Any], after: Mapping[str, Any], actor: Actor) -> Step:
    """The step a whole new version takes (the holder's check of a received contribution):
    exactly one allowed step, writing only that step's fields. Returns the step."""
    old, new = status_of(before), status_of(after)
    changed = {k for k in set(before) | set(after) if before.get(k) != after.get(k)}
    for action, (sources, target, allowed) in STEPS.items():
        if old in sources and new is target:
            if actor is not allowed:
                raise SupplyError(f"only the {allowed.value} may {action.value} a supply "
                                  "request", code=BosaiCode.SUPPLY_NOT_ALLOWED, step=action.value)
            extra = sorted(changed - STEP_FIELDS[action])
            if extra:
                raise SupplyError(f"{action.value} may not change {', '.join(extra)}",
                                  code=BosaiCode.SUPPLY_FIELD_NOT_ALLOWED, fields=extra)
            return action
    raise SupplyError(f"a {old.value} supply request cannot become {new.value}",
                      code=BosaiCode.SUPPLY_BAD_TRANSITION, current=old.value)
