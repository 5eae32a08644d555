"""The steel chain through real connectors on the data space's operator-mode nats-server: a
mill issues a coil's certificate, transfers it to a trader, the trader to a processor, the
processor slits it into strips and transfers one to a customer, who verifies the chain back
to the mill; then it cuts another strip into lengths and delivers one (a 6-level chain). A
double transfer is refused by the sender's own hub, a forged one (signed by the sender, but
its own chain shows it no longer held the coil) by the receiving connector, and one with a
stale chain by the receiving hub."""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass
from datetime import UTC, datetime

import orjson
import pytest

from connector.bus import subjects
from connector.runtime.connector import Connector
from domains.steel import plugin as steel
from domains.steel.errors import ChainRefused, SteelCode
from domains.steel.hub import SteelHub
from tests.connector.conftest import status_lists
from tests.domains.steel.certs import jis
from tests.e2e.conftest import operator_participant, tuning
from trust.canonical import canonical_json
from trust.proofs import format_datetime, sign_document, verify_document
from trust.sealing import SEAL_HEADER, bound_to, seal, seal_header

# Made-up 法人番号s with valid check digits.
MILL_ID, TRADER_ID, PROCESSOR_ID, CUSTOMER_ID = (
    "8000000000001", "7000012050002", "5800001205000", "4011105005400")
COIL = "COIL-0001"


@dataclass
class Party:
    connector: Connector
    name: str
    legal_id: str

    @property
    def did(self) -> str:
        return self.connector.did

    @property
    def hub(self) -> SteelHub:
        return self.connector.plugin_services["steel"]  # type: ignore[return-value]


async def start(tmp_path, authority, nats, name, legal_id, role) -> Party:
    folder = tmp_path / role
    folder.mkdir()
    config = await operator_participant(folder, authority, nats, name=name,
                                        legal_id=legal_id, role=role)
    connector = Connector(config, tuning=tuning(), status_lists=status_lists(authority),
                          plugins=[steel])
    await connector.start()
    return Party(connector, name, legal_id)


@pytest.fixture
async def chain(tmp_path, authority, e2e_nats):
    parties = []
    try:
        for name, legal_id, role in (("例示製鋼", MILL_ID, "steel_mill"),
                                     ("例示商事", TRADER_ID, "trader"),
                                     ("例示コイルセンター", PROCESSOR_ID, "processor"),
                                     ("例示建設", CUSTOMER_ID, "customer")):
            parties.append(await start(tmp_path, authority, e2e_nats, name, legal_id, role))
        yield parties
    finally:
        for party in reversed(parties):
            await party.connector.stop()


async def arrives(party: Party, piece: str, timeout: float = 15.0) -> None:
    deadline = time.monotonic() + timeout
    while piece not in party.hub.pieces():
        assert time.monotonic() < deadline, f"{piece} never reached {party.name}"
        await asyncio.sleep(0.05)


async def deliver(sender: Party, receiver: Party, pieces: list[str]) -> dict:
    await sender.hub.open_deliveries(receiver.legal_id)
    await receiver.hub.receive_from(sender.did, sender.legal_id)
    event = await sender.hub.transfer(pieces, receiver.did, receiver.name)
    await arrives(receiver, pieces[0])
    return event


async def inject(sender: Party, receiver: Party, event: dict) -> None:
    """Put ``event`` on the sender's custody stream for ``receiver``, sealed as the sender
    seals: what a sender bypassing its own hub and connector checks could send."""
    c = sender.connector
    dataset = sender.hub._dataset("custody-events", receiver.legal_id)
    subject = subjects.data_subject(c.did, dataset, "created")
    message_id = subjects.message_id(event["id"], event["version"])
    key = c.content_keys.current(dataset)
    await c.js.publish(subject, seal(key, orjson.dumps(event), context=bound_to(subject,
                                                                                message_id)),
                       stream=subjects.dataset_stream(c.did, dataset),
                       headers={"Nats-Msg-Id": message_id, SEAL_HEADER: seal_header(key.epoch)})


async def dead_letter(party: Party, timeout: float = 15.0) -> str:
    deadline = time.monotonic() + timeout
    while True:
        rows = party.connector.store.query("SELECT code FROM dead_letters")
        if rows:
            return rows[0][0]
        assert time.monotonic() < deadline, "the forged event was not refused"
        await asyncio.sleep(0.05)


async def test_mill_to_customer_and_double_transfers_refused(chain):
    mill, trader, processor, customer = chain
    certificate = await mill.hub.issue(jis(), [COIL])
    to_trader = await deliver(mill, trader, [COIL])
    to_processor = await deliver(trader, processor, [COIL])
    assert processor.hub.pieces() == [COIL] and trader.hub.pieces() == []

    strips = await processor.hub.split(
        COIL, [{"pieceId": f"STRIP-{i}", "massKg": 1900.0, "widthMm": 400.0}
               for i in (1, 2, 3)], document_number="DC-0001", scrap_kg=30.0, kerf_kg=9.3)
    assert strips["parentHash"] and strips["inherited"]["Inspection"] == \
        certificate["en10168"]["Certificate"]["Inspection"]
    to_customer = await deliver(processor, customer, ["STRIP-2"])

    # The customer verifies the chain back to the mill, with the parties' DIDs as issuers.
    issuers = {p.did: p.name for p in chain}
    provenance = customer.hub.provenance("STRIP-2", issuers)
    assert provenance.verified, [(link.record_id, c) for link in provenance.links
                                 for c in link.checks if not c.ok]
    assert [link.kind for link in provenance.links] == [
        "certificate", "custody", "custody", "derivation", "custody"]
    assert [link.record_id for link in provenance.links] == [
        r["id"] for r in (certificate, to_trader, to_processor, strips, to_customer)]
    assert provenance.holder_did == customer.did and provenance.holder_name == "例示建設"
    assert [link.agreement_id for link in provenance.links if link.kind == "custody"] == [
        e["agreementId"] for e in (to_trader, to_processor, to_customer)]
    # The mill's record reached the customer byte-identical, proof included.
    held = provenance.records[0]
    assert canonical_json(held) == canonical_json(certificate)
    assert verify_document(dict(held)).controller == mill.did

    # Nested: a strip cut into lengths, one delivered under the same agreement.
    lengths = await processor.hub.split(
        "STRIP-3", [{"pieceId": f"CUT-{i}", "massKg": 940.0, "lengthMm": 6000.0}
                    for i in (1, 2)], document_number="DC-0002", operation="cut",
        scrap_kg=15.0, kerf_kg=5.0)
    await processor.hub.transfer(["CUT-1"], customer.did, customer.name)
    await arrives(customer, "CUT-1")
    nested = customer.hub.provenance("CUT-1", issuers)
    assert nested.verified and [link.kind for link in nested.links] == [
        "certificate", "custody", "custody", "derivation", "derivation", "custody"]
    assert nested.links[4].record_id == lengths["id"]
    assert lengths["inherited"] == strips["inherited"]

    # The processor holds the other pieces; the split coil is nobody's any more.
    assert processor.hub.pieces() == ["CUT-2", "STRIP-1"]
    with pytest.raises(ChainRefused) as caught:
        await processor.hub.split(COIL, [{"pieceId": "X-1", "massKg": 10.0}],
                                  document_number="DC-0002")
    assert caught.value.code == SteelCode.ALREADY_SPLIT

    # No agreement with the trader for the processor's custody events: nothing is sent.
    with pytest.raises(ChainRefused) as caught:
        await processor.hub.transfer(["STRIP-1"], trader.did, trader.name)
    assert caught.value.code == SteelCode.NO_AGREEMENT

    # Double transfer: the trader's own hub refuses, naming who holds the coil.
    with pytest.raises(ChainRefused) as caught:
        await trader.hub.transfer([COIL], processor.did, processor.name)
    assert caught.value.code == SteelCode.NOT_HOLDER
    assert processor.did in caught.value.reason_en and to_processor["id"] in \
        caught.value.reason_en

    # The same, signed by the trader and sent past its hub: the processor's connector
    # refuses it (its carried chain shows the trader had passed the coil on).
    forged = {k: v for k, v in to_processor.items() if k != "proof"}
    forged |= {"id": "urn:uuid:00000000-0000-4000-8000-00000000f0f0", "version": 1,
               "modified": format_datetime(datetime.now(UTC)),
               "at": "2099-01-01T00:00:00Z",
               "chain": [certificate, to_trader, to_processor]}
    await inject(trader, processor, sign_document(forged, trader.connector.identity.key))
    assert await dead_letter(processor) == "steel.not_holder"
    assert processor.hub.pieces() == ["CUT-2", "STRIP-1"]

    # Once more with a stale chain that leaves the trader's transfer out: the connector's
    # rule cannot see the double transfer, the processor's hub (which holds it) refuses.
    stale = forged | {"id": "urn:uuid:00000000-0000-4000-8000-00000000f0f1",
                      "chain": [certificate, to_trader]}
    await inject(trader, processor, sign_document(stale, trader.connector.identity.key))
    deadline = time.monotonic() + 15
    while not processor.hub.refused():
        assert time.monotonic() < deadline, "the stale double transfer was not refused"
        await asyncio.sleep(0.05)
    [refusal] = processor.hub.refused()
    assert (refusal["record_id"], refusal["sender"], refusal["code"]) == (
        stale["id"], trader.did, "steel.not_holder")
    # By 2099 (the forged time) the coil was split here: the reason names the derivation.
    assert strips["id"] in refusal["reason_en"] and "分割済み" in refusal["reason_ja"]
    assert processor.hub.pieces() == ["CUT-2", "STRIP-1"]
    assert stale["id"] not in {r["id"] for r in processor.hub.records()}
