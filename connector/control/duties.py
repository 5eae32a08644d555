"""Duties the receiving connector carries out on its own: deletion, by deadline or condition.

Every use of received data is decided by the usage gate (connector.control.gate), which also
sends the ``inform`` notices a policy asks for. This service runs the ``delete`` duties: a
periodic task deletes what is held under an agreement once its deadline has passed, or once
the duty's constraint holds against this connector's own world facts (connector.facts, e.g.
the disaster phase is past recovery; connector.delete_duties), audits 'deletion' and ends
the agreement.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from connector.control.delete_duties import due_condition
from connector.protocol import agreements
from trust.errors import TsunaguError
from usage_policies import datatypes
from usage_policies.model import Policy
from usage_policies.request import EvaluationRequest
from usage_policies.vocab import ODRL, XSD

if TYPE_CHECKING:
    from connector.runtime.connector import Connector

log = logging.getLogger(__name__)

USES = "tsunagu_uses_total"
_DEADLINE_OPERANDS = (ODRL + "dateTime", ODRL + "elapsedTime")


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


class DutyService:
    """``connector.duties``; runs the duty task every ``duty_interval`` seconds."""

    def __init__(self, connector: Connector, *, duty_interval: float = 30.0) -> None:
        self.duty_interval = duty_interval
        self.connector = connector
        self._task: asyncio.Task[None] | None = None
        self._policies: dict[str, tuple[Policy, Policy, datetime]] = {}

    async def startup(self) -> None:
        self.run_duties()  # deadlines that passed while we were down
        self._task = asyncio.get_running_loop().create_task(self._duty_loop(), name="duties")

    async def shutdown(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
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
        for agreement_id in ended:
            await self.connector.transfers.end_for_agreement(agreement_id, "delete duty due")
        return ended

    def run_duties(self, now: datetime | None = None) -> list[str]:
        """Delete what is held under agreements whose delete duty is due: its deadline has
        passed, or its conditions hold against this connector's world facts now."""
        c, now = self.connector, now or datetime.now(UTC)
        ended: list[str] = []
        claims = self._own_claims()
        for agreement_id in c.agreements.active_as_consumer():
            agreement = agreements.load(c.store, agreement_id)
            if agreement is None:
                continue
            why = self._delete_due(agreement, now, claims)
            if why is None:
                continue
            with c.store.transaction() as db:
                # Rows deleted, not flagged: nothing held under the agreement stays readable.
                c.gate.purge(db, agreement_id, now, event="deletion", duty="delete", **why)
                # Ended too: a transfer still running would otherwise fill the rows again,
                # and no use is permitted once a delete duty is due and unfulfilled.
                agreements.set_status(db, agreement_id, "expired", now)
            c.gate.changed()
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
