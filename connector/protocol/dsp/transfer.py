"""DSP 2025-1 transfer process: states, the transition table and the transfer record.

Source: Dataspace Protocol 2025-1, "Transfer Process Protocol" (states, message types with
"Sent by" / "Resulting state"), its figure ``transfer-process-state-machine.puml`` and the
HTTPS binding (the consumer may POST a TransferStartMessage "to attempt to start a TP after
it has been suspended").
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


class TransferState(StrEnum):
    REQUESTED = "REQUESTED"
    STARTED = "STARTED"
    SUSPENDED = "SUSPENDED"
    COMPLETED = "COMPLETED"
    TERMINATED = "TERMINATED"


REQUESTED, STARTED, SUSPENDED, COMPLETED, TERMINATED = TransferState

TRANSFER_REQUEST = "TransferRequestMessage"
TRANSFER_START = "TransferStartMessage"
TRANSFER_SUSPENSION = "TransferSuspensionMessage"
TRANSFER_COMPLETION = "TransferCompletionMessage"
TRANSFER_TERMINATION = "TransferTerminationMessage"

TERMINAL = (COMPLETED, TERMINATED)
OPEN = tuple(s for s in TransferState if s not in TERMINAL)

TRANSITIONS = (
    #          message               sent by   from          to
    Transition(TRANSFER_REQUEST,     CONSUMER, (INITIAL,),   REQUESTED),
    Transition(TRANSFER_START,       PROVIDER, (REQUESTED,), STARTED),
    Transition(TRANSFER_START,       EITHER,   (SUSPENDED,), STARTED),  # resume: figure P/C
    Transition(TRANSFER_SUSPENSION,  EITHER,   (STARTED,),   SUSPENDED),
    Transition(TRANSFER_COMPLETION,  EITHER,   (STARTED,),   COMPLETED),
    # "at any point except a terminal state", by Consumer or Provider
    Transition(TRANSFER_TERMINATION, EITHER,   OPEN,         TERMINATED),
)

MACHINE = StateMachine("transfer process", TRANSITIONS, TERMINAL)


@dataclass(frozen=True, kw_only=True)
class Transfer(Process[TransferState]):
    agreement_id: str | None = None
    format: str | None = None


_FIELDS = {
    "consumer_pid": ("consumerPid",),
    "provider_pid": ("providerPid",),
    "callback_address": ("callbackAddress",),
    "agreement_id": ("agreementId",),
    "format": ("format",),
}


def apply(transfer: Transfer | None, message_type: str, sender: Role | str, *,
          at: datetime | None = None, **updates: Any) -> Transfer:
    """The transfer after ``message_type`` sent by ``sender``; raises ``ProtocolError``.

    ``transfer=None`` means no transfer exists yet: ``role`` and ``consumer_pid`` must then be
    given in ``updates``.
    """
    return advance(MACHINE, Transfer, transfer, message_type, sender, at, updates)


def apply_message(transfer: Transfer | None, message: Mapping[str, Any], sender: Role | str, *,
                  role: Role | None = None, counterparty: str | None = None,
                  at: datetime | None = None) -> Transfer:
    """``apply`` for a (schema-valid) DSP message dict."""
    return apply(transfer, str(message.get("@type")), sender, at=at, role=role,
                 counterparty=counterparty, **pick(message, _FIELDS))


def error_message(error: TsunaguError, *, consumer_pid: str, provider_pid: str) -> dict[str, Any]:
    """The TransferError answering a refused message."""
    return messages.transfer_error(consumer_pid, provider_pid, code=error.code,
                                   reason=[error.message])


def ack_message(transfer: Transfer) -> dict[str, Any]:
    """The TransferProcess ACK describing ``transfer`` (both pids must be known)."""
    if transfer.provider_pid is None:
        raise ValueError("the providerPid is not known yet")
    return messages.transfer_process(transfer.consumer_pid, transfer.provider_pid, transfer.state)
