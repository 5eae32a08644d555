"""Delete duties that fall due on a condition of the world, not on a date.

An offer may oblige the consumer to delete what it received once something holds, e.g. "once
the disaster phase is past recovery" (a ``delete`` duty whose constraint is
``tsunagu:disasterPhase isAnyOf mitigation, preparedness``). The evaluator reports such a duty
as not applicable while its conditions do not hold and as unfulfilled (blocking every use)
once they do; nothing in an evaluation deletes anything. ``due_condition`` is what
connector.usage's duty task asks on every run: is a condition-triggered delete duty of this
agreement due now, judged against this connector's own world facts (connector.facts)?

It uses the evaluator's own split of a duty into deadline and conditions
(``CompiledDuty.conditions``), so what counts as "its conditions hold" here is exactly what
counts when a use is decided. Nothing here knows any domain: the operands are whatever the
policy names and the facts say.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from usage_policies.evaluate import CompiledDuty
from usage_policies.model import Constraint, Duty, IriValue, Policy
from usage_policies.operands import EvalContext
from usage_policies.request import EvaluationRequest
from usage_policies.state import State
from usage_policies.vocab import ODRL

DELETE = ODRL + "delete"


@dataclass(frozen=True)
class DueDuty:
    """A delete duty whose conditions hold: where it is in the policy, for the audit line."""

    path: str
    uid: str | None


def delete_duties(policy: Policy) -> list[tuple[str, Duty]]:
    """(path, duty) of every ``delete`` duty: obligations and duties of permissions."""
    found = [(f"$.obligation[{i}]", d) for i, d in enumerate(policy.obligation)]
    for i, permission in enumerate(policy.permission):
        found += [(f"$.permission[{i}].duty[{j}]", d) for j, d in enumerate(permission.duty)]
    return [(path, d) for path, d in found if d.action.id == DELETE]


def due_condition(policy: Policy, request: EvaluationRequest, *, now: datetime,
                  agreed_at: datetime | None, facts: Mapping[str, Any]) -> DueDuty | None:
    """The first delete duty that has conditions, no deadline, and whose conditions all hold.

    Three-valued like every constraint: only definitely satisfied counts. A fact nobody set
    leaves the condition undecided, and an undecided condition deletes nothing (deleting is
    not undoable; the use side already fails closed on the same duty). Deadline duties are
    left to connector.usage.delete_deadline."""
    state = State(current_time=now, agreement_time=agreed_at, operands=facts)
    ctx = EvalContext(request, state, agreed_at)
    for path, duty in delete_duties(policy):
        compiled = CompiledDuty(duty, path)
        if compiled.deadline_at is not None or compiled.deadline_after is not None:
            continue
        if not compiled.conditions:
            continue  # unconditional, undated: owed with the use, nothing to trigger on
        errors: list[dict[str, Any]] = []
        checks = [c.run(ctx, errors) for c in compiled.conditions]
        if not errors and all(c.satisfied is True for c in checks):
            return DueDuty(path, duty.uid)
    return None


# The event a provider's consent-withdrawal notice stands for (connector.data.consent).
CONSENT_WITHDRAWN = "https://w3id.org/tsunagu/ns#consentWithdrawn"
_CONSENT_WITHDRAWN_FORMS = frozenset({CONSENT_WITHDRAWN, "tsunagu:consentWithdrawn",
                                      "consentWithdrawn"})
_EVENT = ODRL + "event"


def purges_on_withdrawal(policy: Policy) -> bool:
    """Whether ``policy`` obliges the holder to delete a person's records once the person
    withdraws consent: a ``delete`` duty conditioned on ``odrl:event eq
    tsunagu:consentWithdrawn``. Without one, a withdrawal stops every use but keeps the rows
    (the provider's policy decides, as for any deletion)."""
    for _, duty in delete_duties(policy):
        for c in duty.constraint:
            if isinstance(c, Constraint) and c.left_operand == _EVENT and any(
                    str(v.id if isinstance(v, IriValue) else v.value)
                    in _CONSENT_WITHDRAWN_FORMS for v in c.right_operand):
                return True
    return False
