"""What every binding (NATS, HTTPS) checks of a received DSP message before a service sees it.

One function, so the two bindings cannot drift apart: a DSP message out of bounds, off its
schema or not closed-world JSON-LD (``validation.check_received``) is answered in its own
protocol's error message (CatalogError, ContractNegotiationError, TransferError), as the
services answer, so a counterparty sees a refused request rather than a transport failure.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from connector.protocol.dsp import messages as m
from connector.protocol.dsp.validation import SCHEMA_FOR_TYPE, check_received
from trust.errors import TsunaguError

MAX_REASON_CHARS = 1000
Reply = tuple[str, dict[str, Any]]


def refusal_of(message_type: str, payload: Mapping[str, Any]
               ) -> tuple[TsunaguError, Reply] | None:
    """Why a received ``message_type`` message is refused, with the DSP error answering it;
    None when it passes (or is not a DSP message: tsunagu's own types are the services')."""
    if message_type not in SCHEMA_FOR_TYPE:
        return None
    try:
        check_received(payload)
    except TsunaguError as exc:
        return exc, m.refusal(message_type, payload, code=exc.code,
                              reason=[exc.message[:MAX_REASON_CHARS]])
    return None
