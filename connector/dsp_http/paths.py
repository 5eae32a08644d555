"""Where each DSP 2025-1 message goes in the HTTPS binding, both ways (pure).

Outgoing: ``outgoing(message, to_role)`` gives the method and the path under the
recipient's DSP base URL. Incoming: ``ROUTES`` lists what this connector serves: method, path
(aiohttp pattern), the message type its body must be, and whether it creates a process
(``201 Created``). Callback paths name the recipient's own process id; the provider's paths
its ``providerPid``, the consumer's its ``consumerPid``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

from connector.protocol.dsp.statemachine import Role

NEG, TRA = "/negotiations", "/transfers"
VERSION_PATH = "/.well-known/dspace-version"
BASE_PATH = "/dsp"  # the DSP endpoints sit under <public_url>/dsp

# Message type -> (path below /negotiations or /transfers with {pid}, creating path or None)
_NEGOTIATION = {
    "ContractRequestMessage": ("/{pid}/request", "/request"),
    "ContractOfferMessage": ("/{pid}/offers", "/offers"),
    "ContractAgreementMessage": ("/{pid}/agreement", None),
    "ContractAgreementVerificationMessage": ("/{pid}/agreement/verification", None),
    "ContractNegotiationEventMessage": ("/{pid}/events", None),
    "ContractNegotiationTerminationMessage": ("/{pid}/termination", None),
}
_TRANSFER = {
    "TransferRequestMessage": (None, "/request"),
    "TransferStartMessage": ("/{pid}/start", None),
    "TransferCompletionMessage": ("/{pid}/completion", None),
    "TransferTerminationMessage": ("/{pid}/termination", None),
    "TransferSuspensionMessage": ("/{pid}/suspension", None),
}
# The process each message creates at its recipient has no pid of the recipient's yet.
_CREATES = {"ContractRequestMessage": "providerPid", "ContractOfferMessage": "consumerPid",
            "TransferRequestMessage": "providerPid"}


def _pid_key(to_role: Role | None) -> str:
    return "consumerPid" if to_role == Role.CONSUMER else "providerPid"


def outgoing(message: Mapping[str, Any], to_role: Role | None) -> tuple[str, str]:
    """(method, path) for sending ``message`` to a counterparty in ``to_role``."""
    message_type = str(message.get("@type"))
    if message_type == "CatalogRequestMessage":
        return "POST", "/catalog/request"
    if message_type == "DatasetRequestMessage":
        return "GET", "/catalog/datasets/" + quote(str(message.get("dataset")), safe="")
    for prefix, table in ((NEG, _NEGOTIATION), (TRA, _TRANSFER)):
        if message_type in table:
            with_pid, creating = table[message_type]
            key = _CREATES.get(message_type)
            if creating is not None and (key is None or not message.get(key)):
                return "POST", prefix + creating
            assert with_pid is not None
            pid = quote(str(message.get(_pid_key(to_role))), safe="")
            return "POST", prefix + with_pid.format(pid=pid)
    raise ValueError(f"{message_type} has no HTTPS binding")


@dataclass(frozen=True)
class Route:
    method: str
    path: str  # aiohttp pattern below BASE_PATH; {pid}: the recipient's process id
    message_type: str
    creates: bool = False


def _routes() -> tuple[Route, ...]:
    out = [Route("POST", "/catalog/request", "CatalogRequestMessage"),
           Route("GET", "/catalog/datasets/{id}", "DatasetRequestMessage")]
    for prefix, table in ((NEG, _NEGOTIATION), (TRA, _TRANSFER)):
        for message_type, (with_pid, creating) in table.items():
            if creating is not None:
                out.append(Route("POST", prefix + creating, message_type, creates=True))
            if with_pid is not None:
                out.append(Route("POST", prefix + with_pid, message_type))
    return tuple(out)


ROUTES = _routes()


def has_binding(message_type: str) -> bool:
    """A DSP message with its own path (tsunagu's own notices go to ``/tsunagu/messages``)."""
    return message_type in ("CatalogRequestMessage", "DatasetRequestMessage") \
        or message_type in _NEGOTIATION or message_type in _TRANSFER
