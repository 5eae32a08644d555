"""Property tests: restricting a policy never widens what it permits."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from usage_policies.evaluate import compile_policy
from usage_policies.model import (
    Action,
    Constraint,
    LiteralValue,
    LogicalConstraint,
    Permission,
    Policy,
    Prohibition,
)
from usage_policies.request import EvaluationRequest
from usage_policies.state import State
from usage_policies.vocab import ODRL, XSD

TARGET = "urn:ds:1"
PURPOSES = ["disaster_response", "rescue", "research", "statistics", "medical_care"]
BASE_TIME = datetime(2025, 9, 1, tzinfo=UTC)


def lit(value, datatype=None):
    return LiteralValue(value=value, datatype=XSD + datatype if datatype else None)


def atomic(left, ops, values):
    return st.builds(
        lambda op, v: Constraint(left_operand=ODRL + left, operator=ODRL + op,
                                 right_operand=tuple(v) if isinstance(v, list) else (v,)),
        st.sampled_from(ops), values)


SCALAR = ["eq", "neq", "lt", "lteq", "gt", "gteq"]
SETS = ["isAnyOf", "isNoneOf", "isAllOf"]

purpose_value = st.sampled_from(PURPOSES).map(lit)
atomics = st.one_of(
    atomic("purpose", ["eq", "neq", "isA"], purpose_value),
    atomic("purpose", SETS, st.lists(purpose_value, min_size=1, max_size=3)),
    atomic("count", SCALAR, st.integers(0, 6).map(lit)),
    atomic("language", ["eq", "neq"], st.sampled_from(["ja", "en"]).map(lit)),
    atomic("spatial", ["eq", "isPartOf", "neq"],
           st.sampled_from(["28", "13", "28201", "13101"]).map(lit)),
    atomic("dateTime", SCALAR, st.integers(-3, 3).map(
        lambda d: lit((BASE_TIME + timedelta(days=d)).isoformat(), "dateTime"))),
    atomic("dateTime", SCALAR, st.integers(-3, 3).map(
        lambda d: lit((BASE_TIME + timedelta(days=d)).date().isoformat(), "date"))),
    atomic("elapsedTime", SCALAR, st.sampled_from(["P1D", "P10D", "PT12H", "P1M"]).map(
        lambda d: lit(d, "duration"))),
)
constraints = st.recursive(
    atomics,
    lambda inner: st.builds(lambda op, cs: LogicalConstraint(operand=op, constraints=tuple(cs)),
                            st.sampled_from(["or", "xone", "and", "andSequence"]),
                            st.lists(inner, min_size=1, max_size=3)),
    max_leaves=4)
actions = st.sampled_from(["use", "read", "print", "display", "distribute"])
permissions = st.builds(lambda a, cs: Permission(action=Action(id=ODRL + a),
                                                 constraint=tuple(cs)),
                        actions, st.lists(constraints, max_size=2))
prohibitions = st.builds(lambda a, cs: Prohibition(action=Action(id=ODRL + a),
                                                   constraint=tuple(cs)),
                         actions, st.lists(constraints, max_size=1))
policies = st.builds(
    lambda perms, prohs, conflict: Policy(uid="urn:p", permission=tuple(perms),
                                          prohibition=tuple(prohs), conflict=conflict),
    st.lists(permissions, min_size=1, max_size=3), st.lists(prohibitions, max_size=2),
    st.sampled_from([None, "perm", "prohibit", "invalid"]))


@st.composite
def worlds(draw):
    attrs = {}
    if draw(st.booleans()):
        attrs["purpose"] = draw(st.sampled_from(PURPOSES))
    if draw(st.booleans()):
        attrs["language"] = draw(st.sampled_from(["ja", "en", "fr"]))
    request = EvaluationRequest.of(action=draw(actions), target=TARGET,
                                   assignee="did:example:a", **attrs)
    operands = {}
    if draw(st.booleans()):
        operands[ODRL + "spatial"] = draw(st.sampled_from(["28", "28201", "13101"]))
    counts = {TARGET: draw(st.integers(0, 6))} if draw(st.booleans()) else {}
    now = BASE_TIME + timedelta(hours=draw(st.integers(-96, 96)))
    agreed = now - timedelta(days=draw(st.integers(0, 40))) if draw(st.booleans()) else None
    return request, State(current_time=now, agreement_time=agreed, use_counts=counts,
                          operands=operands)


SETTINGS = settings(max_examples=400, deadline=None,
                    suppress_health_check=[HealthCheck.too_slow])


@SETTINGS
@given(policies, worlds(), constraints, st.data())
def test_adding_a_constraint_never_turns_deny_into_permit(policy, world, extra, data):
    request, state = world
    before = compile_policy(policy).evaluate(request, state)
    index = data.draw(st.integers(0, len(policy.permission) - 1))
    perms = list(policy.permission)
    perms[index] = perms[index].model_copy(update={"constraint": (*perms[index].constraint,
                                                                  extra)})
    after = compile_policy(policy.model_copy(update={"permission": tuple(perms)})).evaluate(
        request, state)
    if not before.permitted:
        assert not after.permitted


@SETTINGS
@given(policies, worlds(), prohibitions)
def test_adding_a_prohibition_never_turns_deny_into_permit(policy, world, prohibition):
    request, state = world
    before = compile_policy(policy).evaluate(request, state)
    after = compile_policy(policy.model_copy(update={
        "prohibition": (*policy.prohibition, prohibition)})).evaluate(request, state)
    if not before.permitted:
        assert not after.permitted


@SETTINGS
@given(policies, worlds())
def test_permit_implies_no_errors_and_an_active_permission(policy, world):
    decision = compile_policy(policy).evaluate(*world)
    if decision.permitted:
        assert not decision.errors
        assert any(r.active and r.kind == "permission" for r in decision.rules)
    decision.to_json()  # always serialisable
