"""Contract negotiation between two real connectors over NATS."""

from __future__ import annotations

import pytest

from connector.bus.messaging import RemoteError
from connector.protocol.agreements import verify_countersigned
from connector.protocol.dsp import messages as m
from connector.protocol.dsp.validation import SCHEMA_FOR_TYPE, validate_message
from tests.e2e.conftest import CITY_OFFER, DATASET, OPEN_OFFER, negotiate


def dsp_messages(*nodes):
    return [(t, p) for node in nodes for t, p in node.sent if t in SCHEMA_FOR_TYPE]


async def test_negotiation_reaches_finalized_with_valid_messages(provider, consumer):
    done = await negotiate(consumer, provider)
    assert done["state"] == "FINALIZED"
    pnego = provider.connector.negotiations.get(
        provider.connector.negotiations.list()[0]["pid"])
    assert pnego["state"] == "FINALIZED" and pnego["consumerPid"] == done["pid"]

    kinds = {t for t, _ in dsp_messages(consumer, provider)}
    assert {"ContractRequestMessage", "ContractAgreementMessage",
            "ContractAgreementVerificationMessage", "ContractNegotiationEventMessage",
            "ContractNegotiation"} <= kinds
    for message_type, payload in dsp_messages(consumer, provider):
        assert validate_message(payload) == message_type

    # Both sides hold the same agreement, signed by the provider and counter-signed.
    mine = consumer.connector.agreements.get(done["agreementId"])
    theirs = provider.connector.agreements.get(done["agreementId"])
    assert mine["status"] == theirs["status"] == "active"
    assert mine["document"] == theirs["document"]
    verify_countersigned(mine["document"], provider=provider.did, consumer=consumer.did)
    inner = mine["document"]["signedAgreement"]
    assert (inner["assigner"], inner["assignee"], inner["target"]) == (
        provider.did, consumer.did, DATASET)
    assert inner["permission"] == OPEN_OFFER["permission"]

    # Every step left an audit line, and the gauge counts the finished negotiation.
    states = [e["state"] for e in provider.connector.audit.entries("negotiation")]
    assert states == ["REQUESTED", "AGREED", "VERIFIED", "FINALIZED"]
    assert provider.connector.metrics.value("tsunagu_negotiations", state="FINALIZED") == 1


async def test_missing_role_terminates_with_the_failed_constraint(provider, consumer):
    done = await negotiate(consumer, provider, CITY_OFFER["@id"], purpose=None)
    assert done["state"] == "TERMINATED"
    assert done["code"] == "negotiation.policy_denied"
    reason = " ".join(done["reason"])
    assert "tsunagu:role eq municipality" in reason and "shelter_operator" in reason
    assert done["agreementId"] is None
    assert provider.connector.agreements.list() == []
    for message_type, payload in dsp_messages(consumer, provider):
        assert validate_message(payload) == message_type
    assert ("ContractNegotiationTerminationMessage"
            in {t for t, _ in dsp_messages(provider)})


async def test_changed_offer_is_refused(provider, consumer):
    tampered = {**OPEN_OFFER, "permission": [m.rule("use")]}  # constraints dropped
    started = await consumer.connector.negotiations.start(
        provider.did, DATASET, OPEN_OFFER["@id"], offer=tampered)
    done = await consumer.connector.negotiations.wait(started["pid"])
    assert (done["state"], done["code"]) == ("TERMINATED", "negotiation.offer_changed")


async def test_invalid_transition_is_refused_with_a_dsp_error(provider, consumer):
    done = await negotiate(consumer, provider)
    # A counter-request on a FINALIZED negotiation: not allowed by the state machine.
    request = m.contract_request(done["pid"], {**OPEN_OFFER, "target": DATASET},
                                 provider_pid=done["providerPid"])
    env, _ = await consumer.connector.bus.request(provider.did, request["@type"], request)
    assert env.message_type == "ContractNegotiationError"
    assert validate_message(env.payload) == "ContractNegotiationError"
    assert env.payload["code"] == "dsp.invalid_transition"
    assert "terminal state FINALIZED" in env.payload["reason"][0]
    # The provider's record is unchanged.
    assert provider.connector.negotiations.list()[0]["state"] == "FINALIZED"


async def test_resent_message_is_acknowledged_not_refused(provider, consumer):
    """A consumer that crashed before seeing the ACK resends; the provider ACKs again."""
    done = await negotiate(consumer, provider)
    verification = next(p for t, p in consumer.sent
                        if t == "ContractAgreementVerificationMessage")
    env, _ = await consumer.connector.bus.request(provider.did, verification["@type"],
                                                  verification)
    assert (env.message_type, env.payload["state"]) == ("ContractNegotiation", "FINALIZED")
    assert done["state"] == "FINALIZED"


async def test_negotiation_resumes_after_the_provider_was_down(provider, consumer, start_node):
    await provider.connector.stop()
    started = await consumer.connector.negotiations.start(
        provider.did, DATASET, OPEN_OFFER["@id"], offer=OPEN_OFFER, purpose="disaster_response",
        timeout=0.5)
    assert started["state"] == "REQUESTED" and started["pending"]
    restarted = await start_node(provider.config)
    done = await consumer.connector.negotiations.wait(started["pid"])
    assert done["state"] == "FINALIZED"
    assert restarted.connector.agreements.get(done["agreementId"])["status"] == "active"


async def test_unknown_negotiation_is_an_error(provider, consumer):
    verification = m.agreement_verification("urn:uuid:nope", "urn:uuid:nothing")
    env, _ = await consumer.connector.bus.request(provider.did, verification["@type"],
                                                  verification)
    assert env.payload["code"] == "dsp.unknown_process"
    with pytest.raises(RemoteError):
        await consumer.connector.bus.request(provider.did, "NoSuchMessage", {})
