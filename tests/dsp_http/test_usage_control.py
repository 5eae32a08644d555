"""Usage control reaches a counterparty known only over HTTPS, as over NATS: tsunagu's own
notices (connector.dsp_http.notices) carry an agreement's end to the consumer, whose usage
gate then releases nothing it holds under it. Each connector has its own nats-server and no
request goes over either bus (``space.bus_requests``)."""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from typing import Any

import pytest

from connector.control.decisions import Reader, Use
from connector.control.gate import UsageDenied
from connector.data.content_rules import ContentRules
from connector.dsp_http.notices import JOSE, NOTICE_PATH
from connector.errors import ConnectorCode
from connector.protocol.agreements import TERMINATION_TYPE
from tests.dsp_http.conftest import Pair, Space
from tests.dsp_http.test_end_to_end import wait_held
from tests.e2e.conftest import DATASET, OPEN_OFFER, PURPOSE, record
from tests.e2e.test_residents import EVACUEES, HANAKO, STOPPING, evacuee
from trust.errors import TsunaguError

RECORD = "urn:tsunagu:test:shelter:1"


async def pulling(pair: Pair, dataset: str, offer_id: str, held: int) -> tuple[str, str]:
    """A FINALIZED agreement on ``dataset`` and its transfer over HTTPS, once the consumer
    holds ``held`` records; (agreement id, consumer's transfer pid)."""
    provider, consumer = pair.provider, pair.consumer
    started = await consumer.negotiations.start(provider.did, dataset, offer_id,
                                                purpose=PURPOSE)
    view = await consumer.negotiations.wait(started["pid"])
    assert view["state"] == "FINALIZED", view
    transfer = await consumer.transfers.start(view["agreementId"])
    await consumer.transfers.wait(transfer["pid"], "STARTED")
    await wait_held(consumer, held)
    return view["agreementId"], transfer["pid"]


async def holding(pair: Pair) -> tuple[str, str]:
    """The consumer holds two shelter records, readable through its gate."""
    for n in range(2):
        await pair.provider.records.publish(DATASET, record(n))
    found = await pulling(pair, DATASET, OPEN_OFFER["@id"], 2)
    assert pair.consumer.gate.read(Reader.connector("test"), Use(PURPOSE), RECORD).record
    return found


async def agreement_status(connector, agreement_id: str, status: str) -> None:
    async with asyncio.timeout(10):
        while (connector.agreements.get(agreement_id) or {}).get("status") != status:
            await asyncio.sleep(0.05)


async def test_termination_reaches_an_https_only_consumer(space: Space, pair: Pair) -> None:
    provider, consumer = pair.provider, pair.consumer
    agreement_id, transfer_pid = await holding(pair)

    ended = await provider.agreements.terminate(agreement_id, "契約終了 / contract ended")
    assert ended["status"] == "terminated"  # the consumer acknowledged the notice
    await agreement_status(consumer, agreement_id, "terminated")
    with pytest.raises(UsageDenied):
        consumer.gate.read(Reader.connector("test"), Use(PURPOSE), RECORD)
    assert consumer.store.query("SELECT count(*) FROM held_records")[0][0] == 0
    assert consumer.audit.entries("agreement_terminated")[-1]["by"] == provider.did
    await consumer.transfers.wait(transfer_pid, "TERMINATED")
    assert space.bus_requests == []  # the notice went over HTTPS


async def test_revocation_ends_the_agreement_at_an_https_only_consumer(
        space: Space, pair: Pair) -> None:
    """The authority revokes the provider: the consumer's next status list ends the
    agreement and its gate releases nothing held under it (no notice needed, as on NATS)."""
    provider, consumer = pair.provider, pair.consumer
    agreement_id, _ = await holding(pair)
    space.revoke(provider.did)
    await consumer.status_changed()  # what a status list refresh calls
    await agreement_status(consumer, agreement_id, "terminated")
    with pytest.raises(UsageDenied):
        consumer.gate.read(Reader.connector("test"), Use(PURPOSE), RECORD)
    assert consumer.store.query("SELECT count(*) FROM held_records")[0][0] == 0
    assert space.bus_requests == []


async def test_a_notice_needs_a_valid_id_token_and_its_sender(space: Space, pair: Pair
                                                              ) -> None:
    """The notice path refuses an envelope without the sender's ID token (401) or under
    another participant's token, and a DSP message (it has its own path)."""
    provider, consumer = pair.provider, pair.consumer
    agreement_id, _ = await holding(pair)
    assert provider.dsp_http is not None and consumer.dsp_http is not None
    session = provider.dsp_http.client.session()  # type: ignore[union-attr]
    url = consumer.dsp_http.base_url + NOTICE_PATH
    envelope = provider.bus.sealed({"agreementId": agreement_id, "reason": "x"},
                                   consumer.did, TERMINATION_TYPE)
    async with session.post(url, data=envelope, headers={"Content-Type": JOSE}) as response:
        assert response.status == 401
    # the consumer's own token for the consumer: not the envelope's sender
    token = consumer.dsp_http.auth.token_for(consumer.did)
    async with session.post(url, data=envelope, headers={
            "Content-Type": JOSE, "Authorization": f"Bearer {token}"}) as response:
        assert response.status == 400
        assert (await response.json())["code"] == ConnectorCode.ENVELOPE_UNEXPECTED_SENDER
    # nothing of it acted on
    assert (consumer.agreements.get(agreement_id) or {})["status"] == "active"
    assert consumer.gate.read(Reader.connector("test"), Use(PURPOSE), RECORD).record


async def test_consent_withdrawal_reaches_an_https_only_holder(space: Space, pair: Pair
                                                               ) -> None:
    """A person withdraws consent at the provider: the notice (its payload sealed to the
    holder, as on NATS) reaches the consumer over HTTPS, whose gate refuses the record."""
    provider, consumer = pair.provider, pair.consumer
    await provider.datasets.offer_dataset(EVACUEES, "避難者名簿", [STOPPING])
    await provider.records.publish(EVACUEES, evacuee(HANAKO, "山田", "花子"))
    await pulling(pair, EVACUEES, STOPPING["@id"], 1)
    assert consumer.gate.read(Reader.app("tok_staff"), Use(PURPOSE), HANAKO).record

    found = await provider.consent.withdraw(HANAKO, requested_by="self:tok_app")
    assert [(h["holder"], h["status"]) for h in found["holders"]] == [
        (consumer.did, "stopped")]
    with pytest.raises(UsageDenied) as refused:
        consumer.gate.read(Reader.app("tok_staff"), Use(PURPOSE), HANAKO)
    assert refused.value.code == ConnectorCode.USAGE_CONSENT_WITHDRAWN
    assert space.bus_requests == []


async def test_a_refusal_notice_reaches_an_https_only_provider(space: Space, pair: Pair
                                                               ) -> None:
    """The consumer refuses a record (a content rule of its own): it keeps a dead letter,
    nothing of the record, and the provider is told over HTTPS which field."""
    provider, consumer = pair.provider, pair.consumer
    refused_record = record(9, name="受け取れない")
    type_iri = ContentRules(contexts=consumer.contexts).type_iris(refused_record)[0]

    def refuse(found: Mapping[str, Any]) -> None:
        if found.get("name") == "受け取れない":
            raise TsunaguError("not for this consumer", code="test.refused", field="$.name")
    consumer.content_rules = ContentRules([(type_iri, refuse)], contexts=consumer.contexts)
    await provider.records.publish(DATASET, refused_record)
    await holding(pair)  # two records more, accepted
    async with asyncio.timeout(10):
        while not (told := provider.store.query(
                "SELECT record_id, version, consumer, code, field FROM record_refusals")):
            await asyncio.sleep(0.05)
    assert [tuple(r) for r in told] == [(refused_record["id"], 1, consumer.did,
                                         "test.refused", "$.name")]
    assert consumer.store.query("SELECT count(*) FROM held_records WHERE id = ?",
                                (refused_record["id"],))[0][0] == 0
    assert space.bus_requests == []
