"""The supply request state machine: every allowed step, every refused one, by code."""

import pytest

from domains.bosai.supplies.lifecycle import (
    Actor,
    Status,
    Step,
    SupplyError,
    check_change,
    step,
)

AT = "2026-11-26T10:00:00Z"
SUPPLIER = "did:key:z6MkSupplier"


def request(**fields):
    return {"id": "urn:supply:1", "item": "infant_formula", "quantity": 20, "unit": "can",
            "urgency": "within_24h", "status": "requested", **fields}


def test_the_happy_path_commit_then_deliver():
    r = request()
    committed = {**r, **step(r, Step.COMMIT, Actor.SUPPLIER, at=AT, by=SUPPLIER, quantity=12,
                             expected="2026-11-27T09:00:00Z")}
    assert committed["status"] == "committed" and committed["committedQuantity"] == 12
    assert check_change(r, committed, Actor.SUPPLIER) is Step.COMMIT
    delivered = {**committed, **step(committed, Step.DELIVER, Actor.SUPPLIER, at=AT)}
    assert delivered["status"] == "delivered" and delivered["deliveredQuantity"] == 12
    assert check_change(committed, delivered, Actor.SUPPLIER) is Step.DELIVER


@pytest.mark.parametrize("status", ["requested", "committed"])
def test_the_requester_cancels_an_open_request_with_a_reason(status):
    r = request(status=status)
    cancelled = {**r, **step(r, Step.CANCEL, Actor.REQUESTER, at=AT, reason=" 他から届いた ")}
    assert cancelled["cancelReason"] == "他から届いた"
    assert check_change(r, cancelled, Actor.REQUESTER) is Step.CANCEL


@pytest.mark.parametrize(("status", "action", "actor"), [
    ("delivered", Step.CANCEL, Actor.REQUESTER),
    ("cancelled", Step.COMMIT, Actor.SUPPLIER),
    ("requested", Step.DELIVER, Actor.SUPPLIER),
    ("committed", Step.COMMIT, Actor.SUPPLIER),
])
def test_steps_from_the_wrong_state_are_refused(status, action, actor):
    with pytest.raises(SupplyError) as err:
        step(request(status=status, committedQuantity=5), action, actor, at=AT, by=SUPPLIER,
             reason="x")
    assert err.value.code == "supply.bad_transition"


@pytest.mark.parametrize(("action", "actor"), [
    (Step.COMMIT, Actor.REQUESTER), (Step.DELIVER, Actor.REQUESTER),
    (Step.CANCEL, Actor.SUPPLIER)])
def test_each_step_belongs_to_one_side(action, actor):
    with pytest.raises(SupplyError) as err:
        step(request(status="committed"), action, actor, at=AT, by=SUPPLIER, reason="x")
    assert err.value.code == "supply.not_allowed"


@pytest.mark.parametrize("quantity", [0, -1, 21, True, 2.5])
def test_a_commitment_is_between_one_and_the_quantity_asked(quantity):
    with pytest.raises(SupplyError) as err:
        step(request(), Step.COMMIT, Actor.SUPPLIER, at=AT, by=SUPPLIER, quantity=quantity)
    assert err.value.details["field"] == "committedQuantity"


def test_commit_needs_a_supplier_and_cancel_a_reason():
    with pytest.raises(SupplyError, match="names the supplier"):
        step(request(), Step.COMMIT, Actor.SUPPLIER, at=AT)
    with pytest.raises(SupplyError, match="reason"):
        step(request(), Step.CANCEL, Actor.REQUESTER, at=AT, reason="  ")


def test_a_contribution_may_not_change_more_than_its_step_writes():
    r = request()
    sneaky = {**r, **step(r, Step.COMMIT, Actor.SUPPLIER, at=AT, by=SUPPLIER), "quantity": 1}
    with pytest.raises(SupplyError) as err:
        check_change(r, sneaky, Actor.SUPPLIER)
    assert err.value.code == "supply.field_not_allowed"
    assert err.value.details["fields"] == ["quantity"]


def test_a_jump_that_is_no_step_is_refused():
    with pytest.raises(SupplyError) as err:
        check_change(request(), request(status="delivered"), Actor.SUPPLIER)
    assert err.value.code == "supply.bad_transition"


def test_an_unknown_status_is_named():
    with pytest.raises(SupplyError) as err:
        step(request(status="lost"), Step.COMMIT, Actor.SUPPLIER, at=AT, by=SUPPLIER)
    assert err.value.details["field"] == "status"
    assert {s.value for s in Status} == {"requested", "committed", "delivered", "cancelled"}
