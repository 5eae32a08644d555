"""DSP 2025-1 contract negotiation: states, the transition table and the negotiation record.

Source: Dataspace Protocol 2025-1, "Contract Negotiation Protocol" (states, message types with
"Sent by" / "Resulting state") and its figure ``contract.negotiation.state.machine.puml``.
Both parties apply the same table: the sender when its message is acknowledged, the receiver
when it accepts the message.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any

from connector.protocol.dsp import messages
from connector.protocol.dsp.statemachine import (
    CONSUMER,
    EITHER,
    INITIAL,
    PROVIDER,
    Process,
    Role,
    StateMachine,
    Transition,
    advance,
    pick,
)
from trust.errors import TsunaguError


class NegotiationState(StrEnum):
    REQUESTED = "REQUESTED"
    OFFERED = "OFFERED"
    ACCEPTED = "ACCEPTED"
    AGREED = "AGREED"
    VERIFIED = "VERIFIED"
    FINALIZED = "FINALIZED"
    TERMINATED = "TERMINATED"


REQUESTED, OFFERED, ACCEPTED, AGREED, VERIFIED, FINALIZED, TERMINATED = NegotiationState

# Message kinds. The event message is two kinds: its eventType decides who may send it.
CONTRACT_REQUEST = "ContractRequestMessage"
CONTRACT_OFFER = "ContractOfferMessage"
CONTRACT_AGREEMENT = "ContractAgreementMessage"
AGREEMENT_VERIFICATION = "ContractAgreementVerificationMessage"
EVENT = "ContractNegotiationEventMessage"
EVENT_ACCEPTED = f"{EVENT}:ACCEPTED"
EVENT_FINALIZED = f"{EVENT}:FINALIZED"
TERMINATION = "ContractNegotiationTerminationMessage"

TERMINAL = (FINALIZED, TERMINATED)
OPEN = tuple(s for s in NegotiationState if s not in TERMINAL)

TRANSITIONS = (
    #          message                 sent by   from                to
    Transition(CONTRACT_REQUEST,       CONSUMER, (INITIAL, OFFERED), REQUESTED),
    Transition(CONTRACT_OFFER,         PROVIDER, (INITIAL, REQUESTED), OFFERED),
    Transition(EVENT_ACCEPTED,         CONSUMER, (OFFERED,),         ACCEPTED),
    Transition(CONTRACT_AGREEMENT,     PROVIDER, (REQUESTED, ACCEPTED), AGREED),
    Transition(AGREEMENT_VERIFICATION, CONSUMER, (AGREED,),          VERIFIED),
    Transition(EVENT_FINALIZED,        PROVIDER, (VERIFIED,),        FINALIZED),
    # The text: "can be sent at any state of a CN", sent by Consumer or Provider. (The figure
    # draws ACCEPTED and VERIFIED -> TERMINATED for P only and AGREED -> TERMINATED for C only;
    # we follow the text so that the side left waiting can always give up.)
    Transition(TERMINATION,            EITHER,   OPEN,               TERMINATED),
)

MACHINE = StateMachine("contract negotiation", TRANSITIONS, TERMINAL)


@dataclass(frozen=True, kw_only=True)
class Negotiation(Process[NegotiationState]):
    offer_id: str | None = None  # the latest offer (request or offer message)
    agreement_id: str | None = None


# Where apply_message finds the record fields in a DSP negotiation message.
_FIELDS = {
    "consumer_pid": ("consumerPid",),
    "provider_pid": ("providerPid",),
    "callback_address": ("callbackAddress",),
    "offer_id": ("offer", "@id"),
    "agreement_id": ("agreement", "@id"),
}


def message_kind(message_type: str, event_type: str | None = None) -> str:
    """The table's name for a message: event messages are qualified by their eventType."""
    return f"{message_type}:{event_type}" if message_type == EVENT and event_type else message_type


def apply(negotiation: Negotiation | None, message_type: str, sender: Role | str, *,
          event_type: str | None = None, at: datetime | None = None,
          **updates: Any) -> Negotiation:
    """The negotiation after ``message_type`` sent by ``sender``; raises ``ProtocolError``.

    ``negotiation=None`` means no negotiation exists yet: ``role`` and ``consumer_pid`` must
    then be given in ``updates``. Other ``updates`` (``provider_pid``, ``offer_id``, ...) are
    recorded; a pid or counterparty that contradicts the record is a ``dsp.process_mismatch``.
    """
    kind = message_kind(message_type, event_type)
    return advance(MACHINE, Negotiation, negotiation, kind, sender, at, updates)


def apply_message(negotiation: Negotiation | None, message: Mapping[str, Any],
                  sender: Role | str, *, role: Role | None = None,
                  counterparty: str | None = None, at: datetime | None = None) -> Negotiation:
    """``apply`` for a (schema-valid) DSP message dict: type, eventType and fields from it."""
    return apply(negotiation, str(message.get("@type")), sender,
                 event_type=message.get("eventType"), at=at, role=role,
                 counterparty=counterparty, **pick(message, _FIELDS))


def error_message(error: TsunaguError, *, consumer_pid: str, provider_pid: str) -> dict[str, Any]:
    """The ContractNegotiationError answering a refused message."""
    return messages.contract_negotiation_error(consumer_pid, provider_pid, code=error.code,
                                               reason=[error.message])


def ack_message(negotiation: Negotiation) -> dict[str, Any]:
    """The ContractNegotiation ACK describing ``negotiation`` (both pids must be known)."""
    if negotiation.provider_pid is None:
        raise ValueError("the providerPid is not known yet")
    return messages.contract_negotiation(negotiation.consumer_pid, negotiation.provider_pid,
                                         negotiation.state)
