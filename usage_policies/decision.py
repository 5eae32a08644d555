"""The outcome of an evaluation, with every reason, as plain dataclasses with ``to_json``."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from usage_policies.datatypes import to_json
from usage_policies.errors import PolicyError
from usage_policies.vocab import short_name

# Constraint outcomes are three-valued: True, False, or None (could not be decided: a value
# is missing or an error occurred). Rules treat None conservatively (see evaluate.py).


@dataclass(slots=True)
class ConstraintResult:
    path: str
    satisfied: bool | None
    left_operand: str = ""
    operator: str = ""
    right_operand: Any = None
    value: Any = None  # the value compared (resolved from request/state)
    reason: str = ""
    children: list[ConstraintResult] = field(default_factory=list)
    unit: str | None = None  # the constraint's odrl:unit (IRI)

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"path": self.path, "satisfied": self.satisfied}
        if self.children:
            out["operand"] = self.operator
            out["constraints"] = [c.to_json() for c in self.children]
        else:
            out |= {"leftOperand": short_name(self.left_operand),
                    "operator": self.operator,
                    "rightOperand": to_json(self.right_operand),
                    "value": None if self.value is None else to_json(self.value)}
            if self.unit:
                out["unit"] = self.unit
        if self.reason:
            out["reason"] = self.reason
        return out


@dataclass(slots=True)
class DutyResult:
    path: str
    uid: str | None
    action: str
    status: str  # fulfilled | owed | violated | unfulfilled | not_applicable | if_violated
    deadline: datetime | None = None
    timing: str = ""  # "before use", "after use", "by deadline"
    constraints: list[ConstraintResult] = field(default_factory=list)
    consequences: list[DutyResult] = field(default_factory=list)
    reason: str = ""

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"path": self.path, "uid": self.uid,
                               "action": short_name(self.action), "status": self.status}
        if self.deadline is not None:
            out["deadline"] = to_json(self.deadline)
        if self.timing:
            out["timing"] = self.timing
        if self.constraints:
            out["constraints"] = [c.to_json() for c in self.constraints]
        if self.consequences:
            out["consequences"] = [c.to_json() for c in self.consequences]
        if self.reason:
            out["reason"] = self.reason
        return out


@dataclass(slots=True)
class RuleResult:
    path: str
    kind: str  # permission | prohibition
    uid: str | None
    action: str
    applicable: bool  # action, target and assignee match the request
    active: bool  # in force for this request (constraints hold, duties allow)
    reason: str
    constraints: list[ConstraintResult] = field(default_factory=list)
    duties: list[DutyResult] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"path": self.path, "kind": self.kind, "uid": self.uid,
                               "action": short_name(self.action),
                               "applicable": self.applicable, "active": self.active,
                               "reason": self.reason}
        if self.constraints:
            out["constraints"] = [c.to_json() for c in self.constraints]
        if self.duties:
            key = "duties" if self.kind == "permission" else "remedies"
            out[key] = [d.to_json() for d in self.duties]
        return out


@dataclass(slots=True)
class Decision:
    permitted: bool
    reason: str
    policy: str | None = None
    rules: list[RuleResult] = field(default_factory=list)
    duties: list[DutyResult] = field(default_factory=list)  # owed if the use goes ahead
    obligations: list[DutyResult] = field(default_factory=list)
    errors: list[dict[str, Any]] = field(default_factory=list)
    # The policy, request or state was rejected, or a value in the request or state has an
    # invalid datatype (NaN, a malformed literal...): the CLI exits 2 rather than 1.
    invalid_input: bool = False
    # Remarks that change no outcome: a deprecated ODRL 2.1 action read as its replacement.
    notes: list[str] = field(default_factory=list)

    @property
    def decision(self) -> str:
        return "permit" if self.permitted else "deny"

    def constraints(self) -> list[ConstraintResult]:
        return [c for r in self.rules for c in r.constraints]

    def to_json(self) -> dict[str, Any]:
        return {
            "decision": self.decision,
            "reason": self.reason,
            "policy": self.policy,
            "rules": [r.to_json() for r in self.rules],
            "constraints": [c.to_json() | {"rule": r.path} for r in self.rules
                            for c in r.constraints],
            "duties": [d.to_json() for d in self.duties],
            "obligations": [d.to_json() for d in self.obligations],
            "errors": self.errors,
        } | ({"notes": list(self.notes)} if self.notes else {})


def denied_for_errors(errors: list[dict[str, Any]], policy: str | None = None,
                      *, invalid_input: bool = True) -> Decision:
    reason = "; ".join(e.get("message", e.get("code", "")) for e in errors) or "invalid input"
    return Decision(False, reason, policy, errors=errors, invalid_input=invalid_input)


def error_entry(exc: PolicyError, where: str) -> dict[str, Any]:
    """A typed error as an entry of ``Decision.errors``, its message prefixed by ``where``."""
    return {"code": exc.code, "message": f"{where}: {exc}" if where else str(exc),
            **exc.details}
