"""Voucher settlement (精算) with clinics, through real connectors: vouchers used at a clinic
in a month are settled in a batch at the municipality's unit prices, approved, then marked
paid; a voucher is settled at most once; the dashboard's "by clinic" shows the real figures."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest

from domains.pmh.hub.api import CLINIC, SETTLEMENT
from domains.pmh.views.pages import dashboard_sections
from domains.pmh.views.queries import overview
from tests.domains.pmh import family
from tests.domains.pmh.flows.support import (
    TOKYO_CLINIC,
    TOKYO_CLINIC_NUMBER,
    VOUCHER_6,
    clinic,
    municipality,
)

PRICES = {"pregnancy_checkup": 5040, "infant_checkup_1m": 6000}
JUNE = {"subject": family.MOTHER, "encounterKind": "pregnancy_checkup",
        "start": "2026-06-01T10:00:00+09:00", "clinic": TOKYO_CLINIC,
        "voucher": family.VOUCHER}


@pytest.fixture
async def space(start_pmh):
    city = await municipality(start_pmh)
    city.hub.set_voucher_prices(PRICES)  # the town changes its prices: from now on
    tokyo = await clinic(start_pmh, city, number=TOKYO_CLINIC_NUMBER, name="つなぐ産婦人科")
    for visit in (JUNE, {**JUNE, "start": "2026-06-29", "voucher": VOUCHER_6}):
        status, body = await tokyo.call("POST", "checkups", {
            "municipality": "131016", "encounter": visit, "observations": []}, CLINIC)
        assert status == 201, body
    return city, tokyo


async def settle(city, path, body):
    return await city.call("POST", path, body, SETTLEMENT)


async def test_a_batch_is_created_approved_and_paid(space):
    city, _ = space
    status, batch = await settle(city, "settlements",
                                 {"clinic": TOKYO_CLINIC["code"], "month": "2026-06"})
    assert status == 201, batch
    assert (batch["status"], batch["vouchers"], batch["amount_yen"]) == ("created", 2, 10080)
    assert batch["lines"] == [{"voucherKind": "pregnancy_checkup", "count": 2,
                               "unitYen": 5040, "amountYen": 10080}]
    counted = overview(city.connector.store, date(2026, 6, 30), datetime.now(UTC))
    assert counted.clinics == [(TOKYO_CLINIC["code"], 2, 2, 0, 0, 0, 0)]  # in settlement
    # Paid only once approved.
    status, refused = await settle(city, "settlements:pay",
                                   {"settlement": batch["id"], "paidOn": "2026-07-31"})
    assert (status, refused["code"]) == (409, "pmh.settlement_state")
    status, approved = await settle(city, "settlements:approve", {"settlement": batch["id"]})
    assert (status, approved["status"]) == (200, "approved") and approved["approved_by"]
    status, paid = await settle(city, "settlements:pay",
                                {"settlement": batch["id"], "paidOn": "2026-07-31"})
    assert (status, paid["status"], paid["paid_on"]) == (200, "paid", "2026-07-31")
    status, again = await settle(city, "settlements:approve", {"settlement": batch["id"]})
    assert (status, again["code"]) == (409, "pmh.settlement_state")
    counted = overview(city.connector.store, date(2026, 7, 31), datetime.now(UTC))
    assert counted.clinics == [(TOKYO_CLINIC["code"], 2, 0, 2, 10080, 0, 0)]
    shown = str(dashboard_sections(counted, "ja")["clinics"])
    assert "10,080" in shown and "精算済み（支払済）" in shown
    assert city.connector.audit.entries("pmh_settlement_paid")
    status, listed = await city.call("GET", "settlements?status=paid", None, SETTLEMENT)
    assert [b["id"] for b in listed["settlements"]] == [batch["id"]]


async def test_a_voucher_is_settled_at_most_once(space):
    city, _ = space
    first = await settle(city, "settlements", {"clinic": TOKYO_CLINIC["code"],
                                               "month": "2026-06"})
    assert first[0] == 201
    status, body = await settle(city, "settlements", {"clinic": TOKYO_CLINIC["code"],
                                                      "month": "2026-06"})
    assert (status, body["code"]) == (409, "pmh.settlement_empty")
    lines = city.connector.store.query("SELECT count(*) FROM pmh_settlement_lines")
    assert lines == [(2,)]


@pytest.mark.parametrize("body, status, code", [
    ({"clinic": "1312345678", "month": "2026-13"}, 400, "input.invalid"),
    ({"clinic": "13123", "month": "2026-06"}, 400, "input.invalid"),
    ({"clinic": "1312345678", "month": "2026-05"}, 409, "pmh.settlement_empty"),
    ({"clinic": "0112345678", "month": "2026-06"}, 409, "pmh.settlement_empty"),
])
async def test_bad_batches_are_refused_and_nothing_kept(space, body, status, code):
    city, _ = space
    answer = await settle(city, "settlements", body)
    assert (answer[0], answer[1]["code"]) == (status, code), answer
    assert city.connector.store.query("SELECT count(*) FROM pmh_settlements") == [(0,)]


async def test_a_kind_without_a_unit_price_is_named(space):
    city, _ = space
    with city.connector.store.transaction() as db:
        db.execute("DELETE FROM pmh_voucher_prices WHERE voucher_kind = 'pregnancy_checkup'")
    status, body = await settle(city, "settlements", {"clinic": TOKYO_CLINIC["code"],
                                                      "month": "2026-06"})
    assert (status, body["code"]) == (409, "pmh.settlement_price")
    assert "pregnancy_checkup" in body["detail"]
    assert city.connector.store.query("SELECT count(*) FROM pmh_settlement_lines") == [(0,)]


async def test_settlement_needs_its_scope(space):
    city, _ = space
    status, body = await city.call("POST", "settlements", {
        "clinic": TOKYO_CLINIC["code"], "month": "2026-06"}, CLINIC)
    assert status == 403, body
