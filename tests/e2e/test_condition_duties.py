"""Delete duties conditioned on the world: held during the response phase, deleted (rows gone,
audited as a duty deletion) once the consumer's own phase fact is past recovery."""

from __future__ import annotations

import asyncio

import pytest

from connector.control.audit import verify_chain
from connector.control.gate import UsageDenied
from connector.protocol.dsp import messages as m
from tests.e2e.conftest import (
    CITY_OFFER,
    DATASET,
    OPEN_OFFER,
    ROLE_OK,
    negotiate,
    offer,
    publish,
    record,
    use,
)
from tests.e2e.test_transfer import delivered

DURING_RESPONSE = m.constraint("tsunagu:disasterPhase", "eq", "response")
# The shape of domains/bosai/policies.py's _delete_after_recovery, written here as an offer
# so the connector is tested without any domain code.
DELETE_AFTER_RECOVERY = offer(
    "urn:tsunagu:test:offer:delete-after-recovery", ROLE_OK, DURING_RESPONSE,
    duties=[{"@id": "urn:tsunagu:test:offer:delete-after-recovery#delete",
             "action": "odrl:delete",
             "constraint": [m.constraint("tsunagu:disasterPhase", "isAnyOf",
                                         ["mitigation", "preparedness"])]}])


async def _deletions(node, timeout: float = 10.0) -> list[dict]:
    for _ in range(int(timeout / 0.05)):
        found = node.connector.audit.entries("deletion")
        if found:
            return found
        await asyncio.sleep(0.05)
    return node.connector.audit.entries("deletion")


async def test_phase_past_recovery_deletes_held_rows(provider, consumer):
    await provider.datasets.offer_dataset(DATASET, "指定避難所",
                                          [OPEN_OFFER, CITY_OFFER, DELETE_AFTER_RECOVERY])
    provider.connector.facts.set("disasterPhase", "response")
    consumer.connector.facts.set("disasterPhase", "response")
    done = await negotiate(consumer, provider, DELETE_AFTER_RECOVERY["@id"], purpose=None)
    assert done["state"] == "FINALIZED"
    agreement_id = done["agreementId"]
    transfer = await consumer.connector.transfers.start(agreement_id)
    await consumer.connector.transfers.wait(transfer["pid"], "STARTED")
    await publish(provider, range(4))
    assert await delivered(consumer, 4) == 4

    # Response: held and usable; the duty is not due, so the duty task deletes nothing.
    duties = consumer.connector.duties
    assert use(consumer, record(1)["id"], "disaster_response")["name"] == record(1)["name"]
    await duties.run_duties_async()
    assert consumer.count("SELECT count(*) FROM held_records") == 4
    # Recovery is not past recovery: still not due (uses are refused by the offer's phase
    # rule, but nothing is deleted yet).
    consumer.connector.facts.set("disasterPhase", "recovery")
    await duties.run_duties_async()
    assert consumer.count("SELECT count(*) FROM held_records") == 4
    assert consumer.connector.audit.entries("deletion") == []

    consumer.connector.facts.set("disasterPhase", "mitigation")
    deletions = await _deletions(consumer)  # the duty loop runs every 0.2 s in these tests
    assert [(d["agreement"], d["records"], d["duty"], d["condition"]) for d in deletions] == [
        (agreement_id, 4, "delete", DELETE_AFTER_RECOVERY["permission"][0]["duty"][0]["@id"])]
    assert consumer.count("SELECT count(*) FROM held_records") == 0
    assert consumer.count("SELECT count(*) FROM held_records WHERE agreement_id = ?",
                          agreement_id) == 0
    assert consumer.connector.agreements.get(agreement_id)["status"] == "expired"
    await consumer.connector.transfers.wait(transfer["pid"], "TERMINATED")
    with pytest.raises(UsageDenied):
        use(consumer, record(1)["id"], "disaster_response")
    assert verify_chain(consumer.connector.audit.lines()).ok
    # Records published afterwards do not refill what was deleted.
    await publish(provider, range(4, 6))
    await asyncio.sleep(0.5)
    assert consumer.count("SELECT count(*) FROM held_records") == 0


async def test_unset_phase_deletes_nothing(provider, consumer):
    """A condition nobody can decide (no phase fact) is not a reason to delete."""
    await provider.datasets.offer_dataset(DATASET, "指定避難所",
                                          [OPEN_OFFER, CITY_OFFER, DELETE_AFTER_RECOVERY])
    provider.connector.facts.set("disasterPhase", "response")
    consumer.connector.facts.set("disasterPhase", "response")
    done = await negotiate(consumer, provider, DELETE_AFTER_RECOVERY["@id"], purpose=None)
    transfer = await consumer.connector.transfers.start(done["agreementId"])
    await consumer.connector.transfers.wait(transfer["pid"], "STARTED")
    await publish(provider, range(2))
    assert await delivered(consumer, 2) == 2
    with consumer.connector.store.transaction() as db:  # the fact withdrawn
        db.execute("DELETE FROM meta WHERE key LIKE 'fact:%'")
    consumer.connector.facts._typed.clear()
    await consumer.connector.duties.run_duties_async()
    assert consumer.count("SELECT count(*) FROM held_records") == 2
    assert consumer.connector.audit.entries("deletion") == []
