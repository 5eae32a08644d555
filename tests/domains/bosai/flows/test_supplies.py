"""Relief supplies across connectors: a shelter posts needs in its own dataset, a supplier
commits and delivers through contributions the shelter checks against the request's state
machine, and the municipality's dashboard shows every step."""

from __future__ import annotations

import pytest

from connector.data.contributions import ContributionError
from domains.bosai.api import SUPPLIES
from domains.bosai.dashboard.queries import Queries
from tests.domains.bosai.flows.support import (
    CHIYODA,
    OPERATOR_NUMBER,
    SUPPLIER_NUMBER,
    BosaiNode,
)

SHELTER = "131016-001"


@pytest.fixture
async def space(start_bosai) -> dict[str, BosaiNode]:
    city = await start_bosai(name="千代田区", legal_id=CHIYODA.code, role="municipality")
    shelter = await start_bosai(name="避難所運営", legal_id=OPERATOR_NUMBER,
                                role="shelter_operator")
    supplier = await start_bosai(name="支援物資NPO", legal_id=SUPPLIER_NUMBER,
                                 role="relief_supplier")
    dataset = await shelter.hub.setup_shelter_operator([CHIYODA.code])
    # Two consumers of the same provider: the second grant must not stall the first one's
    # pull loop (it once did for ~10 s: tests/isolation/test_grant_stall.py).
    for node in (city, supplier):
        done = await node.agree(shelter, dataset)
        assert done["state"] == "FINALIZED", done
    return {"city": city, "shelter": shelter, "supplier": supplier}


CITY_WAIT = 25.0


async def post_need(shelter: BosaiNode) -> str:
    status, made = await shelter.post("supply-requests", {
        "shelterId": SHELTER, "item": "粉ミルク", "quantity": 12, "unit": "can",
        "urgency": "high", "forWhom": ["infant"]}, SUPPLIES)
    assert status == 201, made
    assert (made["item"], made["status"]) == ("infant_formula", "requested")
    return made["id"]


def dashboard_status(city: BosaiNode, record_id: str) -> str:
    supplies = Queries(city.hub, city.hub.sites).supplies()
    return next(s.status for s in supplies if s.id == record_id)


async def test_request_commit_deliver_reach_supplier_shelter_and_municipality(space):
    city, shelter, supplier = space["city"], space["shelter"], space["supplier"]
    rid = await post_need(shelter)
    assert await supplier.held(rid) is not None
    assert await city.held(rid, timeout=CITY_WAIT) is not None
    assert dashboard_status(city, rid) == "requested"

    status, body = await supplier.post("supplies:commit", {
        "record": rid, "quantity": 10, "expectedDelivery": "2024-05-01T03:00:00Z"}, SUPPLIES)
    assert status == 200, body
    status, body = await supplier.post("supplies:deliver", {"record": rid}, SUPPLIES)
    assert status == 200, body

    assert shelter.connector.records.get(rid)["status"] == "delivered"  # the shelter's own
    record = await city.held(rid, 3, timeout=CITY_WAIT)
    assert record is not None and record["status"] == "delivered"
    assert (record["committedBy"], record["committedQuantity"], record["deliveredQuantity"]
            ) == (supplier.did, 10, 10)
    assert record["wasAttributedTo"] == supplier.did
    assert dashboard_status(city, rid) == "delivered"


async def test_the_shelter_refuses_a_jump_and_fields_outside_the_supplier_scope(space):
    shelter, supplier = space["shelter"], space["supplier"]
    rid = await post_need(shelter)
    copy = await supplier.held(rid)
    agreement = supplier.connector.store.query(
        "SELECT agreement_id FROM held_records WHERE id = ?", (rid,))[0][0]
    contribute = supplier.connector.contributions.contribute
    with pytest.raises(ContributionError) as caught:  # requested -> delivered at once
        await contribute(shelter.did, agreement, rid, copy["version"],
                         {"status": "delivered", "deliveredQuantity": 12,
                          "deliveredAt": "2024-05-01T00:00:00Z"}, "relief_supply")
    assert (caught.value.code, caught.value.details["rule"]) == (
        "contribution.rule_violated", "supply.bad_transition")
    with pytest.raises(ContributionError) as caught:  # committing in someone else's name
        await contribute(shelter.did, agreement, rid, copy["version"],
                         {"status": "committed", "committedBy": "did:key:z6MkOther",
                          "committedQuantity": 12, "committedAt": "2024-05-01T00:00:00Z"},
                         "relief_supply")
    assert caught.value.details["rule"] == "supply.not_allowed"
    with pytest.raises(ContributionError) as caught:  # the request itself is the shelter's
        await contribute(shelter.did, agreement, rid, copy["version"], {"quantity": 1000},
                         "relief_supply")
    assert caught.value.code == "contribution.field_not_allowed"
    # A step the lifecycle refuses before anything is sent: deliver before commit.
    status, body = await supplier.post("supplies:deliver", {"record": rid}, SUPPLIES)
    assert (status, body["code"]) == (400, "supply.bad_transition")


async def test_the_shelter_cancels_its_own_request(space):
    shelter, city = space["shelter"], space["city"]
    rid = await post_need(shelter)
    status, body = await shelter.post("supply-requests:cancel",
                                      {"record": rid, "reason": "届いた"}, SUPPLIES)
    assert status == 200 and body["status"] == "cancelled", body
    assert (await city.held(rid, 2, timeout=CITY_WAIT))["status"] == "cancelled"


async def test_another_municipality_cannot_read_the_requests(space, start_bosai):
    shelter = space["shelter"]
    dataset = shelter.hub.supply_dataset
    other_city = await start_bosai(name="仙台市", legal_id="041009", role="municipality")
    assert (await other_city.agree(shelter, dataset))["state"] == "TERMINATED"
