"""Policy evaluation: compile once into a plan of closures, evaluate in microseconds.

Semantics (ODRL 2.2 and the W3C ODRL formal semantics draft), fail closed throughout:

* A rule applies when its action covers the requested one (``includedIn``), the requested
  target is its target or a member of it (``partOf`` facts), and likewise the assignee.
* Constraints are three-valued: satisfied, not satisfied, or undecided (value missing,
  values incomparable). A permission is active only if every constraint is satisfied; a
  prohibition is active unless some constraint is definitely not satisfied.
* Duties are pre-conditions of their permission: a duty due before use and not fulfilled, or
  past its deadline and not fulfilled, deactivates the permission; duties due after use or by
  a future deadline are returned as owed.
* Decision: any error denies; an active prohibition and an active permission are resolved by
  the conflict strategy (perm, prohibit, invalid = deny with an error; default invalid); an
  active permission permits; otherwise deny.

Which terms and values a policy may hold is usage_policies.validate's business: the compiler
turns its checked form into the plan. Documents (JSON-LD policies and requests, JSON states)
are parsed elsewhere; ``usage_policies.api.evaluate`` accepts models and documents alike.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from trust.errors import ErrorCode
from usage_policies import actions, datatypes
from usage_policies.datatypes import Duration, Quantity
from usage_policies.decision import (
    ConstraintResult,
    Decision,
    DutyResult,
    RuleResult,
    denied_for_errors,
    error_entry,
)
from usage_policies.errors import PolicyCode, PolicyError
from usage_policies.model import Duty, Policy
from usage_policies.operands import MISSING, EvalContext, LeftOperand
from usage_policies.operators import RELATION, apply
from usage_policies.request import EvaluationRequest
from usage_policies.state import State
from usage_policies.validate import (
    Checked,
    CheckedConstraint,
    CheckedDuty,
    CheckedLogical,
    CheckedRule,
    CheckedUnknown,
    check_duty,
    validate_policy,
)
from usage_policies.vocab import short_name


class _Relations:
    """isA / isPartOf: the operand's own hierarchy, then the state's partOf facts."""

    __slots__ = ("spec", "state")

    def __init__(self, spec: LeftOperand, state: State) -> None:
        self.spec, self.state = spec, state

    def part_of(self, part: Any, whole: Any) -> bool:
        if self.spec.part_of and self.spec.part_of(part, whole):
            return True
        return self.state.is_part_of(str(part), str(whole))

    def is_a(self, instance: Any, cls: Any) -> bool:
        if self.spec.is_a and self.spec.is_a(instance, cls):
            return True
        return self.state.is_part_of(str(instance), str(cls))


# --- constraints --------------------------------------------------------------------------

class UnitMismatch(PolicyError):
    """A constraint with ``odrl:unit`` met a value without that unit (nothing converts)."""

    code = PolicyCode.UNIT_MISMATCH


def _unit_name(unit: str) -> str:
    return short_name(unit)


class CompiledConstraint:
    __slots__ = ("path", "spec", "op", "right", "reference", "relational", "membership",
                 "unit")

    def __init__(self, checked: CheckedConstraint) -> None:
        self.path, self.spec, self.op = checked.path, checked.spec, checked.op
        self.right, self.reference, self.unit = checked.right, checked.reference, checked.unit
        self.relational = self.op in RELATION
        self.membership = self.spec.multi and self.op in ("eq", "neq")

    def _units(self, value: Any, right: Any) -> tuple[Any, Any]:
        """Strip units after checking them: a constraint with a unit compares only values in
        that unit (no conversion); a value without a unit or in another unit is an error."""
        unit = self.unit
        if isinstance(right, Quantity):  # a rightOperandReference resolved with a unit
            if unit is None:
                unit = right.unit
            elif right.unit != unit:
                raise UnitMismatch(f"the constraint is in {_unit_name(unit)} but its "
                                   f"rightOperandReference value is in "
                                   f"{_unit_name(right.unit)}", unit=unit)
            right = right.value
        if unit is None:  # no unit stated: values compare by magnitude
            if isinstance(value, tuple):
                return tuple(v.value if isinstance(v, Quantity) else v for v in value), right
            return (value.value if isinstance(value, Quantity) else value), right

        def strip(v: Any) -> Any:
            if not isinstance(v, Quantity):
                raise UnitMismatch(f"the constraint is in {_unit_name(unit)} but the value "
                                   f"{datatypes.to_json(v)!r} has no unit", unit=unit)
            if v.unit != unit:
                raise UnitMismatch(f"the constraint is in {_unit_name(unit)} but the value "
                                   f"{datatypes.to_json(v.value)!r} is in "
                                   f"{_unit_name(v.unit)}", unit=unit)
            return v.value

        return (tuple(strip(v) for v in value) if isinstance(value, tuple)
                else strip(value)), right

    def run(self, ctx: EvalContext, errors: list[dict[str, Any]]) -> ConstraintResult:
        value = ctx.value(self.spec)
        right = self.right
        unit = self.unit
        try:
            if self.reference is not None:
                right = ctx.state.operands.get(self.reference, MISSING)
                if right is MISSING:
                    return ConstraintResult(
                        self.path, None, self.spec.iri, self.op, None, value,
                        f"no value for rightOperandReference {self.reference}", unit=unit)
                # The connector resolved it; type it like ours (a bad value is an error).
                right = self.spec.coerce(right, path=f"state.operands[{self.reference!r}]")
            if value is MISSING:
                return ConstraintResult(self.path, None, self.spec.iri, self.op, right, None,
                                        f"no value for {short_name(self.spec.iri)}",
                                        unit=unit)
            left, bare_right = value, right
            if unit is not None or isinstance(value, (Quantity, tuple)) or \
                    isinstance(right, Quantity):
                left, bare_right = self._units(value, right)
            if self.membership:
                found = any(apply("eq", v, bare_right) for v in left)
                ok = found if self.op == "eq" else not found
            elif self.relational:
                ok = apply(self.op, left, bare_right, _Relations(self.spec, ctx.state))
            else:
                ok = apply(self.op, left, bare_right)
        except PolicyError as exc:
            return self._failed(exc.code, exc.message, right, value, errors)
        except (ArithmeticError, ValueError) as exc:  # never let a comparison escape
            return self._failed(PolicyCode.INCOMPARABLE, f"cannot evaluate: {exc}", right,
                                value, errors)
        return ConstraintResult(self.path, ok, self.spec.iri, self.op, right, value, unit=unit)

    def _failed(self, code: ErrorCode, message: str, right: Any, value: Any,
                errors: list[dict[str, Any]]) -> ConstraintResult:
        errors.append({"code": code, "message": f"{self.path}: {message}", "path": self.path})
        return ConstraintResult(self.path, None, self.spec.iri, self.op, right,
                                None if value is MISSING else value, message, unit=self.unit)


class CompiledLogical:
    __slots__ = ("path", "operand", "children")

    def __init__(self, checked: CheckedLogical) -> None:
        self.path, self.operand = checked.path, checked.operand
        self.children = [compile_constraint(m) for m in checked.children]

    def run(self, ctx: EvalContext, errors: list[dict[str, Any]]) -> ConstraintResult:
        results = []
        for child in self.children:
            r = child.run(ctx, errors)
            results.append(r)
            if self.operand == "andSequence" and r.satisfied is not True:
                results.extend(ConstraintResult(c.path, None, reason="not evaluated: an "
                                                "earlier constraint of the sequence failed")
                               for c in self.children[len(results):])
                break
        outcomes = [r.satisfied for r in results]
        if self.operand == "or":
            value = True if True in outcomes else (None if None in outcomes else False)
        elif self.operand == "xone":
            trues = outcomes.count(True)
            value = False if trues > 1 else (None if None in outcomes else trues == 1)
        else:
            value = False if False in outcomes else (None if None in outcomes else True)
        return ConstraintResult(self.path, value, operator=self.operand, children=results)


class CompiledUnknown:
    """A constraint on a left operand no context defines: never decided, so a permission
    depending on it is not active and a prohibition depending on it stays in force."""

    __slots__ = ("path", "left_operand", "op", "reason")

    def __init__(self, checked: CheckedUnknown) -> None:
        self.path, self.left_operand, self.op = checked.path, checked.left_operand, checked.op
        self.reason = checked.reason

    def run(self, ctx: EvalContext, errors: list[dict[str, Any]]) -> ConstraintResult:
        return ConstraintResult(self.path, None, self.left_operand, self.op, reason=self.reason)


Compiled = CompiledConstraint | CompiledLogical | CompiledUnknown


def compile_constraint(checked: Checked) -> Compiled:
    if isinstance(checked, CheckedConstraint):
        return CompiledConstraint(checked)
    if isinstance(checked, CheckedUnknown):
        return CompiledUnknown(checked)
    return CompiledLogical(checked)


def unknown_operands(compiled: list[Compiled]) -> list[CompiledUnknown]:
    """The constraints on unknown left operands among ``compiled``, logical members too."""
    found: list[CompiledUnknown] = []
    stack = list(compiled)
    while stack:
        c = stack.pop()
        if isinstance(c, CompiledUnknown):
            found.append(c)
        elif isinstance(c, CompiledLogical):
            stack.extend(c.children)
    return sorted(found, key=lambda u: u.path)


def _conjunction(results: list[ConstraintResult]) -> bool | None:
    outcome: bool | None = True
    for r in results:
        if r.satisfied is False:
            return False
        if r.satisfied is None:
            outcome = None
    return outcome


# --- duties -------------------------------------------------------------------------------

class CompiledDuty:
    __slots__ = ("path", "uid", "action", "conditions", "deadline_at", "deadline_after",
                 "timing", "consequences")

    def __init__(self, duty: Duty | CheckedDuty, path: str = "") -> None:
        """From a duty of the model (checked here, at ``path``) or an already checked one."""
        checked = duty if isinstance(duty, CheckedDuty) else check_duty(duty, path)
        self.path, self.uid, self.action = checked.path, checked.uid, checked.action
        self.conditions = [compile_constraint(c) for c in checked.conditions]
        self.deadline_at: Any = checked.deadline_at  # absolute deadline (datetime or date)
        self.deadline_after: Duration | None = checked.deadline_after  # after the agreement
        self.timing = checked.timing
        self.consequences = [CompiledDuty(d) for d in checked.consequences]

    def _deadline(self, ctx: EvalContext) -> datetime | None | Any:
        if self.deadline_at is not None:
            at = self.deadline_at
            return at if isinstance(at, datetime) else datatypes.day_bounds(at)[1]
        if self.deadline_after is not None:
            if ctx.agreement_time is None:
                return MISSING
            return self.deadline_after.add_to(ctx.agreement_time)
        return None

    def run(self, ctx: EvalContext, errors: list[dict[str, Any]]) -> DutyResult:
        checks = [c.run(ctx, errors) for c in self.conditions]
        result = DutyResult(self.path, self.uid, self.action, "owed", constraints=checks)
        if _conjunction(checks) is False:
            result.status, result.reason = "not_applicable", "its conditions do not hold"
            return result
        status = ctx.state.duty_status(self.uid, self.action)
        deadline = self._deadline(ctx)
        if status is not None and status.fulfilled:
            result.status = "fulfilled"
            return result
        if deadline is MISSING:
            result.status = "unfulfilled"
            result.reason = "deadline unknown: no agreement time in the state"
        elif deadline is not None:
            result.deadline, result.timing = deadline, "by deadline"
            if ctx.state.current_time > deadline:
                result.status, result.reason = "violated", "deadline passed, not fulfilled"
                result.consequences = [c.run(ctx, errors) for c in self.consequences]
        elif self.timing == "after use":
            result.timing = "after use"
        else:
            result.status, result.reason = "unfulfilled", "must be fulfilled before use"
        return result


# --- rules --------------------------------------------------------------------------------

class CompiledRule:
    __slots__ = ("kind", "path", "uid", "action", "target", "assignee", "constraints",
                 "duties", "unknown")

    def __init__(self, checked: CheckedRule) -> None:
        self.kind, self.path, self.uid = checked.kind, checked.path, checked.uid
        self.action, self.target, self.assignee = checked.action, checked.target, checked.assignee
        self.constraints = [compile_constraint(c) for c in checked.constraints]
        self.duties = [CompiledDuty(d) for d in checked.duties]
        self.unknown = unknown_operands(self.constraints)

    def covers(self, requested: str) -> bool:
        """The rule is about ``requested`` (or every action)."""
        return self.action == actions.ANY_ACTION or self.action in actions.covering(requested)

    def _mismatch(self, request: EvaluationRequest, state: State) -> str:
        if not self.covers(request.action):
            return f"{short_name(self.action)} does not cover {short_name(request.action)}"
        if self.target is not None and not state.is_part_of(request.target, self.target):
            return f"target {request.target} is not {self.target} nor part of it"
        if self.assignee is not None:
            if request.assignee is None:
                return "" if self.kind == "prohibition" else "the request names no assignee"
            if not state.is_part_of(request.assignee, self.assignee):
                return f"assignee {request.assignee} is not {self.assignee} nor a member of it"
        return ""

    def run(self, ctx: EvalContext, errors: list[dict[str, Any]]) -> RuleResult:
        mismatch = self._mismatch(ctx.request, ctx.state)
        if mismatch:
            return RuleResult(self.path, self.kind, self.uid, self.action, False, False,
                              mismatch)
        checks = [c.run(ctx, errors) for c in self.constraints]
        holds = _conjunction(checks)
        result = RuleResult(self.path, self.kind, self.uid, self.action, True, False, "",
                            checks)
        if self.kind == "prohibition":
            # Undecided counts as in force: a prohibition must not lapse for lack of facts.
            result.active = holds is not False
            result.reason = ("prohibits this use" if holds else
                             "prohibition treated as in force: a constraint could not be "
                             "decided" if holds is None else "a constraint does not hold")
            if result.active:
                result.duties = [DutyResult(d.path, d.uid, d.action, "if_violated")
                                 for d in self.duties]
            return result
        if holds is not True:
            result.reason = ("a constraint does not hold" if holds is False else
                             "a constraint could not be decided")
            return result
        result.duties = [d.run(ctx, errors) for d in self.duties]
        blocking = [d for d in result.duties if d.status in ("violated", "unfulfilled")]
        if blocking:
            result.reason = "duty not fulfilled: " + ", ".join(
                f"{short_name(d.action)} ({d.status})" for d in blocking)
            return result
        result.active, result.reason = True, "permits this use"
        return result


# --- policies -----------------------------------------------------------------------------

class CompiledPolicy:
    """A policy checked and turned into a plan; ``evaluate`` is pure and allocation-light."""

    def __init__(self, policy: Policy) -> None:
        checked = validate_policy(policy)
        self.policy = policy
        self.uid = policy.uid
        self.conflict = policy.conflict_strategy
        self.timestamp = policy.timestamp
        self.permissions = [CompiledRule(r) for r in checked.permissions]
        self.prohibitions = [CompiledRule(r) for r in checked.prohibitions]
        self.obligations = [CompiledDuty(d) for d in checked.obligations]
        self.notes = _deprecation_notes(policy)

    def evaluate(self, request: EvaluationRequest, state: State) -> Decision:
        """Decide; never raises a PolicyError (a typed error becomes a deny carrying it)."""
        try:
            decision = self._evaluate(request, state)
        except PolicyError as exc:
            return denied_for_errors([error_entry(exc, "evaluation")], self.uid,
                                     invalid_input=exc.code in INPUT_ERRORS)
        if decision.errors and any(e.get("code") in INPUT_ERRORS for e in decision.errors):
            decision.invalid_input = True
        decision.notes = [*request.notes, *self.notes]
        return decision

    def _evaluate(self, request: EvaluationRequest, state: State) -> Decision:
        errors: list[dict[str, Any]] = []
        ctx = EvalContext(request, state, state.agreement_time or self.timestamp)
        rules = [r.run(ctx, errors) for r in self.permissions]
        permits = [r for r in rules if r.active]
        prohibits = []
        for rule in self.prohibitions:
            result = rule.run(ctx, errors)
            rules.append(result)
            if result.active:
                prohibits.append(result)
        obligations = [d.run(ctx, errors) for d in self.obligations]
        decision = Decision(False, "", self.uid, rules, [], obligations, errors)
        if errors:
            decision.reason = "evaluation errors: " + "; ".join(e["message"] for e in errors)
        elif prohibits and permits and self.conflict == "perm":
            decision.permitted = True
            decision.reason = (f"{permits[0].path} permits; conflict strategy perm overrides "
                               f"{prohibits[0].path}")
        elif prohibits and permits and self.conflict == "invalid":
            errors.append({"code": PolicyCode.CONFLICT, "path": "$.conflict", "message":
                           f"{permits[0].path} and {prohibits[0].path} conflict and the "
                           "conflict strategy is invalid: the policy is void"})
            decision.reason = errors[-1]["message"]
        elif prohibits:
            decision.reason = f"{prohibits[0].path} {prohibits[0].reason}"
        elif permits:
            decision.permitted = True
            decision.reason = f"{permits[0].path} permits this use"
        elif not any(r.covers(request.action) for r in (*self.permissions, *self.prohibitions)):
            decision.reason = f"no rule covers this action ({short_name(request.action)})"
        else:
            decision.reason = "no permission allows this use (default deny)" + _unknown_reason(
                self.permissions, rules)
        if decision.permitted:
            decision.duties = [d for r in permits for d in r.duties if d.status == "owed"]
        return decision


def _unknown_reason(permissions: list[CompiledRule], results: list[RuleResult]) -> str:
    """Why applicable permissions could not permit, when an unknown left operand is why."""
    for rule, result in zip(permissions, results, strict=False):
        if result.applicable and rule.unknown:
            return f": {rule.path} depends on {rule.unknown[0].reason}"
    return ""


def _deprecation_notes(policy: Policy) -> list[str]:
    """A note for each rule, duty or consequence whose action is a deprecated ODRL 2.1 one."""
    notes: list[str] = []
    stack: list[tuple[str, Any]] = [(f"$.{path}", rule) for path, rule in policy.rules()]
    while stack:
        path, rule = stack.pop(0)
        note = actions.deprecation_note(rule.action.id, f"{path}.action")
        if note:
            notes.append(note)
        for name in ("duty", "remedy", "consequence"):
            stack.extend((f"{path}.{name}[{i}]", d) for i, d in enumerate(getattr(rule, name, ())))
    return notes


# Errors that say a value in the request or state is invalid (not that the policy does not
# allow the use): the CLI exits 2 for them, like for a document that does not parse.
INPUT_ERRORS = frozenset({PolicyCode.DATATYPE, PolicyCode.STATE_INVALID,
                          PolicyCode.REQUEST_INVALID, PolicyCode.UNKNOWN_DATATYPE})


def compile_policy(policy: Policy) -> CompiledPolicy:
    """Check every term and datatype of ``policy`` (usage_policies.validate, which raises a
    PolicyError naming the path) and build its evaluation plan."""
    return CompiledPolicy(policy)
