"""Policy validation: every term known, every right operand of the right datatype.

``validate_policy`` checks a parsed Policy without evaluating anything: its profiles, the
action of every rule, duty and consequence, and every constraint (rules, refinements of
actions, targets and assignees, duties): left operand and operator known, right operands
typed by their ``@type``, the constraint's ``dataType`` or else the left operand's datatype,
exactly one right operand for the operators that take one. (An unknown conflict strategy
never gets this far: the parser rejects it and the model admits only perm, prohibit and
invalid.)

It returns the policy's checked form: constraints with their left operand and typed right
operands, duties split into deadline, timing and conditions. ``parse_policy`` runs it (unless
``validate=False``) and the evaluator compiles the checked form into its plan, so parsing and
evaluation apply the same rules, written once, here. Errors are UnknownTermError or
DatatypeError naming the path (``$.permission[0].constraint[1].operator``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from usage_policies import actions, datatypes
from usage_policies.datatypes import ID, Duration, Iri
from usage_policies.errors import DatatypeError, PolicyCode, UnknownTermError
from usage_policies.model import (
    AnyConstraint,
    Constraint,
    Duty,
    IriValue,
    LogicalConstraint,
    Permission,
    Policy,
    Prohibition,
)
from usage_policies.operands import LeftOperand, get_left_operand
from usage_policies.operators import OPERATOR_IRIS, SET
from usage_policies.profiles import is_known_profile
from usage_policies.vocab import ODRL, XSD, is_absolute_iri, short_name

_FAMILY = {XSD + n: "number" for n in ("integer", "int", "long", "short", "decimal", "double",
                                       "float", "nonNegativeInteger", "positiveInteger")}
_FAMILY |= {XSD + n: "duration" for n in ("duration", "dayTimeDuration", "yearMonthDuration")}
_FAMILY |= {XSD + "date": "date", XSD + "dateTime": "dateTime", XSD + "dateTimeStamp":
            "dateTime", XSD + "boolean": "boolean", ID: "string", XSD + "anyURI": "string"}
_COMPATIBLE = {("date", "dateTime"), ("dateTime", "date")}


# --- constraints --------------------------------------------------------------------------

@dataclass(frozen=True, slots=True)
class CheckedConstraint:
    """An atomic constraint whose terms are known: ``right`` is the typed right operand (a
    tuple for the set operators), None when the constraint has a rightOperandReference."""

    path: str
    spec: LeftOperand
    op: str  # the operator's short name (eq, lteq, isAnyOf...)
    right: Any
    reference: str | None
    unit: str | None


@dataclass(frozen=True, slots=True)
class CheckedLogical:
    path: str
    operand: str  # or, xone, and, andSequence
    children: tuple[Checked, ...]


@dataclass(frozen=True, slots=True)
class CheckedUnknown:
    """A constraint whose left operand no JSON-LD context defines (a relative IRI such as the
    DSP examples' ``partner``): kept, never satisfied; a decision depending on it denies."""

    path: str
    left_operand: str
    op: str

    @property
    def reason(self) -> str:
        return (f"unknown left operand {self.left_operand!r}: no context defines it, so this "
                "constraint cannot be decided")


Checked = CheckedConstraint | CheckedLogical | CheckedUnknown


def get_left_operand_at(iri: str, path: str) -> LeftOperand:
    """The registered left operand ``iri``; UnknownTermError naming ``path`` otherwise."""
    try:
        return get_left_operand(iri)
    except UnknownTermError as exc:
        raise UnknownTermError(exc.message, path=f"{path}.leftOperand", code=exc.code,
                               left_operand=iri) from None


def check_constraint(c: AnyConstraint, path: str) -> Checked:
    """Check a constraint (atomic or logical, with its members) at ``path``."""
    if isinstance(c, LogicalConstraint):
        return CheckedLogical(path, c.operand, tuple(
            check_constraint(m, f"{path}.{c.operand}[{i}]") for i, m in enumerate(c.constraints)))
    op = OPERATOR_IRIS.get(c.operator)
    if op is None:
        raise UnknownTermError(f"unknown operator {c.operator}", path=f"{path}.operator",
                               code=PolicyCode.UNKNOWN_OPERATOR, operator=c.operator)
    if not is_absolute_iri(c.left_operand):  # only JSON-LD lets one through (odrl_terms)
        return CheckedUnknown(path, c.left_operand, op)
    spec = get_left_operand_at(c.left_operand, path)
    right: Any = None
    if c.right_operand_reference is None:
        values = tuple(_typed(c, i, spec, path) for i in range(len(c.right_operand)))
        if op in SET:
            right = values
        elif len(values) != 1:
            raise DatatypeError(f"operator {op} takes one rightOperand, got {len(values)}",
                                path=f"{path}.rightOperand")
        else:
            right = values[0]
    return CheckedConstraint(path, spec, op, right, c.right_operand_reference, c.unit)


def _typed(c: Constraint, i: int, spec: LeftOperand, path: str) -> Any:
    """Right operand ``i`` of ``c`` as a typed value, checked against the left operand."""
    term = c.right_operand[i]
    where = f"{path}.rightOperand" + (f"[{i}]" if len(c.right_operand) > 1 else "")
    if isinstance(term, IriValue):
        value: Any = Iri(term.id)
        datatype = ID
    else:
        datatype = term.datatype or c.data_type
        if term.datatype and c.data_type and term.datatype != c.data_type:
            raise DatatypeError(f"rightOperand is {short_name(term.datatype)} but dataType "
                                f"says {short_name(c.data_type)}", path=where)
        if datatype is not None and not datatypes.is_known_datatype(datatype):
            raise UnknownTermError(f"unknown datatype {datatype}", path=where,
                                   code=PolicyCode.UNKNOWN_DATATYPE, datatype=datatype)
        try:
            value = (datatypes.convert(term.value, datatype) if datatype
                     else spec.coerce(term.value, path=where))
        except ValueError as exc:
            raise DatatypeError(f"rightOperand of the wrong datatype: {exc}",
                                path=where) from None
    if spec.normalize:
        value = spec.normalize(value)
    expected = _FAMILY.get(spec.datatype or "", "string" if spec.datatype else None)
    actual = datatypes.kind_of(value)
    if expected and actual != expected and (expected, actual) not in _COMPATIBLE:
        raise DatatypeError(
            f"rightOperand of the wrong datatype for {short_name(spec.iri)}: expected "
            f"{short_name(spec.datatype or '')}, got {actual} {datatypes.to_json(value)!r}"
            + (f" ({short_name(datatype)})" if datatype and datatype != ID else ""),
            path=where)
    return value


# --- actions and duties -------------------------------------------------------------------

def check_action(iri: str, path: str, *, every: bool = False) -> str:
    """The action a rule applies to (a deprecated ODRL 2.1 one read as its replacement);
    ``every``: the rule may be for every action (prohibitions, duties)."""
    if iri == actions.ANY_ACTION:
        if every:
            return iri
        raise UnknownTermError("a permission has no action (a permission for every action is "
                               "not accepted: name the action)", path=path,
                               code=PolicyCode.MISSING_ACTION)
    iri = actions.current(iri)
    if not actions.is_known(iri):
        raise UnknownTermError(f"unknown action {iri}", path=path, code=PolicyCode.UNKNOWN_ACTION,
                               action=iri)
    return iri


@dataclass(frozen=True, slots=True)
class CheckedDuty:
    """A duty checked and read: time constraints give its deadline (``dateTime lt/lteq`` an
    instant or a date, ``elapsedTime lt/lteq`` a duration after the agreement) or its timing
    (``event gt/gteq odrl:policyUsage``: after use); every other constraint and the action's
    refinements are ``conditions`` (the duty is not applicable when they fail)."""

    path: str
    uid: str | None
    action: str
    conditions: tuple[Checked, ...]
    deadline_at: Any  # absolute deadline (datetime or date), or None
    deadline_after: Duration | None  # relative to the agreement
    timing: str  # "before use" or "after use"
    consequences: tuple[CheckedDuty, ...]


def check_duty(duty: Duty, path: str) -> CheckedDuty:
    action = check_action(duty.action.id, f"{path}.action", every=True)
    conditions = [check_constraint(c, f"{path}.action.refinement[{i}]")
                  for i, c in enumerate(duty.action.refinement)]
    deadline_at: Any = None
    deadline_after: Duration | None = None
    timing = "before use"
    for i, c in enumerate(duty.constraint):
        checked = check_constraint(c, f"{path}.constraint[{i}]")
        if isinstance(checked, CheckedConstraint) and checked.reference is None:
            name, op = checked.spec.iri[len(ODRL):], checked.op
            if name == "dateTime" and op in ("lt", "lteq"):
                deadline_at = checked.right
                continue
            if name == "elapsedTime" and op in ("lt", "lteq"):
                deadline_after = checked.right
                continue
            if name == "event" and checked.right == ODRL + "policyUsage":
                if op in ("gt", "gteq"):
                    timing = "after use"
                continue
        conditions.append(checked)
    consequences = tuple(check_duty(d, f"{path}.consequence[{i}]")
                         for i, d in enumerate(duty.consequence))
    return CheckedDuty(path, duty.uid, action, tuple(conditions), deadline_at, deadline_after,
                       timing, consequences)


# --- rules and policies -------------------------------------------------------------------

@dataclass(frozen=True, slots=True)
class CheckedRule:
    """A permission or prohibition with its effective target and assignee (its own, else the
    policy's): ``constraints`` holds the refinements of its action, target and assignee, then
    its constraints; ``duties`` its duties (permission) or remedies (prohibition)."""

    kind: str  # permission | prohibition
    path: str
    uid: str | None
    action: str
    target: str | None
    assignee: str | None
    constraints: tuple[Checked, ...]
    duties: tuple[CheckedDuty, ...]


def check_rule(rule: Permission | Prohibition, kind: str, path: str,
               policy: Policy) -> CheckedRule:
    action = check_action(rule.action.id, f"{path}.action", every=kind == "prohibition")
    target = rule.target or policy.target
    assignee = rule.assignee or policy.assignee
    constraints: list[Checked] = []
    for prefix, refinement in (("action", rule.action.refinement),
                               ("target", target.refinement if target else ()),
                               ("assignee", assignee.refinement if assignee else ())):
        constraints += [check_constraint(c, f"{path}.{prefix}.refinement[{i}]")
                        for i, c in enumerate(refinement)]
    constraints += [check_constraint(c, f"{path}.constraint[{i}]")
                    for i, c in enumerate(rule.constraint)]
    duties = rule.duty if isinstance(rule, Permission) else rule.remedy
    name = "duty" if isinstance(rule, Permission) else "remedy"
    return CheckedRule(kind, path, rule.uid, action, target.uid if target else None,
                       assignee.uid if assignee else None, tuple(constraints),
                       tuple(check_duty(d, f"{path}.{name}[{i}]") for i, d in enumerate(duties)))


@dataclass(frozen=True, slots=True)
class CheckedPolicy:
    policy: Policy
    permissions: tuple[CheckedRule, ...]
    prohibitions: tuple[CheckedRule, ...]
    obligations: tuple[CheckedDuty, ...]


def validate_policy(policy: Policy) -> CheckedPolicy:
    """Check every term and datatype of ``policy``; raise the first error (a PolicyError
    naming its path), else return the checked form."""
    for i, profile in enumerate(policy.profile):
        if not is_known_profile(profile):
            raise UnknownTermError(f"unknown profile {profile}: this evaluator cannot "
                                   "process the policy", path=f"$.profile[{i}]",
                                   code=PolicyCode.UNKNOWN_PROFILE, profile=profile)
    return CheckedPolicy(
        policy,
        tuple(check_rule(r, "permission", f"$.permission[{i}]", policy)
              for i, r in enumerate(policy.permission)),
        tuple(check_rule(r, "prohibition", f"$.prohibition[{i}]", policy)
              for i, r in enumerate(policy.prohibition)),
        tuple(check_duty(d, f"$.obligation[{i}]") for i, d in enumerate(policy.obligation)))


__all__ = ["Checked", "CheckedConstraint", "CheckedDuty", "CheckedLogical", "CheckedPolicy",
           "CheckedRule", "CheckedUnknown", "check_action", "check_constraint", "check_duty",
           "check_rule", "get_left_operand_at", "validate_policy"]
