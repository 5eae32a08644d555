"""Contract negotiation over either DSP binding (the NATS bus, HTTPS): the I/O shell around
``dsp.negotiation``.

Every step is one store transaction (process row + agreement + audit line). The side that
sends a message moves its own record first and keeps the message as ``pending`` (an outbox);
an ACK clears it, a restart resends it. Receiving a message the record already accepted
(``last_in``) is answered with an ACK of the current state, so resends are harmless.

Flow (consumer C, provider P): C ContractRequest -> P checks offer + credential claims ->
P ContractAgreement (signed) | P Termination (reason: the failed constraint) -> C verifies,
counter-signs -> C AgreementVerification -> P FINALIZED event.
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections.abc import Mapping
from dataclasses import replace
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, TypeVar

from connector.data.datasets import WITHDRAWN, load_dataset
from connector.errors import ConnectorCode
from connector.protocol import agreements
from connector.protocol.dsp import messages
from connector.protocol.dsp import negotiation as dn
from connector.protocol.dsp.negotiation import Negotiation, NegotiationState
from connector.protocol.dsp.statemachine import Process, ProtocolError, Role
from connector.protocol.dsp.validation import validate_message
from connector.protocol.processes import (
    Outbox,
    ProcessTable,
    Reply,
    Row,
    clear_pending,
    error_reply,
    is_error,
    mark_refused,
)
from trust.credentials import VerifiedCredential
from trust.envelope import Envelope
from trust.errors import ErrorCode, TsunaguError

if TYPE_CHECKING:
    from connector.runtime.connector import Connector

log = logging.getLogger(__name__)

P = TypeVar("P", bound=Process[Any])


# --- the service ------------------------------------------------------------------------------

NEGOTIATION_ERROR = "ContractNegotiationError"
ACK = "ContractNegotiation"


def _columns(record: Negotiation, extra: dict[str, Any]) -> dict[str, Any]:
    return {}


class NegotiationService:
    """``connector.negotiations``: start (consumer), get, list, wait; serves both roles."""

    def __init__(self, connector: Connector, *, retry_s: float = 1.0) -> None:
        self.retry_s = retry_s
        self.connector = connector
        self.table: ProcessTable[Negotiation] = ProcessTable(
            connector, "negotiations", Negotiation, NegotiationState, _columns)
        self.outbox = Outbox(self.table, self._on_reply, self.retry_s)

    async def startup(self) -> None:
        connector = self.connector
        for message_type in (dn.CONTRACT_REQUEST, dn.CONTRACT_AGREEMENT,
                             dn.AGREEMENT_VERIFICATION, dn.EVENT, dn.TERMINATION):
            connector.route(message_type, self._on_message)
        self.table.count_states("tsunagu_negotiations")
        for row in self.table.all("state NOT IN ('FINALIZED', 'TERMINATED') OR body LIKE ?",
                                  ('%"pending":{%',)):
            self._resume(row)

    async def shutdown(self) -> None:
        await self.outbox.close()

    def _resume(self, row: Row[Negotiation]) -> None:
        if row.pending is not None:
            self.outbox.kick(row.pid)
        elif row.record.role == Role.PROVIDER and row.record.state == dn.REQUESTED:
            self.outbox.spawn(self._decide(row.pid))

    # --- API -------------------------------------------------------------------------------

    def get(self, pid: str) -> dict[str, Any] | None:
        row = self.table.get(pid)
        return None if row is None else _view(row)

    def list(self) -> list[dict[str, Any]]:
        return [_view(r) for r in self.table.all()]

    async def wait(self, pid: str, *states: str, timeout: float = 10.0) -> dict[str, Any]:
        """Until the negotiation reaches one of ``states`` (default: a terminal state)."""
        wanted = set(states or (dn.FINALIZED, dn.TERMINATED))
        async with asyncio.timeout(timeout):
            while True:
                view = self.get(pid)
                if view is not None and view["state"] in wanted:
                    return view
                await asyncio.sleep(0.02)

    async def start(self, provider_did: str, dataset_id: str, offer_id: str, *,
                                offer: dict[str, Any] | None = None,
                                purpose: str | None = None, timeout: float = 5.0
                                ) -> dict[str, Any]:
        """Consumer: request ``offer_id`` of ``dataset_id``; returns after the provider's ACK
        (or once the request is stored, if the provider is unreachable: it is resent)."""
        if offer is None:
            offer = await self._fetch_offer(provider_did, dataset_id, offer_id)
        pid = f"urn:uuid:{uuid.uuid4()}"
        request = messages.contract_request(
            pid, {**offer, "target": dataset_id},
            callback_address=self.connector.dsp.callback_for(provider_did))
        if purpose is not None:
            request[agreements.PURPOSE_KEY] = purpose
        record = dn.apply_message(None, request, Role.CONSUMER, role=Role.CONSUMER,
                                  counterparty=provider_did)
        row = Row(record, pending=request,
                  extra={"datasetId": dataset_id, "offer": offer, "purpose": purpose})
        with self.connector.store.transaction() as db:
            self.table.save(db, row, "negotiation")
        self._changed()
        self.outbox.kick(pid)
        await self.outbox.settled(pid, timeout)
        view = self.get(pid)
        assert view is not None
        return view

    async def _fetch_offer(self, provider: str, dataset_id: str, offer_id: str
                           ) -> dict[str, Any]:
        env, _ = await self.connector.dsp.request(provider, "DatasetRequestMessage",
                                                  messages.dataset_request(dataset_id))
        policies = env.payload.get("hasPolicy", [])
        for offer in [policies] if isinstance(policies, dict) else policies:
            if offer.get("@id") == offer_id:
                return dict(offer)
        raise TsunaguError(f"dataset {dataset_id} has no offer {offer_id}",
                           code=ConnectorCode.NEGOTIATION_UNKNOWN_OFFER)

    # --- receiving ---------------------------------------------------------------------------

    async def _on_message(self, env: Envelope, credential: VerifiedCredential) -> Reply:
        message = env.payload
        try:
            validate_message(message)
            if message.get("@type") != env.message_type:
                raise ProtocolError("envelope and message disagree on the type",
                                    code=ConnectorCode.DSP_INVALID_MESSAGE)
            return self._receive(message, credential, env.credential)
        except TsunaguError as exc:
            self.connector.metrics.inc("tsunagu_messages_rejected_total", reason=exc.code)
            return error_reply(message, exc, NEGOTIATION_ERROR)

    def _receive(self, message: dict[str, Any], credential: VerifiedCredential,
                 token: str | None) -> Reply:
        kind = dn.message_kind(message["@type"], message.get("eventType"))
        sender = credential.did
        # Whose message is it? Consumers send requests and verifications, providers the rest.
        sent_by = Role.CONSUMER if kind in (dn.CONTRACT_REQUEST, dn.AGREEMENT_VERIFICATION,
                                            dn.EVENT_ACCEPTED) else Role.PROVIDER
        if kind == dn.TERMINATION:
            sent_by = Role.CONSUMER if self._own_role(message, sender) == Role.PROVIDER \
                else Role.PROVIDER
        own_role = Role.PROVIDER if sent_by == Role.CONSUMER else Role.CONSUMER
        row = self._row_for(message, own_role, sender)
        if row is None and kind != dn.CONTRACT_REQUEST:
            raise ProtocolError("no such contract negotiation with this participant",
                                code=ConnectorCode.DSP_UNKNOWN_PROCESS)
        if row is not None and row.last_in == kind:
            return ACK, dn.ack_message(row.record)  # a resend of what we accepted
        now = datetime.now(UTC)
        if row is None:
            return self._new_request(message, credential, token, now)
        record = dn.apply_message(row.record, message, sent_by, counterparty=sender, at=now)
        row.record, row.last_in = record, kind
        if sent_by == Role.PROVIDER:
            row.extra["providerCredential"] = token  # the pull loop re-checks it later
        else:
            row.extra["consumerCredential"] = token  # re-checked when status lists change
        handler = {dn.CONTRACT_AGREEMENT: self._on_agreement,
                   dn.AGREEMENT_VERIFICATION: self._on_verification}.get(kind)
        with self.connector.store.transaction() as db:
            if handler is not None:
                handler(db, row, message, now)
            if record.state == dn.TERMINATED:
                row.pending = None
                row.extra.update(code=message.get("code"), reason=message.get("reason"))
                self._end_agreement(db, row)
            if kind == dn.EVENT_FINALIZED:
                self._activate(db, row)
            self.table.save(db, row, "negotiation")
        self._changed()
        if row.pending is not None:
            self.outbox.kick(row.pid)
        return ACK, dn.ack_message(row.record)

    def _own_role(self, message: Mapping[str, Any], sender: str) -> Role | None:
        for role, key in ((Role.PROVIDER, "providerPid"), (Role.CONSUMER, "consumerPid")):
            row = self.table.get(str(message.get(key)))
            if row is not None and row.record.role == role and row.record.counterparty == sender:
                return role
        return None

    def _row_for(self, message: Mapping[str, Any], own_role: Role, sender: str
                 ) -> Row[Negotiation] | None:
        key = "providerPid" if own_role == Role.PROVIDER else "consumerPid"
        row = self.table.get(str(message.get(key))) if message.get(key) else None
        if row is None and own_role == Role.PROVIDER and message.get("consumerPid"):
            row = self.table.find(sender, str(message["consumerPid"]))
        if row is not None and (row.record.counterparty != sender
                                or row.record.role != own_role):
            return None
        return row

    def _new_request(self, message: dict[str, Any], credential: VerifiedCredential,
                     token: str | None, now: datetime) -> Reply:
        record = dn.apply_message(None, message, Role.CONSUMER, role=Role.PROVIDER,
                                  counterparty=credential.did, at=now)
        record = replace(record, provider_pid=f"urn:uuid:{uuid.uuid4()}")
        purpose = message.get(agreements.PURPOSE_KEY)
        row = Row(record, last_in=dn.CONTRACT_REQUEST,
                  extra={"offer": message["offer"], "claims": agreements.Claims.of(
                      credential).to_json(),
                      "purpose": purpose if isinstance(purpose, str) else None,
                      "consumerCredential": token})
        with self.connector.store.transaction() as db:
            self.table.save(db, row, "negotiation")
        self._changed()
        self.outbox.spawn(self._decide(row.pid))
        return ACK, dn.ack_message(record)

    # --- provider: decide, then agree or terminate --------------------------------------------

    async def _decide(self, pid: str) -> None:
        row = self.table.get(pid)
        if row is None or row.record.state != dn.REQUESTED or row.pending is not None:
            return
        offer = row.extra["offer"]
        now = datetime.now(UTC)
        try:
            self._check_offer(offer)
            claims = agreements.Claims.from_json(row.extra["claims"])
            purpose = row.extra.get("purpose")
            policy = agreements.parse(offer, ignore_purpose=purpose is None,
                                      ignore_fields=True)
            # A write-only offer (contributions, no reading) is agreed on what it grants.
            action = "modify" if agreements.write_only(policy) else "use"
            decision = agreements.decide(policy, claims, action=action, target=offer["target"],
                                         now=now, purpose=purpose, agreed_at=now,
                                         performed=agreements.CONNECTOR_DUTIES,
                                         facts=self.connector.facts.operands())
            if not decision.permitted:
                where, why = agreements.explain_denial(decision)
                raise TsunaguError(f"{where}: {why}", code=ConnectorCode.NEGOTIATION_POLICY_DENIED)
        except TsunaguError as exc:
            self._send_termination(row, exc.code, exc.message, now)
            return
        agreement = agreements.sign(agreements.build(
            offer, agreement_id=f"urn:uuid:{uuid.uuid4()}", dataset_id=offer["target"],
            provider=self.connector.did, consumer=claims.did, at=now),
            self.connector.identity.key)
        assert row.record.provider_pid is not None
        message = messages.contract_agreement(row.record.consumer_pid, row.record.provider_pid,
                                              agreement)
        row.record = dn.apply_message(row.record, message, Role.PROVIDER, at=now)
        row.pending = message
        with self.connector.store.transaction() as db:
            agreements.insert(db, agreement=agreement, role="provider", status="agreed",
                              extra=_provider_extra(row.extra), now=now)
            self.table.save(db, row, "negotiation")
        self._changed()
        self.outbox.kick(pid)

    def _check_offer(self, offer: dict[str, Any]) -> None:
        dataset = load_dataset(self.connector.store, str(offer.get("target")))
        if dataset is None or WITHDRAWN in dataset.body:
            raise TsunaguError(f"no dataset {offer.get('target')}",
                               code=ConnectorCode.NEGOTIATION_UNKNOWN_DATASET)
        policies = dataset.body.get("hasPolicy", [])
        offers = [policies] if isinstance(policies, dict) else policies
        current = next((o for o in offers if o.get("@id") == offer.get("@id")), None)
        if current is None:
            raise TsunaguError(f"the dataset has no offer {offer.get('@id')}",
                               code=ConnectorCode.NEGOTIATION_UNKNOWN_OFFER)
        if agreements.rules_of(current) != agreements.rules_of(offer):
            raise TsunaguError(f"offer {offer.get('@id')} differs from the one in the catalog",
                               code=ConnectorCode.NEGOTIATION_OFFER_CHANGED)

    def _send_termination(self, row: Row[Negotiation], code: ErrorCode, reason: str,
                          now: datetime) -> None:
        assert row.record.provider_pid is not None
        message = messages.negotiation_termination(row.record.consumer_pid,
                                                   row.record.provider_pid, code=code,
                                                   reason=[reason[:1000]])
        own = row.record.role
        row.record = dn.apply_message(row.record, message, own, at=now)
        row.pending = message
        row.extra.update(code=code, reason=[reason])
        with self.connector.store.transaction() as db:
            self._end_agreement(db, row)
            self.table.save(db, row, "negotiation")
        self._changed()
        self.outbox.kick(row.pid)

    async def terminate(self, pid: str, reason: str,
                        code: ErrorCode = ConnectorCode.NEGOTIATION_TERMINATED
                        ) -> dict[str, Any]:
        """Either side gives up a negotiation that is not finished."""
        row = self.table.get(pid)
        if row is None:
            raise ProtocolError(f"no negotiation {pid}", code=ConnectorCode.DSP_UNKNOWN_PROCESS)
        if row.record.provider_pid is None:
            raise ProtocolError("the provider has not answered yet; try again",
                                code=ConnectorCode.DSP_NOT_READY)
        self._send_termination(row, code, reason, datetime.now(UTC))
        return self.get(pid) or {}

    def _on_verification(self, db: Any, row: Row[Negotiation], message: dict[str, Any],
                         now: datetime) -> None:
        """Provider: check the consumer's counter-signature, store it, finalize."""
        stored = agreements.load(self.connector.store, str(row.record.agreement_id))
        proof = message.get(agreements.COUNTERSIGNATURE_KEY)
        if stored is None:
            raise ProtocolError("no agreement for this negotiation",
                                code=ConnectorCode.DSP_UNKNOWN_PROCESS)
        if isinstance(proof, dict) and proof.get("@type") == "@json":
            proof = proof.get("@value")
        document = {"signedAgreement": stored["document"]["signedAgreement"], "proof": proof}
        agreements.verify_countersigned(document, provider=self.connector.did,
                                        consumer=str(row.record.counterparty),
                                        key_check=self.connector.checker.keys.check_proof)
        agreements.insert(db, agreement=document, role="provider", status="active",
                          extra=_provider_extra(stored), now=now)
        assert row.record.provider_pid is not None
        event = messages.negotiation_event(row.record.consumer_pid, row.record.provider_pid,
                                           "FINALIZED")
        self.table.save(db, row, "negotiation")  # VERIFIED, then FINALIZED in the same step
        row.record = dn.apply_message(row.record, event, Role.PROVIDER, at=now)
        row.pending = event

    # --- consumer: verify the agreement, counter-sign -----------------------------------------

    def _on_agreement(self, db: Any, row: Row[Negotiation], message: dict[str, Any],
                      now: datetime) -> None:
        agreement = message["agreement"]
        provider = str(row.record.counterparty)
        agreements.verify_document(agreement, expected_controller=provider,
                                   key_check=self.connector.checker.keys.check_proof)
        expected = {"assigner": provider, "assignee": self.connector.did,
                    "target": row.extra["datasetId"]}
        wrong = [k for k, v in expected.items() if agreement.get(k) != v]
        if agreements.rules_of(agreement) != agreements.rules_of(row.extra["offer"]):
            wrong.append("rules")
        if wrong:
            raise agreements.AgreementError(
                f"the agreement does not match the request ({', '.join(wrong)})",
                code=ConnectorCode.AGREEMENT_MISMATCH)
        proof = agreements.countersign(agreement, self.connector.identity.key)
        agreements.insert(db, agreement={"signedAgreement": agreement, "proof": proof},
                          role="consumer", status="agreed",
                          extra={"purpose": row.extra.get("purpose"),
                                 "providerCredential": row.extra.get("providerCredential")},
                          now=now)
        assert row.record.provider_pid is not None
        verification = messages.agreement_verification(row.record.consumer_pid,
                                                       row.record.provider_pid)
        verification[agreements.COUNTERSIGNATURE_KEY] = {"@type": "@json",
                                                                 "@value": proof}
        self.table.save(db, row, "negotiation")  # AGREED, then VERIFIED in the same step
        row.record = dn.apply_message(row.record, verification, Role.CONSUMER, at=now)
        row.pending = verification

    def _activate(self, db: Any, row: Row[Negotiation]) -> None:
        if row.record.agreement_id:
            agreements.set_status(db, row.record.agreement_id, "active")
            self.connector.gate.changed()

    def _end_agreement(self, db: Any, row: Row[Negotiation]) -> None:
        if row.record.agreement_id:
            agreements.set_status(db, row.record.agreement_id, "terminated",
                                  row.record.updated_at)
            self.connector.gate.changed()

    # --- replies to what we sent ----------------------------------------------------------------

    async def _on_reply(self, pid: str, sent: dict[str, Any], reply_type: str,
                        payload: dict[str, Any]) -> None:
        if is_error(reply_type):
            mark_refused(self.table, pid, sent, payload, "negotiation_refused")
            return
        clear_pending(self.table, pid, sent, {"provider_pid": payload.get("providerPid")})
        self._changed()

    def _changed(self) -> None:
        self.table.count_states("tsunagu_negotiations")


def _provider_extra(facts: Mapping[str, Any]) -> dict[str, Any]:
    """What a provider keeps with an agreement: the purpose, and the consumer's credential
    (``agreements.end_with_revoked`` re-checks it)."""
    return {"purpose": facts.get("purpose"), "consumerCredential": facts.get("consumerCredential")}


def _view(row: Row[Negotiation]) -> dict[str, Any]:
    r, refused = row.record, row.extra.get("refused") or {}
    return {"pid": row.pid, "role": str(r.role), "state": str(r.state),
            "consumerPid": r.consumer_pid, "providerPid": r.provider_pid,
            "counterparty": r.counterparty, "offerId": r.offer_id,
            "datasetId": row.extra.get("datasetId") or (row.extra.get("offer") or {}).get(
                "target"),
            "agreementId": r.agreement_id,
            # A refused message leaves the state as it was: its code is the reason shown.
            "code": row.extra.get("code") or refused.get("code"),
            "reason": row.extra.get("reason") or refused.get("reason"),
            "pending": row.pending is not None,
            "updated": r.updated_at.isoformat()}
