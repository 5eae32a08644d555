"""The request: who wants to do what on which asset, with which declared attributes.

JSON-LD form (so that other ODRL tools can drive the evaluator): an ODRL policy of type
Request with one permission naming assignee, action and target; each of its constraints
with operator ``eq`` states one request attribute (``purpose eq disaster_response``).
Several ``eq`` constraints on one left operand give a set of values. ``parse_request``
(usage_policies.parse) reads that document; ``request_from_policy`` here turns the parsed
Request into an EvaluationRequest.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from usage_policies import actions
from usage_policies.errors import PolicyCode, RequestError
from usage_policies.model import Constraint, IriValue, Policy
from usage_policies.operands import find_left_operand
from usage_policies.state import json_value, operand_key
from usage_policies.vocab import ODRL, is_absolute_iri


@dataclass(frozen=True)
class EvaluationRequest:
    action: str
    target: str
    assignee: str | None = None
    attributes: Mapping[str, Any] = field(default_factory=dict)
    uid: str | None = None
    notes: tuple[str, ...] = ()  # e.g. a deprecated action read as its replacement

    @classmethod
    def of(cls, *, action: str, target: str, assignee: str | None = None,
           **attributes: Any) -> EvaluationRequest:
        """Convenience for Python callers: ``of(action="read", target=..., purpose="research")``.
        Names are ODRL terms, compact IRIs (``tsunagu:disasterPhase``) or full IRIs."""
        typed = {}
        for name, value in attributes.items():
            iri = operand_key(name)
            typed[iri] = json_value(value, iri, f"request.{name}")
        action_iri = operand_key(action)
        note = actions.deprecation_note(action_iri, "request.action")
        return cls(action=actions.current(action_iri), target=target, assignee=assignee,
                   attributes=typed, notes=(note,) if note else ())


def request_from_policy(policy: Policy) -> EvaluationRequest:
    if policy.type != "Request":
        raise RequestError(f"a request is an ODRL policy of type Request, not {policy.type}",
                           path="$.@type")
    if len(policy.permission) != 1 or policy.prohibition or policy.obligation:
        raise RequestError("a request has exactly one permission and no other rules",
                           path="$.permission")
    rule = policy.permission[0]
    path = "$.permission[0]"
    target = rule.target or policy.target
    assignee = rule.assignee or policy.assignee
    if target is None or target.uid is None:
        raise RequestError("the request names no target", path=f"{path}.target")
    if assignee is None or assignee.uid is None:
        raise RequestError("the request names no assignee", path=f"{path}.assignee")
    # Any well-formed action may be asked for: one no rule names is denied with "no rule
    # covers this action" by the evaluator, not refused here as invalid input.
    if not is_absolute_iri(rule.action.id) or rule.action.id == actions.ANY_ACTION:
        raise RequestError(f"the request's action {rule.action.id!r} is not an action IRI",
                           path=f"{path}.action", code=PolicyCode.UNKNOWN_ACTION)
    note = actions.deprecation_note(rule.action.id, f"{path}.action")
    attributes: dict[str, Any] = {}
    for i, c in enumerate(rule.constraint):
        cpath = f"{path}.constraint[{i}]"
        if not isinstance(c, Constraint) or c.operator != ODRL + "eq" or not c.right_operand:
            raise RequestError("request attributes are stated as leftOperand eq rightOperand",
                               path=cpath)
        spec = find_left_operand(c.left_operand)
        if spec is None:
            raise RequestError(f"unknown leftOperand {c.left_operand}", path=cpath,
                               code=PolicyCode.UNKNOWN_LEFT_OPERAND)
        unit = {"unit": c.unit} if c.unit else {}
        values = [{"@id": t.id, **unit} if isinstance(t, IriValue) else
                  {"@value": t.value, **({"@type": t.datatype} if t.datatype else {}), **unit}
                  for t in c.right_operand]
        typed = [json_value(v, spec.iri, cpath) for v in values]
        previous = attributes.get(spec.iri)
        merged = [*(previous if isinstance(previous, tuple) else
                    () if previous is None else (previous,)), *typed]
        attributes[spec.iri] = merged[0] if len(merged) == 1 else tuple(merged)
    return EvaluationRequest(action=actions.current(rule.action.id), target=target.uid,
                             assignee=assignee.uid, attributes=attributes, uid=policy.uid,
                             notes=(note,) if note else ())


__all__ = ["EvaluationRequest", "request_from_policy"]
