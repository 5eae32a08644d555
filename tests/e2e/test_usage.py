"""Usage control at the receiver: decided uses, duties, termination and purge."""

from __future__ import annotations

import asyncio

import orjson
import pytest

from connector.bus import subjects
from connector.control.audit import verify_chain
from connector.control.gate import UsageDenied
from tests.e2e.conftest import (
    CITY_OFFER,
    DATASET,
    FOR_PURPOSE,
    OPEN_OFFER,
    PURPOSE,
    ROLE_OK,
    negotiate,
    offer,
    publish,
    record,
    use,
)
from tests.e2e.test_transfer import delivered, started_transfer
from trust.proofs import verify_document

DELETE_SOON = offer("urn:tsunagu:test:offer:delete-soon", ROLE_OK, duties=[{
    "action": "odrl:delete", "constraint": [{"leftOperand": "odrl:elapsedTime",
                                             "operator": "lteq",
                                             "rightOperand": {"@value": "PT2S",
                                                              "@type": "xsd:duration"}}]}])
INFORM = offer("urn:tsunagu:test:offer:inform", ROLE_OK, FOR_PURPOSE,
               duties=[{"action": "odrl:inform"}])


async def test_use_with_the_wrong_purpose_is_refused_and_audited(provider, consumer):
    await started_transfer(consumer, provider)
    await publish(provider, range(3))
    assert await delivered(consumer, 3) == 3
    rid = record(1)["id"]

    with pytest.raises(UsageDenied) as refused:
        use(consumer, rid, "research")
    assert refused.value.code == "usage.denied"
    assert "purpose" in refused.value.message and "constraint[1]" in refused.value.message

    got = use(consumer, rid, PURPOSE)
    assert got["id"] == rid and got["name"] == record(1)["name"] and "proof" in got

    uses = consumer.connector.audit.entries("use")
    assert [(u["purpose"], u["decision"]) for u in uses] == [("research", "deny"),
                                                             (PURPOSE, "permit")]
    assert uses[0]["code"] == "usage.denied"
    assert verify_chain(consumer.connector.audit.lines()).ok
    with pytest.raises(UsageDenied) as unknown:
        use(consumer, "urn:tsunagu:test:shelter:nope", PURPOSE)
    assert unknown.value.code == "usage.not_held"


async def test_provider_termination_purges_the_consumer(provider, consumer):
    done, transfer = await started_transfer(consumer, provider)
    await publish(provider, range(50))
    assert await delivered(consumer, 50) == 50
    agreement_id = done["agreementId"]

    await provider.connector.agreements.terminate(agreement_id, "shelter closed")

    assert provider.connector.agreements.get(agreement_id)["status"] == "terminated"
    assert consumer.connector.agreements.get(agreement_id)["status"] == "terminated"
    assert consumer.count("SELECT count(*) FROM held_records") == 0
    purge = consumer.connector.audit.entries("purge")
    assert [(p["agreement"], p["records"]) for p in purge] == [(agreement_id, 50)]
    assert consumer.connector.transfers.get(transfer["pid"])["state"] == "TERMINATED"
    assert provider.connector.transfers.list()[0]["state"] == "TERMINATED"
    stream = subjects.dataset_stream(provider.did, DATASET)
    names = [c.name for c in await provider.connector.js.consumers_info(stream)]
    assert names == []  # the durable consumer is gone
    with pytest.raises(UsageDenied):
        use(consumer, record(1)["id"], PURPOSE)
    # Records published afterwards never reach the consumer.
    await publish(provider, range(50, 55))
    await asyncio.sleep(0.5)
    assert consumer.count("SELECT count(*) FROM held_records") == 0


async def test_delete_duty_deletes_held_records_at_the_deadline(provider, consumer):
    await provider.datasets.offer_dataset(DATASET, "指定避難所",
                                          [OPEN_OFFER, CITY_OFFER, DELETE_SOON])
    done = await negotiate(consumer, provider, DELETE_SOON["@id"], purpose=None)
    assert done["state"] == "FINALIZED"
    transfer = await consumer.connector.transfers.start(done["agreementId"])
    await consumer.connector.transfers.wait(transfer["pid"], "STARTED")
    await publish(provider, range(5))
    assert await delivered(consumer, 5) == 5
    assert consumer.count("SELECT count(*) FROM held_records") == 5
    for _ in range(100):
        if consumer.connector.audit.entries("deletion"):
            break
        await asyncio.sleep(0.05)
    deletion = consumer.connector.audit.entries("deletion")
    assert [(d["agreement"], d["records"]) for d in deletion] == [(done["agreementId"], 5)]
    assert consumer.count("SELECT count(*) FROM held_records") == 0
    assert consumer.connector.agreements.get(done["agreementId"])["status"] == "expired"
    await consumer.connector.transfers.wait(transfer["pid"], "TERMINATED")


async def test_inform_duty_notifies_the_provider(provider, consumer):
    await provider.datasets.offer_dataset(DATASET, "指定避難所", [OPEN_OFFER, INFORM])
    notices: list[dict] = []

    async def on_notice(msg):
        notices.append(orjson.loads(msg.data))

    await provider.connector.nc.subscribe(subjects.control_subject(provider.did, "usage"),
                                          cb=on_notice)
    done = await negotiate(consumer, provider, INFORM["@id"])
    transfer = await consumer.connector.transfers.start(done["agreementId"])
    await consumer.connector.transfers.wait(transfer["pid"], "STARTED")
    await publish(provider, range(2))
    assert await delivered(consumer, 2) == 2
    use(consumer, record(0)["id"], PURPOSE)
    for _ in range(50):
        if notices:
            break
        await asyncio.sleep(0.02)
    assert [(n["record"], n["purpose"]) for n in notices] == [(record(0)["id"], PURPOSE)]
    verify_document(notices[0], expected_controller=consumer.did)
