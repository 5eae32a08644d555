"""A tsunagu connector talks DSP 2025-1 over HTTPS to another: catalog -> negotiation to
FINALIZED -> transfer -> records pulled over HTTPS with the EDR, verified, through the usage
gate, readable by the consumer -> terminate. NATS carries none of it (each connector has its
own nats-server, and no request went over either bus), and every message on the wire, both
directions, validates against the published DSP 2025-1 schemas."""

from __future__ import annotations

import asyncio

import aiohttp
import pytest

from connector.control.decisions import Reader, Use
from connector.control.gate import UsageDenied
from connector.data.pull import endpoint_properties
from connector.dsp_http.data_plane import HTTP_ENDPOINT_TYPE, PULL_FORMAT
from connector.errors import ConnectorCode
from connector.protocol.dsp.validation import SCHEMA_FOR_TYPE, check_received, validate_message
from tests.dsp_http.conftest import Pair, Space
from tests.e2e.conftest import CITY_OFFER, DATASET, OPEN_OFFER, PURPOSE, record


async def wait_held(consumer, n: int, timeout: float = 10.0) -> None:
    async with asyncio.timeout(timeout):
        while consumer.store.query("SELECT count(*) FROM held_records")[0][0] < n:
            await asyncio.sleep(0.05)


async def test_catalog_negotiation_transfer_over_https(space: Space, pair: Pair) -> None:
    provider, consumer = pair.provider, pair.consumer
    catalog = await consumer.catalog.fetch(provider.did)
    assert [d["@id"] for d in catalog["dataset"]] == [DATASET]
    assert catalog["provider"]["name"] == "仙台市"  # the answer's ID token said who answered
    assert provider.dsp_http is not None
    assert provider.dsp_http.base_url in [s["endpointURL"] for s in catalog["service"]]

    started = await consumer.negotiations.start(provider.did, DATASET, OPEN_OFFER["@id"],
                                                purpose=PURPOSE)
    view = await consumer.negotiations.wait(started["pid"])
    assert view["state"] == "FINALIZED", view
    provider_view = provider.negotiations.get(view["providerPid"])
    assert provider_view is not None and provider_view["state"] == "FINALIZED"

    for n in range(3):
        await provider.records.publish(DATASET, record(n))
    transfer = await consumer.transfers.start(view["agreementId"])
    transfer = await consumer.transfers.wait(transfer["pid"], "STARTED")
    assert transfer["format"] == PULL_FORMAT
    address = transfer["dataAddress"]
    assert address["endpointType"] == HTTP_ENDPOINT_TYPE
    assert address["endpoint"].startswith("https://127.0.0.1:")
    token = endpoint_properties(address)["authorization"]

    await wait_held(consumer, 3)
    await provider.records.publish(DATASET, record(3))  # streaming: later records come too
    await wait_held(consumer, 4)
    # Readable by the consumer's apps through the usage gate, proof and all.
    released = consumer.gate.read(Reader.connector("test"), Use(PURPOSE),
                                  "urn:tsunagu:test:shelter:2")
    assert released.record is not None and released.record["name"] == "避難所 2"
    assert "proof" in released.record
    assert sum(e["records"] for e in consumer.audit.entries("delivery")) == 4

    ended = await consumer.transfers.terminate(transfer["pid"], "done")
    assert ended["state"] == "TERMINATED"
    pid = transfer["providerPid"]
    async with asyncio.timeout(5):
        while (provider.transfers.get(pid) or {}).get("state") != "TERMINATED":
            await asyncio.sleep(0.05)
    # The data address stops working the moment the transfer ends.
    assert consumer.dsp_http is not None and consumer.dsp_http.client is not None
    async with consumer.dsp_http.client.session().get(
            address["endpoint"], headers={"Authorization": f"Bearer {token}"}) as response:
        assert response.status == 403
        assert (await response.json())["code"] == "edr.inactive"

    # NATS carried nothing between them: no request went over either connector's bus.
    assert space.bus_requests == []
    # Every DSP message on the wire, both directions, against the published schemas.
    messages = [(who, direction, path, body) for who, direction, path, body in space.wire.seen
                if body and body.get("@type") in SCHEMA_FOR_TYPE]
    for who, direction, path, body in messages:
        assert validate_message(body) == body["@type"], (who, direction, path)
        check_received(body)
    # both sides' sockets, both ways: each connector sent and received requests and answers
    assert {(who, direction) for who, direction, *_ in messages} == {
        (who, direction) for who in ("仙台市", "避難所運営") for direction in ("in", "out")}
    kinds = {body["@type"] for *_, body in messages if body is not None}
    assert {"CatalogRequestMessage", "Catalog", "ContractRequestMessage",
            "ContractNegotiation", "ContractAgreementMessage",
            "ContractAgreementVerificationMessage", "ContractNegotiationEventMessage",
            "TransferRequestMessage", "TransferProcess", "TransferStartMessage",
            "TransferTerminationMessage"} <= kinds
    # Every wire body that is not a DSP message is one we know: none (DSP only on the wire).
    assert all(body is None or body == {} or body.get("@type") in SCHEMA_FOR_TYPE
               for *_, body in space.wire.seen)


async def test_version_document(pair: Pair) -> None:
    provider = pair.provider
    assert provider.dsp_http is not None and pair.consumer.dsp_http is not None
    root = provider.dsp_http.base_url.removesuffix("/dsp")
    client = pair.consumer.dsp_http.client
    assert client is not None
    async with client.session().get(root + "/.well-known/dspace-version") as response:
        assert response.status == 200
        document = await response.json()
    assert document["protocolVersions"][0]["version"] == "2025-1"
    assert document["protocolVersions"][0]["binding"] == "HTTPS"
    assert document["protocolVersions"][0]["path"] == "/dsp"
    from connector.protocol.dsp.validation import validate_document
    assert validate_document(document) == "VersionDocument"


async def test_tls_is_verified(space: Space, pair: Pair, tmp_path) -> None:
    """A client that does not trust the certificate does not talk (no verification off)."""
    assert pair.provider.dsp_http is not None
    async with aiohttp.ClientSession() as session:
        try:
            await session.get(pair.provider.dsp_http.base_url.removesuffix("/dsp")
                              + "/.well-known/dspace-version")
        except aiohttp.ClientConnectorCertificateError:
            pass
        else:
            raise AssertionError("a self-signed certificate was accepted without trust")


async def test_the_same_policies_and_usage_control_over_https(pair: Pair) -> None:
    """The offer for municipalities only is refused to the shelter operator over HTTPS as over
    NATS; what is received is released only for the agreed purpose."""
    provider, consumer = pair.provider, pair.consumer
    started = await consumer.negotiations.start(provider.did, DATASET, CITY_OFFER["@id"],
                                                purpose=PURPOSE)
    refused = await consumer.negotiations.wait(started["pid"])
    assert refused["state"] == "TERMINATED"
    assert refused["code"] == ConnectorCode.NEGOTIATION_POLICY_DENIED
    assert "tsunagu:role" in " ".join(refused["reason"])

    started = await consumer.negotiations.start(provider.did, DATASET, OPEN_OFFER["@id"],
                                                purpose=PURPOSE)
    view = await consumer.negotiations.wait(started["pid"])
    await provider.records.publish(DATASET, record(7))
    transfer = await consumer.transfers.start(view["agreementId"])
    await consumer.transfers.wait(transfer["pid"], "STARTED")
    await wait_held(consumer, 1)
    with pytest.raises(UsageDenied):
        consumer.gate.read(Reader.connector("test"), Use("marketing"),
                           "urn:tsunagu:test:shelter:7")
    assert consumer.gate.read(Reader.connector("test"), Use(PURPOSE),
                              "urn:tsunagu:test:shelter:7").record is not None
    await consumer.transfers.terminate(transfer["pid"])
