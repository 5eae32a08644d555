"""Usage control at the receiving connector: every use decided and audited, duties run.

``connector.usage.use(record_id, purpose)`` returns a held record only if its agreement, in
force, permits the use for that purpose now; a refusal raises ``UsageDenied`` (code
``usage.denied``, naming the rule or constraint that failed). Both outcomes are audited.
Duties the connector performs itself: ``inform`` (a signed notice to the provider's control
subject, with each permitted use) and ``delete``, by a deadline or on a condition of the
world: a periodic task DELETEs the held rows once the deadline has passed, or once the
duty's constraint holds against this connector's own world facts (connector.facts, e.g. the
disaster phase is past recovery; connector.delete_duties), audits 'deletion' and ends the
agreement.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import orjson

from connector import agreements, subjects
from connector.delete_duties import due_condition
from connector.store import dumps, loads
from trust.errors import TsunaguError
from trust.proofs import sign_document
from usage_policies import datatypes
from usage_policies.model import Policy
from usage_policies.request import EvaluationRequest
from usage_policies.vocab import ODRL, XSD

if TYPE_CHECKING:
    from connector.runtime import Connector

log = logging.getLogger(__name__)

USES = "tsunagu_uses_total"
_DEADLINE_OPERANDS = (ODRL + "dateTime", ODRL + "elapsedTime")


class UsageDenied(TsunaguError):
    code = "usage.denied"
    http_status = 403


def delete_deadline(policy: Policy, agreed_at: datetime) -> datetime | None:
    """The earliest deadline of a ``delete`` duty (dateTime / elapsedTime lt|lteq)."""
    duties = [*policy.obligation, *(d for p in policy.permission for d in p.duty)]
    found: list[datetime] = []
    for duty in duties:
        if duty.action.id != ODRL + "delete":
            continue
        for c in duty.constraint:
            if getattr(c, "left_operand", None) not in _DEADLINE_OPERANDS \
                    or c.operator not in (ODRL + "lt", ODRL + "lteq") or not c.right_operand:
                continue
            term = c.right_operand[0]
            value = getattr(term, "value", None)
            if c.left_operand == ODRL + "dateTime":
                found.append(datatypes.parse_datetime(str(value)))
            else:
                duration = datatypes.convert(str(value), XSD + "duration")
                found.append(duration.add_to(agreed_at))
    return min(found) if found else None


def has_inform_duty(policy: Policy) -> bool:
    duties = [*policy.obligation, *(d for p in policy.permission for d in p.duty)]
    return any(d.action.id == ODRL + "inform" for d in duties)


class UsageService:
    """``connector.usage``; runs the duty task every ``duty_interval`` seconds."""

    def __init__(self, *, duty_interval: float = 30.0) -> None:
        self.duty_interval = duty_interval
        self.connector: Connector
        self._task: asyncio.Task[None] | None = None
        self._policies: dict[str, tuple[Policy, Policy, datetime]] = {}
        self._notices: set[asyncio.Task[None]] = set()

    async def start(self, connector: Connector) -> None:
        self.connector = connector
        connector.usage = self  # type: ignore[attr-defined]
        self.run_duties()  # deadlines that passed while we were down
        self._task = asyncio.get_running_loop().create_task(self._duty_loop(), name="duties")

    async def stop(self) -> None:
        for task in [self._task, *self._notices]:
            if task is not None:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task
        self._task = None

    def _policy(self, agreement: dict[str, Any]) -> tuple[Policy, Policy, datetime]:
        """(full policy, policy without purpose constraints, agreement time), cached."""
        hit = self._policies.get(agreement["id"])
        if hit is None:
            doc = agreement["document"]["signedAgreement"]
            hit = (agreements.parse(doc), agreements.parse(doc, ignore_purpose=True),
                   agreements.agreement_time(doc))
            self._policies[agreement["id"]] = hit
        return hit

    # --- use -------------------------------------------------------------------------------

    def use(self, record_id: str, purpose: str, action: str = "use") -> dict[str, Any]:
        """The latest held version of ``record_id`` if this use is permitted; else UsageDenied."""
        c = self.connector
        now = datetime.now(UTC)
        rows = c.store.query("SELECT version, agreement_id, body FROM held_records WHERE id = ? "
                             "ORDER BY version DESC LIMIT 1", (record_id,))
        if not rows:
            self._refuse(record_id, None, purpose, action, now, "usage.not_held",
                         "record", "this connector holds no such record")
        version, agreement_id, body = rows[0]
        agreement = agreements.load(c.store, agreement_id)
        if agreement is None or agreement["status"] != "active":
            status = agreement["status"] if agreement else "unknown"
            self._refuse(record_id, agreement_id, purpose, action, now, "usage.denied",
                         "agreement", f"the agreement is {status}")
        policy, _, agreed_at = self._policy(agreement)
        own = agreements.Claims.of(c.checker.check(c.identity.credential, c.did))
        decision = agreements.decide(policy, own, action=action, target=agreement["datasetId"],
                                     now=now, purpose=purpose, agreed_at=agreed_at,
                                     performed=agreements.CONNECTOR_DUTIES,
                                     facts=c.facts.operands())
        if not decision.permitted:
            where, why = agreements.explain_denial(decision)
            self._refuse(record_id, agreement_id, purpose, action, now, "usage.denied",
                         where, why)
        with c.store.transaction():
            c.audit.append("use", now, record=record_id, version=version,
                           agreement=agreement_id, purpose=purpose, action=action,
                           decision="permit")
        c.metrics.inc(USES, decision="permit")
        if has_inform_duty(policy):
            self._inform(agreement, record_id, version, purpose, action, now)
        return loads(body)

    def _refuse(self, record_id: str, agreement_id: str | None, purpose: str, action: str,
                now: datetime, code: str, where: str, why: str) -> None:
        c = self.connector
        with c.store.transaction():
            c.audit.append("use", now, record=record_id, agreement=agreement_id,
                           purpose=purpose, action=action, decision="deny", code=code,
                           rule=where)
        c.metrics.inc(USES, decision="deny")
        raise UsageDenied(f"use of {record_id} refused: {where}: {why}", code=code,
                          rule=where)

    def _inform(self, agreement: dict[str, Any], record_id: str, version: int, purpose: str,
                action: str, now: datetime) -> None:
        """The inform duty: a signed notice of this use to the provider's control subject."""
        c = self.connector
        notice = sign_document({"type": "tsunagu:UsageNotice", "agreement": agreement["id"],
                                "record": record_id, "version": version, "purpose": purpose,
                                "action": action, "by": c.did,
                                "at": now.isoformat()}, c.identity.key)
        subject = subjects.control_subject(agreement["provider"], "usage")
        task = asyncio.get_running_loop().create_task(c.nc.publish(subject, dumps(notice)))
        self._notices.add(task)
        task.add_done_callback(self._notices.discard)

    # --- duties ----------------------------------------------------------------------------

    async def _duty_loop(self) -> None:
        while True:
            await asyncio.sleep(self.duty_interval)
            try:
                await self.run_duties_async()
            except Exception:  # the loop must outlive one bad agreement
                log.exception("duty run failed")

    async def run_duties_async(self) -> list[str]:
        ended = self.run_duties()
        transfers = getattr(self.connector, "transfers", None)
        for agreement_id in ended:
            if transfers is not None:
                await transfers.end_for_agreement(agreement_id, "delete duty due")
        return ended

    def run_duties(self, now: datetime | None = None) -> list[str]:
        """Delete what is held under agreements whose delete duty is due: its deadline has
        passed, or its conditions hold against this connector's world facts now."""
        c, now = self.connector, now or datetime.now(UTC)
        ended: list[str] = []
        claims = self._own_claims()
        for (agreement_id,) in c.store.query("SELECT id FROM agreements WHERE role = "
                                             "'consumer' AND status = 'active'"):
            agreement = agreements.load(c.store, agreement_id)
            if agreement is None:
                continue
            why = self._delete_due(agreement, now, claims)
            if why is None:
                continue
            with c.store.transaction() as db:
                # Rows deleted, not flagged: nothing held under the agreement stays readable.
                count = db.execute("DELETE FROM held_records WHERE agreement_id = ?",
                                   (agreement_id,)).rowcount
                if count:
                    c.store.erased()
                # Ended too: a transfer still running would otherwise fill the rows again,
                # and no use is permitted once a delete duty is due and unfulfilled.
                agreements.set_status(db, agreement_id, "expired", now)
                c.audit.append("deletion", now, agreement=agreement_id, records=count,
                               duty="delete", **why)
            ended.append(agreement_id)
        return ended

    def _own_claims(self) -> dict[str, Any]:
        """This connector's role and legal id as request attributes, for duty conditions
        that name them. Without a checkable credential (status list stale) there are none:
        such a condition is then undecided and deletes nothing, the other duties still run."""
        c = self.connector
        try:
            own = agreements.Claims.of(c.checker.check(c.identity.credential, c.did))
        except TsunaguError:
            return {}
        return {"tsunagu:role": list(own.roles), "tsunagu:legalId": own.legal_id}

    def _delete_due(self, agreement: dict[str, Any], now: datetime,
                    claims: dict[str, Any]) -> dict[str, str] | None:
        """Why a delete duty of ``agreement`` is due now (for the audit line), or None."""
        c = self.connector
        policy, _, agreed_at = self._policy(agreement)
        deadline = delete_deadline(policy, agreed_at)
        if deadline is not None and now > deadline:
            return {"deadline": deadline.isoformat()}
        # The consumer's own facts: it is the party that must delete, and it acts on what
        # it knows of the world (the provider's facts may differ, and are not asked).
        request = EvaluationRequest.of(action=ODRL + "delete", target=agreement["datasetId"],
                                       assignee=c.did, **claims)
        due = due_condition(policy, request, now=now, agreed_at=agreed_at,
                            facts=c.facts.operands())
        if due is None:
            return None
        return {"condition": due.uid or due.path}

def notice_of(data: bytes) -> dict[str, Any]:
    """Read a usage notice (the provider side verifies its proof with trust.proofs)."""
    return orjson.loads(data)
