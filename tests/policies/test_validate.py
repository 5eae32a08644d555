"""usage_policies.validate: the checks parse_policy and compile_policy share."""

from __future__ import annotations

from datetime import date

import pytest

from usage_policies.datatypes import Duration
from usage_policies.errors import DatatypeError, PolicyError, UnknownTermError
from usage_policies.evaluate import compile_policy
from usage_policies.model import (
    Action,
    Constraint,
    Duty,
    LogicalConstraint,
    Permission,
    Policy,
    Prohibition,
    iri,
    literal,
)
from usage_policies.parse import parse_policy
from usage_policies.validate import CheckedConstraint, CheckedLogical, validate_policy
from usage_policies.vocab import ODRL, XSD

from .helpers import c, policy, rule, typed


def _constraint(left: str, op: str, *right: object, **extra: object) -> Constraint:
    return Constraint(left_operand=ODRL + left, operator=ODRL + op, right_operand=right,
                      **extra)


def _policy(**rules: object) -> Policy:
    return Policy(uid="urn:test:validate", **rules)


INVALID = [  # (policy built in Python, code, path)
    (_policy(permission=(Permission(action=Action(id=ODRL + "fly")),)),
     "policy.unknown_action", "$.permission[0].action"),
    (_policy(profile=("https://example.org/unknown-profile",)),
     "policy.unknown_profile", "$.profile[0]"),
    (_policy(permission=(Permission(action=Action(id=ODRL + "use"), constraint=(
        _constraint("shoeSize", "eq", literal(42)),)),)),
     "policy.unknown_left_operand", "$.permission[0].constraint[0].leftOperand"),
    (_policy(prohibition=(Prohibition(action=Action(id=ODRL + "use"), constraint=(
        _constraint("count", "roughly", literal(3)),)),)),
     "policy.unknown_operator", "$.prohibition[0].constraint[0].operator"),
    (_policy(permission=(Permission(action=Action(id=ODRL + "use"), constraint=(
        _constraint("count", "lteq", literal("5", "https://example.org/int")),)),)),
     "policy.unknown_datatype", "$.permission[0].constraint[0].rightOperand"),
    (_policy(permission=(Permission(action=Action(id=ODRL + "use"), constraint=(
        _constraint("count", "lteq", literal("five", XSD + "integer")),)),)),
     "policy.datatype", "$.permission[0].constraint[0].rightOperand"),
    (_policy(permission=(Permission(action=Action(id=ODRL + "use"), constraint=(
        _constraint("count", "lteq", literal(1), literal(2)),)),)),
     "policy.datatype", "$.permission[0].constraint[0].rightOperand"),
    (_policy(permission=(Permission(action=Action(id=ODRL + "use"), duty=(Duty(
        action=Action(id=ODRL + "delete"), consequence=(Duty(action=Action(
            id=ODRL + "vanish")),)),)),)),
     "policy.unknown_action", "$.permission[0].duty[0].consequence[0].action"),
    (_policy(obligation=(Duty(action=Action(id=ODRL + "inform"), constraint=(
        LogicalConstraint(operand="or", constraints=(
            _constraint("dateTime", "lt", literal("soon", XSD + "date")),)),)),)),
     "policy.datatype", "$.obligation[0].constraint[0].or[0].rightOperand"),
]


@pytest.mark.parametrize(("bad", "code", "path"), INVALID)
def test_validate_policy_rejects_a_model_policy_like_the_compiler(bad, code, path):
    with pytest.raises(PolicyError) as validated:
        validate_policy(bad)
    assert (validated.value.code, validated.value.path) == (code, path)
    assert isinstance(validated.value, UnknownTermError | DatatypeError)
    with pytest.raises(PolicyError) as compiled:
        compile_policy(bad)
    assert (compiled.value.code, compiled.value.path, compiled.value.message) == (
        validated.value.code, validated.value.path, validated.value.message)


def test_parse_policy_validates_and_validate_false_does_not():
    doc = policy(permission=[rule("use", c("count", "lteq", typed("five", "integer")))])
    with pytest.raises(DatatypeError):
        parse_policy(doc)
    unchecked = parse_policy(doc, validate=False)
    with pytest.raises(DatatypeError) as exc:
        validate_policy(unchecked)
    assert exc.value.path == "$.permission[0].constraint[0].rightOperand"


def test_the_checked_form_holds_typed_values_and_duty_deadlines():
    at_most_5 = _constraint("count", "lteq", literal("5", XSD + "integer"))
    either = LogicalConstraint(operand="or", constraints=(
        _constraint("purpose", "isAnyOf", literal("research"), literal("statistics")),
        _constraint("recipient", "eq", iri("did:example:alice"))))
    duties = (
        Duty(action=Action(id=ODRL + "delete"), constraint=(
            _constraint("elapsedTime", "lteq", literal("P30D", XSD + "duration")),)),
        Duty(action=Action(id=ODRL + "archive"), constraint=(
            _constraint("dateTime", "lt", literal("2026-03-31", XSD + "date")),)),
        Duty(action=Action(id=ODRL + "inform"), constraint=(
            _constraint("event", "gt", iri(ODRL + "policyUsage")),)))
    checked = validate_policy(_policy(permission=(Permission(
        action=Action(id=ODRL + "read", refinement=(at_most_5,)), constraint=(either,),
        duty=duties),)))
    rule_ = checked.permissions[0]
    assert rule_.action == ODRL + "read"
    refinement, logical = rule_.constraints
    assert isinstance(refinement, CheckedConstraint) and refinement.right == 5
    assert refinement.path == "$.permission[0].action.refinement[0]"
    assert isinstance(logical, CheckedLogical) and logical.operand == "or"
    purposes, recipient = logical.children
    assert purposes.op == "isAnyOf" and len(purposes.right) == 2
    assert recipient.right == "did:example:alice"
    within, by, after = rule_.duties
    assert within.deadline_after == Duration.parse("P30D") and not within.conditions
    assert by.deadline_at == date(2026, 3, 31)
    assert after.timing == "after use" and after.deadline_at is None
