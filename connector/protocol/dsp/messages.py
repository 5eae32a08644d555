"""Builders for DSP 2025-1 messages in their compact JSON-LD shape.

Each function returns a new dict that validates against the message's DSP schema and expands
under the DSP context without dropped terms (the tests check both). Optional fields are left
out rather than sent empty: several schemas require ``minItems: 1``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

DSP_CONTEXT = "https://w3id.org/dspace/2025/1/context.jsonld"

# DSP leaves endpointType to profiles; this names tsunagu's NATS JetStream transport.
NATS_ENDPOINT_TYPE = "urn:tsunagu:dsp:endpoint-type:nats-jetstream"

Message = dict[str, Any]


def _message(message_type: str, **fields: Any) -> Message:
    body = {k: v for k, v in fields.items() if v is not None}
    return {"@context": [DSP_CONTEXT], "@type": message_type, **body}


def _pids(consumer_pid: str, provider_pid: str) -> dict[str, str]:
    return {"providerPid": provider_pid, "consumerPid": consumer_pid}


def _reason(reason: Sequence[str] | None) -> list[str] | None:
    # Strings only: objects in ``reason`` would carry terms the DSP context does not define.
    return list(reason) if reason else None


def _exactly_one(**named: str | None) -> None:
    given = [k for k, v in named.items() if v is not None]
    if len(given) != 1:
        raise ValueError(f"give exactly one of {' or '.join(named)} (the schema's oneOf)")


def _timestamp(at: datetime) -> str:
    if at.tzinfo is None:
        raise ValueError("timestamps must be timezone-aware")
    return at.astimezone(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


# --- ODRL policies (the DSP profile: compact terms, rules without targets) -----------------

def constraint(left_operand: str, operator: str, right_operand: Any) -> dict[str, Any]:
    return {"leftOperand": left_operand, "operator": operator, "rightOperand": right_operand}


def rule(action: str, constraints: Sequence[Mapping[str, Any]] = ()) -> dict[str, Any]:
    """A permission, prohibition or duty: an action with optional constraints."""
    out: dict[str, Any] = {"action": action}
    if constraints:
        out["constraint"] = [dict(c) for c in constraints]
    return out


def _policy(policy_type: str, policy_id: str, permission: Sequence[Mapping[str, Any]],
            prohibition: Sequence[Mapping[str, Any]], obligation: Sequence[Mapping[str, Any]],
            **extra: Any) -> dict[str, Any]:
    if not (permission or prohibition):
        raise ValueError(f"an {policy_type} needs a permission or a prohibition")
    body = {"@id": policy_id, "@type": policy_type, **{k: v for k, v in extra.items() if v}}
    for key, rules in (("permission", permission), ("prohibition", prohibition),
                       ("obligation", obligation)):
        if rules:
            body[key] = [dict(r) for r in rules]
    return body


def offer(offer_id: str, *, target: str | None = None,
          permission: Sequence[Mapping[str, Any]] = (),
          prohibition: Sequence[Mapping[str, Any]] = (),
          obligation: Sequence[Mapping[str, Any]] = ()) -> dict[str, Any]:
    """An ODRL Offer. Offers in messages need ``target``; offers inside a Dataset must not."""
    return _policy("Offer", offer_id, permission, prohibition, obligation, target=target)


def agreement(agreement_id: str, *, target: str, assigner: str, assignee: str, timestamp: datetime,
              permission: Sequence[Mapping[str, Any]] = (),
              prohibition: Sequence[Mapping[str, Any]] = (),
              obligation: Sequence[Mapping[str, Any]] = ()) -> dict[str, Any]:
    return _policy("Agreement", agreement_id, permission, prohibition, obligation,
                   target=target, assigner=assigner, assignee=assignee,
                   timestamp=_timestamp(timestamp))


# --- catalog -------------------------------------------------------------------------------

def catalog_request(filter: Sequence[Any] | None = None) -> Message:
    return _message("CatalogRequestMessage", filter=list(filter) if filter is not None else None)


def dataset_request(dataset_id: str) -> Message:
    return _message("DatasetRequestMessage", dataset=dataset_id)


def data_service(service_id: str, endpoint_url: str) -> dict[str, Any]:
    return {"@id": service_id, "@type": "DataService", "endpointURL": endpoint_url}


def distribution(format: str, access_service: str | Mapping[str, Any]) -> dict[str, Any]:
    service = access_service if isinstance(access_service, str) else dict(access_service)
    return {"@type": "Distribution", "format": format, "accessService": service}


def dataset_entry(dataset_id: str, *, offers: Sequence[Mapping[str, Any]],
                  distributions: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    """A Dataset as listed inside a Catalog (no ``@context``)."""
    return {"@id": dataset_id, "@type": "Dataset", "hasPolicy": [dict(o) for o in offers],
            "distribution": [dict(d) for d in distributions]}


def dataset(dataset_id: str, *, offers: Sequence[Mapping[str, Any]],
            distributions: Sequence[Mapping[str, Any]]) -> Message:
    """The answer to a DatasetRequestMessage."""
    return {"@context": [DSP_CONTEXT],
            **dataset_entry(dataset_id, offers=offers, distributions=distributions)}


def catalog(catalog_id: str, *, participant_id: str,
            datasets: Sequence[Mapping[str, Any]] = (),
            services: Sequence[Mapping[str, Any]] = ()) -> Message:
    """The answer to a CatalogRequestMessage (datasets built with ``dataset_entry``)."""
    return _message("Catalog", **{"@id": catalog_id}, participantId=participant_id,
                    dataset=[dict(d) for d in datasets] or None,
                    service=[dict(s) for s in services] or None)


def catalog_error(*, code: str | None = None, reason: Sequence[str] | None = None) -> Message:
    return _message("CatalogError", code=code, reason=_reason(reason))


# --- contract negotiation ------------------------------------------------------------------

def contract_request(consumer_pid: str, offer: Mapping[str, Any], *,
                     provider_pid: str | None = None,
                     callback_address: str | None = None) -> Message:
    """Initial request: ``callback_address``; counter-request in a negotiation: ``provider_pid``."""
    _exactly_one(callback_address=callback_address, provider_pid=provider_pid)
    return _message("ContractRequestMessage", consumerPid=consumer_pid,
                    providerPid=provider_pid, offer=dict(offer), callbackAddress=callback_address)


def contract_offer(provider_pid: str, offer: Mapping[str, Any], *,
                   consumer_pid: str | None = None,
                   callback_address: str | None = None) -> Message:
    """Initial offer: ``callback_address``; counter-offer in a negotiation: ``consumer_pid``."""
    _exactly_one(callback_address=callback_address, consumer_pid=consumer_pid)
    return _message("ContractOfferMessage", providerPid=provider_pid, consumerPid=consumer_pid,
                    offer=dict(offer), callbackAddress=callback_address)


def contract_agreement(consumer_pid: str, provider_pid: str,
                       agreement: Mapping[str, Any]) -> Message:
    return _message("ContractAgreementMessage", **_pids(consumer_pid, provider_pid),
                    agreement=dict(agreement))


def agreement_verification(consumer_pid: str, provider_pid: str) -> Message:
    return _message("ContractAgreementVerificationMessage", **_pids(consumer_pid, provider_pid))


def negotiation_event(consumer_pid: str, provider_pid: str, event_type: str) -> Message:
    """``event_type`` is ACCEPTED (sent by the consumer) or FINALIZED (by the provider)."""
    if event_type not in ("ACCEPTED", "FINALIZED"):
        raise ValueError("event_type must be ACCEPTED or FINALIZED")
    return _message("ContractNegotiationEventMessage", **_pids(consumer_pid, provider_pid),
                    eventType=event_type)


def negotiation_termination(consumer_pid: str, provider_pid: str, *, code: str | None = None,
                            reason: Sequence[str] | None = None) -> Message:
    return _message("ContractNegotiationTerminationMessage", **_pids(consumer_pid, provider_pid),
                    code=code, reason=_reason(reason))


def contract_negotiation(consumer_pid: str, provider_pid: str, state: str) -> Message:
    """The ACK: the negotiation's current state."""
    return _message("ContractNegotiation", **_pids(consumer_pid, provider_pid), state=str(state))


def contract_negotiation_error(consumer_pid: str, provider_pid: str, *, code: str | None = None,
                               reason: Sequence[str] | None = None) -> Message:
    return _message("ContractNegotiationError", **_pids(consumer_pid, provider_pid),
                    code=code, reason=_reason(reason))


# --- transfer process ----------------------------------------------------------------------

def data_address(endpoint_type: str, *, endpoint: str | None = None,
                 properties: Mapping[str, str] | None = None) -> dict[str, Any]:
    props = [{"@type": "EndpointProperty", "name": name, "value": value}
             for name, value in (properties or {}).items()]
    body: dict[str, Any] = {"@type": "DataAddress", "endpointType": endpoint_type}
    if endpoint is not None:
        body["endpoint"] = endpoint
    if props:
        body["endpointProperties"] = props
    return body


def nats_data_address(subject: str, *, stream: str, consumer: str | None = None,
                      authorization: str | None = None, auth_type: str | None = None,
                      extra: Mapping[str, str] | None = None) -> dict[str, Any]:
    """Where a consumer reads a dataset: a subject on a JetStream stream.

    ``authorization``/``authType`` are the optional endpoint properties the DSP text names;
    for NATS the token is the stream-import activation JWT. ``extra``: further endpoint
    properties (e.g. a finite transfer's ``snapshotSequence``).
    """
    properties = {"stream": stream, "consumer": consumer, "authorization": authorization,
                  "authType": auth_type, **(extra or {})}
    return data_address(NATS_ENDPOINT_TYPE, endpoint=subject,
                        properties={k: v for k, v in properties.items() if v is not None})


def transfer_request(consumer_pid: str, *, agreement_id: str, format: str,
                     callback_address: str,
                     data_address: Mapping[str, Any] | None = None) -> Message:
    """``data_address`` only for push transfers (the consumer's receiving endpoint)."""
    return _message("TransferRequestMessage", consumerPid=consumer_pid, agreementId=agreement_id,
                    format=format, callbackAddress=callback_address,
                    dataAddress=dict(data_address) if data_address else None)


def transfer_start(consumer_pid: str, provider_pid: str, *,
                   data_address: Mapping[str, Any] | None = None) -> Message:
    """``data_address`` only for pull transfers (where the consumer fetches the data)."""
    return _message("TransferStartMessage", **_pids(consumer_pid, provider_pid),
                    dataAddress=dict(data_address) if data_address else None)


def transfer_suspension(consumer_pid: str, provider_pid: str, *, code: str | None = None,
                        reason: Sequence[str] | None = None) -> Message:
    return _message("TransferSuspensionMessage", **_pids(consumer_pid, provider_pid),
                    code=code, reason=_reason(reason))


def transfer_completion(consumer_pid: str, provider_pid: str) -> Message:
    return _message("TransferCompletionMessage", **_pids(consumer_pid, provider_pid))


def transfer_termination(consumer_pid: str, provider_pid: str, *, code: str | None = None,
                         reason: Sequence[str] | None = None) -> Message:
    return _message("TransferTerminationMessage", **_pids(consumer_pid, provider_pid),
                    code=code, reason=_reason(reason))


def transfer_process(consumer_pid: str, provider_pid: str, state: str) -> Message:
    """The ACK: the transfer's current state."""
    return _message("TransferProcess", **_pids(consumer_pid, provider_pid), state=str(state))


def transfer_error(consumer_pid: str, provider_pid: str, *, code: str | None = None,
                   reason: Sequence[str] | None = None) -> Message:
    return _message("TransferError", **_pids(consumer_pid, provider_pid),
                    code=code, reason=_reason(reason))


# --- refusals ------------------------------------------------------------------------------

MAX_PID_CHARS = 256  # a refusal echoes the refused message's pids, not whatever they hold

def refusal(refused_type: str, refused: Mapping[str, Any], *, code: str,
            reason: Sequence[str]) -> tuple[str, Message]:
    """The DSP error answering a refused ``refused_type`` message: CatalogError for the
    catalog protocol, else ContractNegotiationError or TransferError with the pids the refused
    message named (``"unknown"`` where it named none usable; the schemas require both)."""
    if refused_type.startswith(("Catalog", "Dataset")):
        return "CatalogError", catalog_error(code=code, reason=reason)
    pids = [refused.get(k) for k in ("consumerPid", "providerPid")]
    consumer_pid, provider_pid = (p if isinstance(p, str) and 0 < len(p) <= MAX_PID_CHARS
                                  else "unknown" for p in pids)
    if refused_type.startswith("Transfer"):
        return "TransferError", transfer_error(consumer_pid, provider_pid, code=code,
                                               reason=reason)
    return "ContractNegotiationError", contract_negotiation_error(
        consumer_pid, provider_pid, code=code, reason=reason)
