"""Contract agreements: building, signing, evaluating, and ending them.

An agreement is the offer's rules plus assigner (provider), assignee (consumer), target
(dataset) and timestamp, signed by the provider (``proof``) and counter-signed by the consumer:
the stored document is ``{"signedAgreement": <provider-signed>, "proof": <consumer proof>}``,
so both signatures verify on their own. Both sides keep a row in ``agreements``.

``AgreementService`` (``connector.agreements``) lets a provider terminate an agreement: the
consumer is told over the binding that reaches it, NATS or HTTPS (a tsunagu message: DSP has
no message for ending a FINALIZED negotiation; connector.dsp_http.notices), stops its
transfers and purges what it holds under the agreement.
In operator mode the provider also tells the authority, which closes the consumer's stream
imports and grants none under the agreement again (``connector.protocol.grants``).

Revocation: each side keeps the other's credential with the agreement. When a newer status
list revokes it (``end_with_revoked``, run after every status list refresh), the agreement
ends at once without a notice (the authority has disconnected the revoked participant) and a
consumer purges what it holds under it.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from connector.bus.messaging import RemoteError, RemoteUnreachable
from connector.errors import ConnectorCode
from connector.protocol.dsp import messages
from connector.store.database import dumps, loads
from trust.credentials import VerifiedCredential
from trust.envelope import Envelope
from trust.errors import CredentialRevoked, TsunaguError
from trust.keys import KeyPair
from trust.proofs import KeyCheck, sign_document, verify_document
from usage_policies.api import evaluate
from usage_policies.datatypes import Iri
from usage_policies.decision import Decision
from usage_policies.model import Policy
from usage_policies.operands import attribute_resolver, find_left_operand, register_left_operand
from usage_policies.parse import parse_policy
from usage_policies.request import EvaluationRequest
from usage_policies.serialize import STANDALONE_CONTEXT
from usage_policies.state import DutyStatus, State
from usage_policies.vocab import ODRL, TSUNAGU, short_name

if TYPE_CHECKING:
    from connector.runtime.connector import Connector

log = logging.getLogger(__name__)

# Credential claims a policy can constrain. Roles are a set: "role eq municipality" is
# membership (multi), "role isAnyOf [...]" works too.
ROLE = TSUNAGU + "role"
LEGAL_ID = TSUNAGU + "legalId"
if find_left_operand(ROLE) is None:
    register_left_operand(ROLE, attribute_resolver(ROLE), None, multi=True,
                          label_en="the participant's role", label_ja="参加者の役割")
if find_left_operand(LEGAL_ID) is None:
    register_left_operand(LEGAL_ID, attribute_resolver(LEGAL_ID), None,
                          label_en="the participant's legal identifier", label_ja="法人番号等")

# Duties the receiving connector performs itself with every use (connector.usage), so the
# evaluator may count them as fulfilled.
CONNECTOR_DUTIES = ("inform",)
PURPOSE_KEY = TSUNAGU + "purpose"  # extension field of a ContractRequestMessage
COUNTERSIGNATURE_KEY = TSUNAGU + "countersignature"  # of AgreementVerification
TERMINATION_TYPE = "tsunagu:AgreementTermination"
TERMINATED_ACK = "tsunagu:AgreementTerminated"
RULE_KEYS = ("permission", "prohibition", "obligation", "profile", "odrl:conflict", "conflict")
# Keys of a stored agreement that are not ODRL for the evaluator: the proof, and the DSP
# message's scoped ``timestamp`` (the agreement time goes into the State instead).
_NOT_POLICY = ("proof", "timestamp")


class AgreementError(TsunaguError):
    code = ConnectorCode.AGREEMENT_INVALID


@dataclass(frozen=True)
class Claims:
    """What a participant's verified credential says, as policy request attributes."""

    did: str
    roles: tuple[str, ...]
    legal_id: str

    @classmethod
    def of(cls, credential: VerifiedCredential) -> Claims:
        return cls(credential.did, tuple(str(r) for r in credential.roles),
                   credential.legal_id.value)

    def to_json(self) -> dict[str, Any]:
        return {"did": self.did, "roles": list(self.roles), "legalId": self.legal_id}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Claims:
        return cls(data["did"], tuple(data["roles"]), data["legalId"])


def rules_of(policy: dict[str, Any]) -> dict[str, Any]:
    """The part of an offer that must not change between catalog, request and agreement."""
    return {k: policy[k] for k in RULE_KEYS if k in policy}


# Policy-level terms that change what the rules mean: an agreement must carry them as offered.
POLICY_TERMS = ("profile", "odrl:conflict", "conflict")


def build(offer: dict[str, Any], *, agreement_id: str, dataset_id: str, provider: str,
          consumer: str, at: datetime) -> dict[str, Any]:
    agreement = messages.agreement(agreement_id, target=dataset_id, assigner=provider,
                                   assignee=consumer, timestamp=at,
                                   permission=offer.get("permission", ()),
                                   prohibition=offer.get("prohibition", ()),
                                   obligation=offer.get("obligation", ()))
    agreement.update({k: offer[k] for k in POLICY_TERMS if k in offer})
    return agreement


def sign(agreement: dict[str, Any], key: KeyPair) -> dict[str, Any]:
    return sign_document(agreement, key)


def countersign(signed: dict[str, Any], key: KeyPair) -> dict[str, Any]:
    """The consumer's proof over the provider-signed agreement (provider proof included)."""
    return sign_document({"signedAgreement": signed}, key)["proof"]


def verify_countersigned(document: dict[str, Any], *, provider: str, consumer: str,
                         key_check: KeyCheck | None = None) -> None:
    """Both proofs, each by its party; ``key_check`` accepts a party's later keys
    (``trust.key_history``) at the time of each proof."""
    verify_document(document["signedAgreement"], expected_controller=provider,
                    key_check=key_check)
    verify_document(document, expected_controller=consumer, key_check=key_check)


def agreement_time(agreement: dict[str, Any]) -> datetime:
    return datetime.fromisoformat(agreement["timestamp"].replace("Z", "+00:00"))


PURPOSE_OPERANDS = ("purpose", "odrl:purpose", ODRL + "purpose")
# Which fields a reader sees is decided per use by the usage gate, field by field.
FIELD_OPERANDS = ("tsunagu:field", TSUNAGU + "field")


def without(node: Any, operands: tuple[str, ...]) -> Any:
    """The policy with constraints on ``operands`` left out: terms decided per use (the
    purpose a reader declares, the fields it reads), not when there is no use yet
    (negotiation, receipt)."""
    if isinstance(node, list):
        return [without(n, operands) for n in node
                if not (isinstance(n, dict) and n.get("leftOperand") in operands)]
    if isinstance(node, dict):
        return {k: without(v, operands) for k, v in node.items()}
    return node


def parse(policy: dict[str, Any], *, ignore_purpose: bool = False,
          ignore_fields: bool = False) -> Policy:
    doc: Any = {k: v for k, v in policy.items() if k not in _NOT_POLICY}
    ignored = (PURPOSE_OPERANDS if ignore_purpose else ()) + \
        (FIELD_OPERANDS if ignore_fields else ())
    return parse_policy(without(doc, ignored) if ignored else doc, context=STANDALONE_CONTEXT)


# What a write-only agreement permits: contributions (connector.data.contributions), no use.
WRITE_ACTIONS = frozenset({ODRL + "modify", TSUNAGU + "contribute"})


def write_only(policy: Policy) -> bool:
    """Whether every permission of ``policy`` only grants changes (a clinic adding records
    to a municipality's dataset): such an agreement is negotiated on ``modify`` and carries
    no transfer (``transfer.write_only``)."""
    return bool(policy.permission) and all(p.action.id in WRITE_ACTIONS
                                           for p in policy.permission)


def decide(policy: Policy, claims: Claims, *, action: str, target: str, now: datetime,
           purpose: str | None = None, agreed_at: datetime | None = None,
           performed: tuple[str, ...] = (), facts: Mapping[str, Any] | None = None,
           extra: Mapping[str, Any] | None = None) -> Decision:
    """Evaluate ``policy`` for ``claims`` doing ``action``; ``performed`` duties (actions the
    connector itself carries out with the use, e.g. inform) count as fulfilled; ``extra``:
    more request attributes (the reader's role, the field read)."""
    attributes: dict[str, Any] = {"tsunagu:role": list(claims.roles),
                                  "tsunagu:legalId": claims.legal_id, **(extra or {})}
    if purpose is not None:
        attributes["purpose"] = purpose
    request = EvaluationRequest.of(action=action, target=target, assignee=claims.did,
                                   **attributes)
    duties = {ODRL + a: DutyStatus(True, now) for a in performed}
    return evaluate(policy, request, State(current_time=now, agreement_time=agreed_at,
                                           duties=duties, operands=facts or {}))


def explain_denial(decision: Decision) -> tuple[str, str]:
    """(rule or constraint that failed, a sentence) from a deny, for error codes and audit."""
    for rule in decision.rules:
        for c in rule.constraints:
            if c.satisfied is not True:
                where = c.path
                what = (f"{short_name(c.left_operand)} {c.operator} "
                        f"{_show(c.right_operand)}" if c.left_operand else c.operator)
                got = "" if c.value is None else f" (was {_show(c.value)})"
                return where, f"constraint {what} not satisfied{got}: {c.reason or 'denied'}"
        for d in rule.duties:
            if d.status in ("violated", "unfulfilled"):
                return d.path, f"duty {short_name(d.action)} {d.status}: {d.reason}"
    return decision.policy or "policy", decision.reason


def _show(value: Any) -> str:
    if isinstance(value, tuple | list):
        return "[" + ", ".join(_show(v) for v in value) + "]"
    return short_name(value) if isinstance(value, Iri) else str(value)


# --- rows ---------------------------------------------------------------------------------

def insert(db: Any, *, agreement: dict[str, Any], role: str, status: str, extra: dict[str, Any],
           now: datetime) -> None:
    """Store (or replace) an agreement; ``extra`` holds side facts (credentials, purpose)."""
    document = agreement if "signedAgreement" in agreement else {"signedAgreement": agreement}
    inner = document["signedAgreement"]
    db.execute("INSERT OR REPLACE INTO agreements (id, role, provider, consumer, dataset_id, "
               "body, status, created) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
               (inner["@id"], role, inner["assigner"], inner["assignee"], inner["target"],
                dumps({"document": document, **extra}), status, now.isoformat()))


def load(store: Any, agreement_id: str) -> dict[str, Any] | None:
    rows = store.query("SELECT id, role, provider, consumer, dataset_id, body, status, created, "
                       "ended FROM agreements WHERE id = ?", (agreement_id,))
    if not rows:
        return None
    r = rows[0]
    return {"id": r[0], "role": r[1], "provider": r[2], "consumer": r[3], "datasetId": r[4],
            **loads(r[5]), "status": r[6], "created": r[7], "ended": r[8]}


def set_status(db: Any, agreement_id: str, status: str, now: datetime | None = None) -> None:
    ended = now.isoformat() if now else None
    db.execute("UPDATE agreements SET status = ?, ended = COALESCE(?, ended) WHERE id = ?",
               (status, ended, agreement_id))


class AgreementService:
    """``connector.agreements``: list, look up and (provider) terminate agreements."""

    def __init__(self, connector: Connector) -> None:
        self.connector = connector
        self._tasks: set[asyncio.Task[None]] = set()
        self._revocations = asyncio.Lock()  # one end_with_revoked pass at a time

    async def startup(self) -> None:
        connector = self.connector
        connector.route(TERMINATION_TYPE, self._on_termination)
        for (agreement_id,) in connector.store.query(
                "SELECT id FROM agreements WHERE role = 'provider' AND status = 'terminating'"):
            self._spawn(self._notify(agreement_id))  # the consumer was not told yet

    async def shutdown(self) -> None:
        for task in list(self._tasks):
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

    def _spawn(self, coro: Any) -> None:
        task = asyncio.get_running_loop().create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    def get(self, agreement_id: str) -> dict[str, Any] | None:
        return load(self.connector.store, agreement_id)

    def list(self) -> list[dict[str, Any]]:
        ids = self.connector.store.query("SELECT id FROM agreements ORDER BY created")
        return [a for (i,) in ids if (a := self.get(i)) is not None]

    def summaries(self) -> list[dict[str, Any]]:
        """Every agreement's id, parties, dataset, status and times (no document)."""
        rows = self.connector.store.query(
            "SELECT id, role, provider, consumer, dataset_id, status, created, ended "
            "FROM agreements ORDER BY created, id")
        keys = ("id", "role", "provider", "consumer", "dataset", "status", "created", "ended")
        return [dict(zip(keys, row, strict=True)) for row in rows]

    def active_as_consumer(self, dataset_id: str | None = None) -> list[str]:
        """Ids of the agreements this connector holds data under (optionally for one
        dataset), oldest first."""
        rows = self.connector.store.query(
            "SELECT id FROM agreements WHERE role = 'consumer' AND status = 'active'"
            + (" AND dataset_id = ?" if dataset_id else "") + " ORDER BY created",
            (dataset_id,) if dataset_id else ())
        return [r[0] for r in rows]

    async def terminate(self, agreement_id: str, reason: str) -> dict[str, Any]:
        """Provider: end the agreement now, stop its transfers, tell the consumer."""
        row = self.get(agreement_id)
        if row is None or row["role"] != "provider":
            raise AgreementError(f"no agreement {agreement_id} given by this connector",
                                 code=ConnectorCode.AGREEMENT_UNKNOWN)
        if row["status"] in ("terminated", "terminating"):
            return row
        now = datetime.now(UTC)
        with self.connector.store.transaction() as db:
            set_status(db, agreement_id, "terminating", now)
            db.execute("UPDATE agreements SET body = ? WHERE id = ?",
                       (dumps({"document": row["document"], **_extra(row),
                               "endReason": reason}), agreement_id))
            self.connector.audit.append("agreement_terminated", now, agreement=agreement_id,
                                        reason=reason)
        self.connector.gate.changed()
        # What is published from now on is sealed with a key this consumer can never get.
        self.connector.content_keys.rotate(row["datasetId"], "agreement_ended")
        await self.connector.transfers.end_for_agreement(agreement_id, reason)
        await self._close_streams(row)
        await self._notify(agreement_id)
        return self.get(agreement_id) or row

    async def end_with_revoked(self) -> list[str]:
        """End every live agreement whose counterparty's credential is now revoked; returns
        their ids. Other credential failures (a stale list, expiry) end nothing."""
        async with self._revocations:
            return [row["id"] for row in self.list() if await self._end_if_revoked(row)]

    async def _end_if_revoked(self, row: dict[str, Any]) -> bool:
        if row["status"] not in ("agreed", "active"):
            return False
        provider_side = row["role"] == "provider"
        other = row["consumer"] if provider_side else row["provider"]
        token = row.get("consumerCredential" if provider_side else "providerCredential")
        try:
            self.connector.checker.check(token, other)
            return False
        except CredentialRevoked:
            pass
        except TsunaguError:
            return False
        await self._end_locally(row, "the counterparty's credential was revoked", by=other)
        await self._close_streams(row)
        return True

    async def _end_locally(self, row: dict[str, Any], reason: str, *, by: str) -> None:
        """Mark the agreement terminated, purge what a consumer holds under it, stop its
        transfers (without notices: the other side ended it or is gone)."""
        now = datetime.now(UTC)
        with self.connector.store.transaction() as db:
            set_status(db, row["id"], "terminated", now)
            self.connector.audit.append("agreement_terminated", now, agreement=row["id"],
                                        reason=reason, by=by)
            if row["role"] == "consumer":
                self.connector.gate.purge(db, row["id"], now, reason="agreement terminated")
                self.connector.content_keys.forget(db, row["id"])  # the keys go with the data
        if row["role"] == "provider":  # a revoked consumer gets no key for what follows
            self.connector.content_keys.rotate(row["datasetId"], "agreement_ended", now)
        self.connector.gate.changed()  # open event streams under it end now
        await self.connector.transfers.end_for_agreement(row["id"], reason, notify=False)

    async def _close_streams(self, row: dict[str, Any]) -> None:
        """Provider in operator mode: the authority closes the consumer's imports for good."""
        grants = self.connector.grants
        if grants is None or row["role"] != "provider":
            return
        try:
            await grants.revoke(row["document"], ended=True)
        except TsunaguError as exc:  # the durables are gone already; the imports lead nowhere
            log.warning("the authority did not close the agreement's streams",
                        extra={"agreement": row["id"], "code": exc.code})

    async def _notify(self, agreement_id: str) -> None:
        row = self.get(agreement_id)
        if row is None:
            return
        payload = {"agreementId": agreement_id, "code": ConnectorCode.AGREEMENT_TERMINATED,
                   "reason": row.get("endReason", "terminated by the provider")}
        for delay in (0.0, 0.5, 1, 2, 5, 10, 30):
            await asyncio.sleep(delay)
            try:
                await self.connector.dsp.request(row["consumer"], TERMINATION_TYPE, payload)
            except RemoteUnreachable:
                continue
            except RemoteError as exc:
                log.warning("consumer refused the termination notice", extra={"code": exc.code})
            with self.connector.store.transaction() as db:
                set_status(db, agreement_id, "terminated")
            self.connector.gate.changed()
            return
        log.warning("consumer not reachable; termination notice resent at next start")

    async def _on_termination(self, env: Envelope, credential: VerifiedCredential
                              ) -> tuple[str, dict[str, Any]]:
        agreement_id = str(env.payload.get("agreementId"))
        row = self.get(agreement_id)
        if row is None or row["role"] != "consumer" or row["provider"] != credential.did:
            raise AgreementError("no such agreement with this provider",
                                 code=ConnectorCode.AGREEMENT_UNKNOWN)
        if row["status"] != "terminated":
            await self._end_locally(row, str(env.payload.get("reason", ""))[:500],
                                    by=credential.did)
        return TERMINATED_ACK, {"agreementId": agreement_id, "status": "terminated"}


def _extra(row: dict[str, Any]) -> dict[str, Any]:
    skip = {"id", "role", "provider", "consumer", "datasetId", "document", "status", "created",
            "ended"}
    return {k: v for k, v in row.items() if k not in skip}
