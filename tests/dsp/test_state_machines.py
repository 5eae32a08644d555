"""DSP 2025-1 contract negotiation and transfer process state machines."""

from __future__ import annotations

import itertools
from dataclasses import FrozenInstanceError
from datetime import UTC, datetime, timedelta

import pytest

from connector.api.problems import status_of
from connector.protocol.dsp import messages as m
from connector.protocol.dsp import negotiation as cn
from connector.protocol.dsp import transfer as tp
from connector.protocol.dsp.statemachine import (
    EITHER,
    ProtocolError,
    Role,
    StateMachine,
    Transition,
)
from connector.protocol.dsp.validation import validate_message
from trust.errors import TsunaguError

C, P = "urn:uuid:consumer-pid", "urn:uuid:provider-pid"
T0 = datetime(2025, 4, 1, tzinfo=UTC)
CONSUMER, PROVIDER = Role.CONSUMER, Role.PROVIDER
OFFER = m.offer("urn:uuid:offer-1", target="urn:uuid:dataset-1", permission=[m.rule("use")])
AGREEMENT = m.agreement("urn:uuid:agreement-1", target="urn:uuid:dataset-1",
                        assigner="did:key:zP", assignee="did:key:zC", timestamp=T0,
                        permission=[m.rule("use")])

# The expected edges, written out from the spec independently of the implementation:
# (from, message, sender, to); None is "no process yet". Sources: contract.negotiation.
# state.machine.puml and transfer-process-state-machine.puml; termination "at any state"
# (negotiation text) / "at any point except a terminal state" (transfer text).
N = cn.NegotiationState
NEGOTIATION_EDGES = {
    (None, "ContractRequestMessage", CONSUMER, N.REQUESTED),
    (N.OFFERED, "ContractRequestMessage", CONSUMER, N.REQUESTED),
    (None, "ContractOfferMessage", PROVIDER, N.OFFERED),
    (N.REQUESTED, "ContractOfferMessage", PROVIDER, N.OFFERED),
    (N.OFFERED, "ContractNegotiationEventMessage:ACCEPTED", CONSUMER, N.ACCEPTED),
    (N.REQUESTED, "ContractAgreementMessage", PROVIDER, N.AGREED),
    (N.ACCEPTED, "ContractAgreementMessage", PROVIDER, N.AGREED),
    (N.AGREED, "ContractAgreementVerificationMessage", CONSUMER, N.VERIFIED),
    (N.VERIFIED, "ContractNegotiationEventMessage:FINALIZED", PROVIDER, N.FINALIZED),
} | {
    (state, "ContractNegotiationTerminationMessage", sender, N.TERMINATED)
    for state in (N.REQUESTED, N.OFFERED, N.ACCEPTED, N.AGREED, N.VERIFIED)
    for sender in (CONSUMER, PROVIDER)
}
T = tp.TransferState
TRANSFER_EDGES = {
    (None, "TransferRequestMessage", CONSUMER, T.REQUESTED),
    (T.REQUESTED, "TransferStartMessage", PROVIDER, T.STARTED),
    (T.SUSPENDED, "TransferStartMessage", PROVIDER, T.STARTED),
    (T.SUSPENDED, "TransferStartMessage", CONSUMER, T.STARTED),
    (T.STARTED, "TransferSuspensionMessage", PROVIDER, T.SUSPENDED),
    (T.STARTED, "TransferSuspensionMessage", CONSUMER, T.SUSPENDED),
    (T.STARTED, "TransferCompletionMessage", PROVIDER, T.COMPLETED),
    (T.STARTED, "TransferCompletionMessage", CONSUMER, T.COMPLETED),
} | {
    (state, "TransferTerminationMessage", sender, T.TERMINATED)
    for state in (T.REQUESTED, T.STARTED, T.SUSPENDED)
    for sender in (CONSUMER, PROVIDER)
}

MACHINES = {
    "negotiation": (cn, NEGOTIATION_EDGES, N, (N.FINALIZED, N.TERMINATED)),
    "transfer": (tp, TRANSFER_EDGES, T, (T.COMPLETED, T.TERMINATED)),
}


def record(module, state, role=PROVIDER):
    kind = cn.Negotiation if module is cn else tp.Transfer
    return kind(role=role, state=state, consumer_pid=C, provider_pid=P, created_at=T0,
                updated_at=T0)


def kinds(edges):
    return sorted({message for _, message, _, _ in edges})


def step(module, current, message_kind, sender, **updates):
    message_type, _, event = message_kind.partition(":")
    extra = {"event_type": event} if event else {}
    if current is None:
        updates = {"role": PROVIDER, "consumer_pid": C, **updates}
    return module.apply(current, message_type, sender, at=T0 + timedelta(minutes=1),
                        **extra, **updates)


# --- the tables ------------------------------------------------------------------------------

@pytest.mark.parametrize("name", MACHINES)
def test_table_is_exactly_the_spec(name):
    module, edges, _, _ = MACHINES[name]
    assert set(module.MACHINE.edges()) == edges


@pytest.mark.parametrize(("module", "edge"), [
    *((cn, e) for e in sorted(NEGOTIATION_EDGES, key=str)),
    *((tp, e) for e in sorted(TRANSFER_EDGES, key=str)),
], ids=str)
def test_every_allowed_transition(module, edge):
    source, message, sender, target = edge
    current = None if source is None else record(module, source)
    after = step(module, current, message, sender)
    assert after.state == target
    assert after.updated_at == T0 + timedelta(minutes=1)
    if current is not None:
        assert after.created_at == current.created_at
        assert current.state == source  # frozen: the old value is unchanged


@pytest.mark.parametrize("name", MACHINES)
def test_everything_else_is_refused(name):
    module, edges, states, _ = MACHINES[name]
    allowed = {(s, msg, r) for s, msg, r, _ in edges}
    refused = 0
    for source, message, sender in itertools.product([None, *states], kinds(edges), Role):
        if (source, message, sender) in allowed:
            continue
        current = None if source is None else record(module, source)
        with pytest.raises(ProtocolError) as info:
            step(module, current, message, sender)
        assert info.value.code == "dsp.invalid_transition"
        assert info.value.message.startswith(f"{message} sent by the {sender} is not allowed")
        refused += 1
    assert refused > 0


@pytest.mark.parametrize(("module", "state", "message", "sender"), [
    (cn, N.REQUESTED, "ContractRequestMessage", CONSUMER),  # no repeated request
    (cn, N.OFFERED, "ContractAgreementMessage", PROVIDER),  # offered must be accepted first
    (cn, N.OFFERED, "ContractOfferMessage", PROVIDER),
    (cn, N.REQUESTED, "ContractAgreementMessage", CONSUMER),  # only providers agree
    (cn, N.AGREED, "ContractAgreementVerificationMessage", PROVIDER),
    (cn, N.VERIFIED, "ContractNegotiationEventMessage:ACCEPTED", CONSUMER),
    (cn, N.OFFERED, "ContractNegotiationEventMessage:FINALIZED", CONSUMER),
    (cn, N.AGREED, "ContractNegotiationEventMessage:FINALIZED", PROVIDER),  # skips VERIFIED
    (tp, T.REQUESTED, "TransferStartMessage", CONSUMER),  # only the provider starts
    (tp, T.REQUESTED, "TransferCompletionMessage", PROVIDER),
    (tp, T.SUSPENDED, "TransferCompletionMessage", CONSUMER),
    (tp, T.SUSPENDED, "TransferSuspensionMessage", PROVIDER),
    (tp, T.STARTED, "TransferRequestMessage", CONSUMER),
], ids=str)
def test_forbidden_sample(module, state, message, sender):
    with pytest.raises(ProtocolError) as info:
        step(module, record(module, state), message, sender)
    error = info.value
    assert isinstance(error, TsunaguError)
    assert error.code == "dsp.invalid_transition"
    assert status_of(error) == 400
    base = message.partition(":")[0]
    assert base in error.message and str(state) in error.message and str(sender) in error.message
    assert "allowed:" in error.message
    assert error.details == {"message_type": message, "state": str(state), "role": str(sender)}


def test_opening_message_from_the_wrong_side():
    with pytest.raises(ProtocolError, match="ContractOfferMessage sent by the consumer is not "
                                            "allowed to start a contract negotiation"):
        step(cn, None, "ContractOfferMessage", CONSUMER)
    with pytest.raises(ProtocolError, match="to start a transfer process"):
        step(tp, None, "TransferStartMessage", PROVIDER)


def test_event_message_needs_its_event_type():
    with pytest.raises(ProtocolError, match="ContractNegotiationEventMessage sent by the consumer"):
        cn.apply(record(cn, N.OFFERED), "ContractNegotiationEventMessage", CONSUMER, at=T0)


@pytest.mark.parametrize("name", MACHINES)
def test_terminal_states_refuse_everything(name):
    module, edges, _, terminal = MACHINES[name]
    for state, message, sender in itertools.product(terminal, kinds(edges), Role):
        with pytest.raises(ProtocolError, match=f"terminal state {state}"):
            step(module, record(module, state), message, sender)


@pytest.mark.parametrize(("module", "state", "sender"), [
    *((cn, s, r) for s in cn.OPEN for r in Role),
    *((tp, s, r) for s in tp.OPEN for r in Role),
], ids=str)
def test_termination_from_each_open_state(module, state, sender):
    termination = (m.negotiation_termination if module is cn else m.transfer_termination)(
        C, P, code="bye", reason=["done"])
    after = module.apply_message(record(module, state), termination, sender, at=T0)
    assert after.state == "TERMINATED"


# --- whole paths through apply_message with real DSP messages ------------------------------

def run(module, steps, *, role, current=None):
    """Apply (sender, message) steps in order, checking each message against its schema."""
    states = []
    for sender, message in steps:
        validate_message(message)
        current = module.apply_message(current, message, sender, role=role,
                                       counterparty="did:key:zOther", at=T0)
        states.append(str(current.state))
    return current, states


def test_consumer_initiated_negotiation_to_finalized():
    steps = [
        (CONSUMER, m.contract_request(C, OFFER, callback_address="tsunagu.dsp.zC")),
        (PROVIDER, m.contract_agreement(C, P, AGREEMENT)),
        (CONSUMER, m.agreement_verification(C, P)),
        (PROVIDER, m.negotiation_event(C, P, "FINALIZED")),
    ]
    final, states = run(cn, steps, role=PROVIDER)
    assert states == ["REQUESTED", "AGREED", "VERIFIED", "FINALIZED"]
    assert (final.consumer_pid, final.provider_pid) == (C, P)
    assert final.offer_id == "urn:uuid:offer-1"
    assert final.agreement_id == "urn:uuid:agreement-1"
    assert final.callback_address == "tsunagu.dsp.zC"
    assert final.role == PROVIDER and final.counterparty == "did:key:zOther"


def test_consumer_initiated_negotiation_with_counter_offer_and_acceptance():
    counter = m.offer("urn:uuid:offer-2", target="urn:uuid:dataset-1",
                      permission=[m.rule("read")])
    steps = [
        (CONSUMER, m.contract_request(C, OFFER, callback_address="cb")),
        (PROVIDER, m.contract_offer(P, counter, consumer_pid=C)),
        (CONSUMER, m.negotiation_event(C, P, "ACCEPTED")),
        (PROVIDER, m.contract_agreement(C, P, AGREEMENT)),
        (CONSUMER, m.agreement_verification(C, P)),
        (PROVIDER, m.negotiation_event(C, P, "FINALIZED")),
    ]
    final, states = run(cn, steps, role=CONSUMER)
    assert states == ["REQUESTED", "OFFERED", "ACCEPTED", "AGREED", "VERIFIED", "FINALIZED"]
    assert final.offer_id == "urn:uuid:offer-2"


def test_provider_initiated_offer_path():
    steps = [
        (PROVIDER, m.contract_offer(P, OFFER, callback_address="tsunagu.dsp.zP")),
        (CONSUMER, m.contract_request(C, OFFER, provider_pid=P)),  # counter-request
        (PROVIDER, m.contract_offer(P, OFFER, consumer_pid=C)),
        (CONSUMER, m.negotiation_event(C, P, "ACCEPTED")),
        (PROVIDER, m.contract_agreement(C, P, AGREEMENT)),
        (CONSUMER, m.agreement_verification(C, P)),
        (PROVIDER, m.negotiation_event(C, P, "FINALIZED")),
    ]
    # The initial offer carries no consumerPid: the consumer chooses it when creating its record.
    with pytest.raises(ValueError, match="consumer_pid"):
        cn.apply_message(None, steps[0][1], PROVIDER, role=CONSUMER, at=T0)
    first = cn.apply(None, "ContractOfferMessage", PROVIDER, role=CONSUMER, consumer_pid=C,
                     provider_pid=P, offer_id="urn:uuid:offer-1", at=T0)
    final, states = run(cn, steps[1:], role=CONSUMER, current=first)
    assert [str(first.state), *states] == [
        "OFFERED", "REQUESTED", "OFFERED", "ACCEPTED", "AGREED", "VERIFIED", "FINALIZED"]
    assert final.agreement_id == "urn:uuid:agreement-1"


def test_consumer_learns_the_provider_pid_from_the_first_answer():
    mine = cn.apply_message(None, m.contract_request(C, OFFER, callback_address="cb"), CONSUMER,
                            role=CONSUMER, at=T0)
    assert mine.provider_pid is None
    with pytest.raises(ValueError, match="providerPid"):
        cn.ack_message(mine)
    agreed = cn.apply_message(mine, m.contract_agreement(C, P, AGREEMENT), PROVIDER, at=T0)
    assert agreed.provider_pid == P
    assert validate_message(cn.ack_message(agreed)) == "ContractNegotiation"
    assert cn.ack_message(agreed)["state"] == "AGREED"


def test_transfer_start_suspend_resume_complete():
    da = m.nats_data_address("tsunagu.data.zP.ds1.>", stream="DATA_zP")
    steps = [
        (CONSUMER, m.transfer_request(C, agreement_id="urn:uuid:agreement-1",
                                      format="nats-jetstream", callback_address="cb")),
        (PROVIDER, m.transfer_start(C, P, data_address=da)),
        (CONSUMER, m.transfer_suspension(C, P, reason=["app paused"])),
        (CONSUMER, m.transfer_start(C, P)),  # the consumer resumes (HTTPS binding, 2025-1)
        (PROVIDER, m.transfer_suspension(C, P, code="maintenance")),
        (PROVIDER, m.transfer_start(C, P, data_address=da)),
        (CONSUMER, m.transfer_completion(C, P)),
    ]
    final, states = run(tp, steps, role=PROVIDER)
    assert states == ["REQUESTED", "STARTED", "SUSPENDED", "STARTED", "SUSPENDED", "STARTED",
                      "COMPLETED"]
    assert final.agreement_id == "urn:uuid:agreement-1"
    assert final.format == "nats-jetstream"
    assert validate_message(tp.ack_message(final)) == "TransferProcess"
    with pytest.raises(ProtocolError, match="terminal state COMPLETED"):
        tp.apply_message(final, m.transfer_termination(C, P), CONSUMER)


# --- records, errors, misuse ------------------------------------------------------------------

def test_message_for_another_process_is_refused():
    current = record(cn, N.REQUESTED)
    with pytest.raises(ProtocolError) as info:
        cn.apply_message(current, m.contract_agreement(C, "urn:uuid:someone-else", AGREEMENT),
                         PROVIDER, at=T0)
    assert info.value.code == "dsp.process_mismatch"
    assert info.value.details == {"field": "provider_pid"}
    assert "urn:uuid:someone-else" in info.value.message


def test_counterparty_cannot_change():
    current = cn.apply(None, "ContractRequestMessage", CONSUMER, role=PROVIDER, consumer_pid=C,
                       counterparty="did:key:zA", at=T0)
    with pytest.raises(ProtocolError) as info:
        cn.apply(current, "ContractAgreementMessage", PROVIDER, counterparty="did:key:zB", at=T0)
    assert info.value.details == {"field": "counterparty"}


def test_new_process_needs_role_and_consumer_pid():
    with pytest.raises(ValueError, match="role"):
        tp.apply(None, "TransferRequestMessage", CONSUMER, consumer_pid=C, at=T0)
    with pytest.raises(TypeError, match="no field"):
        tp.apply(None, "TransferRequestMessage", CONSUMER, role=PROVIDER, consumer_pid=C,
                 offer_id="x", at=T0)


def test_time_must_be_aware_and_defaults_to_now():
    with pytest.raises(ValueError, match="timezone-aware"):
        tp.apply(None, "TransferRequestMessage", CONSUMER, role=PROVIDER, consumer_pid=C,
                 at=datetime(2025, 1, 1))
    before = datetime.now(UTC)
    created = tp.apply(None, "TransferRequestMessage", CONSUMER, role=PROVIDER, consumer_pid=C)
    assert before <= created.created_at <= datetime.now(UTC)


def test_records_are_frozen():
    with pytest.raises(FrozenInstanceError):
        record(cn, N.REQUESTED).state = N.AGREED  # type: ignore[misc]


@pytest.mark.parametrize(("module", "state", "message", "expected_type"), [
    (cn, N.FINALIZED, "ContractAgreementMessage", "ContractNegotiationError"),
    (tp, T.REQUESTED, "TransferCompletionMessage", "TransferError"),
])
def test_protocol_error_becomes_a_dsp_error_message(module, state, message, expected_type):
    with pytest.raises(ProtocolError) as info:
        step(module, record(module, state), message, PROVIDER)
    reply = module.error_message(info.value, consumer_pid=C, provider_pid=P)
    assert validate_message(reply) == expected_type
    assert reply["code"] == "dsp.invalid_transition"
    assert reply["reason"] == [info.value.message]
    assert (reply["consumerPid"], reply["providerPid"]) == (C, P)


def test_table_construction_refuses_ambiguity_and_terminal_sources():
    with pytest.raises(ValueError, match="ambiguous"):
        StateMachine("x", [Transition("M", EITHER, (N.REQUESTED,), N.OFFERED),
                           Transition("M", EITHER, (N.REQUESTED,), N.AGREED)], [N.TERMINATED])
    with pytest.raises(ValueError, match="terminal"):
        StateMachine("x", [Transition("M", EITHER, (N.TERMINATED,), N.OFFERED)], [N.TERMINATED])


def test_roles_accept_plain_strings():
    after = cn.apply(record(cn, N.OFFERED), "ContractNegotiationEventMessage", "consumer",
                     event_type="ACCEPTED", at=T0)
    assert after.state == N.ACCEPTED
    with pytest.raises(ValueError):
        cn.apply(record(cn, N.OFFERED), "ContractRequestMessage", "buyer", at=T0)
