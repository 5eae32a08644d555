"""World facts: a provider's declared disaster phase decides negotiations under phase rules."""

import pytest

from connector.protocol.dsp import messages as m
from tests.e2e.conftest import DATASET, ROLE_OK, negotiate, offer
from trust.errors import ValidationError

PHASE_OFFER = offer("urn:tsunagu:test:offer:phase", ROLE_OK,
                    m.constraint("tsunagu:disasterPhase", "eq", "response"))


@pytest.fixture
async def phase_provider(provider):
    await provider.datasets.offer_dataset(DATASET, "指定避難所", [PHASE_OFFER])
    return provider


async def test_no_declared_phase_fails_closed(phase_provider, consumer):
    done = await negotiate(consumer, phase_provider, PHASE_OFFER["@id"])
    assert done["state"] == "TERMINATED"
    assert "disasterPhase" in " ".join(done["reason"])


async def test_declared_response_phase_permits_and_recovery_denies(phase_provider, consumer):
    facts = phase_provider.connector.facts
    facts.set("tsunagu:disasterPhase", "response")
    assert (await negotiate(consumer, phase_provider, PHASE_OFFER["@id"]))["state"] == "FINALIZED"
    facts.set("tsunagu:disasterPhase", "recovery")
    done = await negotiate(consumer, phase_provider, PHASE_OFFER["@id"])
    assert done["state"] == "TERMINATED"
    assert "recovery" in " ".join(done["reason"])
    entries = phase_provider.connector.audit.entries("fact_set")
    assert [e["value"] for e in entries] == ["response", "recovery"]


async def test_facts_survive_a_restart_and_bad_values_are_refused(phase_provider):
    connector = phase_provider.connector
    connector.facts.set("disasterPhase", "response")
    with pytest.raises(ValidationError) as info:
        connector.facts.set("tsunagu:noSuchOperand", "x")
    assert info.value.code == "fact.invalid"
    with pytest.raises(ValidationError):
        connector.facts.set("disasterPhase", "apocalypse")
    await connector.stop()
    await connector.start()
    assert connector.facts.as_json() == {
        "https://w3id.org/tsunagu/ns#disasterPhase": "response"}
