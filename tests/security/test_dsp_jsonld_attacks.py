"""DSP messages that are valid against their schema but not closed-world JSON-LD, between two
real connectors: a remote ``@context`` URL (served by a local HTTP trap that must never be
asked) or a term no bundled context defines. The receiving bus refuses each with the
``trust.jsonld`` code, in the DSP error message of its protocol, before any service or state
sees it (``connector.protocol.dsp.validation.check_received``)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest

from connector.bus.connection import close_nats
from connector.bus.messaging import DspBus
from connector.protocol.dsp import messages as m
from connector.runtime.identity import Identity
from tests.e2e import conftest as e2e
from tests.e2e.conftest import DATASET, OPEN_OFFER, negotiate
from tests.nats_fixtures import participant_nats
from tests.security.helpers import Trap, context_trap
from trust.errors import JsonLdError
from trust.keys import KeyPair

authority, start_node, provider = e2e.authority, e2e.start_node, e2e.provider
consumer_config, consumer = e2e.consumer_config, e2e.consumer

REJECTED = "tsunagu_messages_rejected_total"
OPERATOR_NUMBER = "7000012050002"


@pytest.fixture
async def trap() -> AsyncIterator[Trap]:
    async with context_trap() as served:
        yield served


async def ask(node, to, message):
    env, _ = await node.connector.bus.request(to.did, message["@type"], message)
    return env.message_type, env.payload


def provider_state(provider) -> tuple:
    store = provider.connector.store
    return (store.query("SELECT pid, state FROM negotiations ORDER BY pid"),
            store.query("SELECT id, status FROM agreements ORDER BY id"),
            store.query("SELECT pid, state FROM transfers ORDER BY pid"))


def with_context(message: dict, *extra) -> dict:
    return {**message, "@context": [*message["@context"], *extra]}


def contract_request(pid: str = "urn:uuid:c-hostile") -> dict:
    return m.contract_request(pid, {**OPEN_OFFER, "target": DATASET}, callback_address="nats:x")


# --------------------------------------------------------------- remote @context

REMOTE = {
    "contract-request-top-level": (
        lambda url: with_context(contract_request(), url), "ContractNegotiationError"),
    "contract-request-inside-the-offer": (
        lambda url: {**contract_request(), "offer": {"@context": url, **OPEN_OFFER,
                                                     "target": DATASET}},
        "ContractNegotiationError"),
    # A term whose own (scoped) context is remote: loaded only when the term is used.
    "contract-request-scoped-context-of-a-term": (
        lambda url: {**contract_request(), "offer": {
            "@context": {"evil": {"@id": "https://e.example/#e", "@context": url}},
            **OPEN_OFFER, "target": DATASET, "evil": {"x": 1}}},
        "ContractNegotiationError"),
    "catalog-request": (lambda url: with_context(m.catalog_request(), url), "CatalogError"),
    "dataset-request": (lambda url: with_context(m.dataset_request(DATASET), url),
                        "CatalogError"),
    "transfer-request": (
        lambda url: with_context(m.transfer_request(
            "urn:uuid:c-t", agreement_id="urn:uuid:a", format="NATS-JetStream-pull",
            callback_address="nats:x"), url), "TransferError"),
}


@pytest.mark.parametrize("name", list(REMOTE))
async def test_remote_context_is_refused_and_never_fetched(provider, consumer, trap, name):
    build, error_type = REMOTE[name]
    before = provider_state(provider)
    message_type, payload = await ask(consumer, provider, build(trap.url))
    assert (message_type, payload["code"]) == (error_type, "jsonld.remote_context")
    assert trap.hits == []
    assert provider_state(provider) == before
    assert provider.connector.metrics.value(REJECTED, reason="jsonld.remote_context") == 1


async def test_remote_context_in_a_termination_leaves_the_agreement_active(
        provider, consumer, trap):
    done = await negotiate(consumer, provider)
    before = provider_state(provider)
    termination = with_context(m.negotiation_termination(
        done["pid"], done["providerPid"], code="x", reason=["bye"]), trap.url)
    message_type, payload = await ask(consumer, provider, termination)
    assert (message_type, payload["code"]) == ("ContractNegotiationError",
                                               "jsonld.remote_context")
    assert trap.hits == []
    assert provider_state(provider) == before
    assert provider.connector.agreements.get(done["agreementId"])["status"] == "active"


# --------------------------------------------------------------- undefined terms

UNDEFINED = {
    "top-level-term": (lambda: {**contract_request(), "evil": "x"},
                       "ContractNegotiationError"),
    # "constrain" for "constraint": without the check the whole constraint would vanish.
    "misspelt-constraint-in-the-offer": (
        lambda: {**contract_request(), "offer": {**OPEN_OFFER, "target": DATASET, "permission": [
            {"action": "use", "constrain": OPEN_OFFER["permission"][0]["constraint"]}]}},
        "ContractNegotiationError"),
    "undefined-action": (
        lambda: {**contract_request(), "offer": {**OPEN_OFFER, "target": DATASET,
                                                 "permission": [{"action": "exfiltrate"}]}},
        "ContractNegotiationError"),
    "undefined-type-of-a-rule": (
        lambda: {**contract_request(), "offer": {**OPEN_OFFER, "target": DATASET, "permission": [
            {**OPEN_OFFER["permission"][0], "@type": "FreeForAll"}]}},
        "ContractNegotiationError"),
    "catalog-filter-term": (lambda: m.catalog_request([{"title": "x"}]), "CatalogError"),
    "no-context-at-all-is-a-schema-error-first": (
        lambda: {k: v for k, v in m.catalog_request().items() if k != "@context"},
        "CatalogError"),
    "transfer-request-term": (
        lambda: {**m.transfer_request("urn:uuid:c-t", agreement_id="urn:uuid:a",
                                      format="NATS-JetStream-pull", callback_address="nats:x"),
                 "priority": "high"}, "TransferError"),
}
CODES = {"no-context-at-all-is-a-schema-error-first": "dsp.invalid_message"}


@pytest.mark.parametrize("name", list(UNDEFINED))
async def test_undefined_term_is_refused_before_any_state_change(provider, consumer, name):
    build, error_type = UNDEFINED[name]
    code = CODES.get(name, "jsonld.dropped_term")
    before = provider_state(provider)
    message_type, payload = await ask(consumer, provider, build())
    assert (message_type, payload["code"]) == (error_type, code)
    assert provider_state(provider) == before
    assert provider.connector.metrics.value(REJECTED, reason=code) == 1


async def test_undefined_term_in_a_termination_leaves_the_agreement_active(provider, consumer):
    done = await negotiate(consumer, provider)
    before = provider_state(provider)
    termination = {**m.negotiation_termination(done["pid"], done["providerPid"]),
                   "because": "I say so"}
    message_type, payload = await ask(consumer, provider, termination)
    assert (message_type, payload["code"]) == ("ContractNegotiationError",
                                               "jsonld.dropped_term")
    assert "because" in payload["reason"][0]
    assert provider_state(provider) == before
    assert provider.connector.negotiations.list()[0]["state"] == "FINALIZED"


# --------------------------------------------------------------- replies are received too

@pytest.fixture
async def hostile_provider(consumer, authority, space_nats) -> AsyncIterator[DspBus]:
    """A participant with a valid credential (and its own NATS user) whose DSP answers
    carry hostile JSON-LD."""
    key = KeyPair.generate()
    issued = authority.issue(did=key.did, name="偽カタログ", legal_id=OPERATOR_NUMBER,
                             roles=["shelter_operator"])
    nc = await participant_nats(space_nats, key.did)
    bus = DspBus(nc, Identity(key, issued.jwt), consumer.connector.checker)
    yield bus
    await bus.close()
    await close_nats(nc, timeout=1)


async def test_catalog_reply_with_remote_context_is_refused_and_never_fetched(
        consumer, hostile_provider, trap):
    async def answer(env, credential):
        return "Catalog", with_context(m.catalog(
            f"{hostile_provider.identity.did}#catalog",
            participant_id=hostile_provider.identity.did, datasets=[], services=[]), trap.url)

    await hostile_provider.serve(answer)
    with pytest.raises(JsonLdError) as info:
        await consumer.connector.bus.request(hostile_provider.identity.did,
                                             "CatalogRequestMessage", m.catalog_request())
    assert info.value.code == "jsonld.remote_context"
    assert trap.hits == []
    assert consumer.connector.metrics.value(REJECTED, reason="jsonld.remote_context") == 1


async def test_dataset_reply_with_undefined_term_cannot_start_a_negotiation(
        consumer, hostile_provider):
    async def answer(env, credential):
        entry = m.dataset(DATASET, offers=[{**OPEN_OFFER, "sneaky": True}], distributions=[
            m.distribution("nats-jetstream", f"{hostile_provider.identity.did}#dsp")])
        return "Dataset", entry

    await hostile_provider.serve(answer)
    with pytest.raises(JsonLdError) as info:
        await consumer.connector.negotiations.start(hostile_provider.identity.did, DATASET,
                                                    OPEN_OFFER["@id"], purpose=e2e.PURPOSE)
    assert info.value.code == "jsonld.dropped_term"
    assert consumer.count("SELECT count(*) FROM negotiations") == 0


async def test_negotiation_reply_with_undefined_term_ends_the_negotiation(
        consumer, hostile_provider):
    """A reply this side refuses is an answer, not a lost message: the negotiation ends
    with the refusal's code instead of stalling with its request pending forever."""
    async def answer(env, credential):
        return "ContractNegotiation", {
            **m.contract_negotiation(env.payload["consumerPid"], "urn:uuid:p-hostile",
                                     "REQUESTED"),
            "sneaky": True}

    await hostile_provider.serve(answer)
    started = await consumer.connector.negotiations.start(
        hostile_provider.identity.did, DATASET, OPEN_OFFER["@id"],
        offer={**OPEN_OFFER, "assigner": hostile_provider.identity.did}, purpose=e2e.PURPOSE)
    async with asyncio.timeout(10):
        while (view := consumer.connector.negotiations.get(started["pid"]))["pending"]:
            await asyncio.sleep(0.05)
    assert (view["state"], view["code"]) == ("REQUESTED", "jsonld.dropped_term")
