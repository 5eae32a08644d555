"""Property tests: restricting a policy never widens what it permits, and NaN / infinities
never yield a permit.

Each monotonicity property (a constraint on a permission, a refinement on its action, a duty)
runs MONOTONE_EXAMPLES (>= 2,000) examples; the whole file stays well under 30 s.
"""

from __future__ import annotations

import json
import math
from datetime import UTC, datetime, timedelta

from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from usage_policies.api import evaluate
from usage_policies.errors import PolicyError
from usage_policies.evaluate import compile_policy
from usage_policies.model import (
    Action,
    Constraint,
    Duty,
    LiteralValue,
    LogicalConstraint,
    Permission,
    Policy,
    Prohibition,
)
from usage_policies.request import EvaluationRequest
from usage_policies.state import DutyStatus, State
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
    duties = {key: DutyStatus(draw(st.booleans()))
              for key in draw(st.lists(st.sampled_from(DUTY_KEYS), max_size=3, unique=True))}
    return request, State(current_time=now, agreement_time=agreed, use_counts=counts,
                          operands=operands, duties=duties)


DUTY_ACTIONS = ["delete", "inform", "compensate", "acceptTracking"]
DUTY_UIDS = [None, "urn:duty:1", "urn:duty:2"]
DUTY_KEYS = ["urn:duty:1", "urn:duty:2", *(ODRL + a for a in DUTY_ACTIONS)]
duty_constraints = st.one_of(
    atomic("elapsedTime", ["lt", "lteq"], st.sampled_from(["P1D", "P10D", "P1M"]).map(
        lambda d: lit(d, "duration"))),
    atomic("dateTime", ["lteq"], st.integers(-3, 3).map(
        lambda d: lit((BASE_TIME + timedelta(days=d)).isoformat(), "dateTime"))),
    st.just(Constraint(left_operand=ODRL + "event", operator=ODRL + "gt",
                       right_operand=(LiteralValue(value=ODRL + "policyUsage",
                                                   datatype=XSD + "anyURI"),))),
    constraints,
)
duties = st.builds(
    lambda a, uid, cs: Duty(uid=uid, action=Action(id=ODRL + a), constraint=tuple(cs)),
    st.sampled_from(DUTY_ACTIONS), st.sampled_from(DUTY_UIDS),
    st.lists(duty_constraints, max_size=1))

MONOTONE_EXAMPLES = 2000
SETTINGS = settings(max_examples=400, deadline=None,
                    suppress_health_check=[HealthCheck.too_slow])
MONOTONE = settings(max_examples=MONOTONE_EXAMPLES, deadline=None,
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much])


@MONOTONE
@given(policies, worlds(), constraints, duties, st.data())
def test_restricting_a_permission_never_turns_deny_into_permit(policy, world, extra, duty,
                                                                data):
    """Three properties on each example, so each runs MONOTONE_EXAMPLES times on a policy
    and world that deny (drawing those dominates the cost, so they are shared): adding a
    constraint to a permission, the same constraint as a refinement of its action, or a duty
    never turns the deny into a permit."""
    request, state = world
    before = compile_policy(policy).evaluate(request, state)
    assume(not before.permitted)  # count only examples where the property says something
    index = data.draw(st.integers(0, len(policy.permission) - 1))
    changes = {
        "constraint": lambda p: p.model_copy(update={"constraint": (*p.constraint, extra)}),
        "action refinement": lambda p: p.model_copy(update={"action": p.action.model_copy(
            update={"refinement": (*p.action.refinement, extra)})}),
        "duty": lambda p: p.model_copy(update={"duty": (*p.duty, duty)}),
    }
    for what, change in changes.items():
        perms = list(policy.permission)
        perms[index] = change(perms[index])
        after = compile_policy(policy.model_copy(update={"permission": tuple(perms)})
                               ).evaluate(request, state)
        assert not after.permitted, f"adding a {what} permitted: {after.reason}"


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


# --- NaN and infinities ------------------------------------------------------------------

NON_FINITE = ["NaN", "INF", "-INF"]
NUMERIC = ["count", "percentage", "payAmount"]
CTX = ["https://w3id.org/dspace/2025/1/context.jsonld",
       "https://w3id.org/dspace/2025/1/odrl-profile.jsonld", "https://w3id.org/tsunagu/v1"]


def _number(draw, bad):
    """A JSON(-LD) number: finite, or NaN/±INF written natively or as a typed literal."""
    if not bad:
        return draw(st.one_of(st.integers(0, 20), st.sampled_from(
            [{"@value": "5", "@type": "xsd:decimal"}, {"@value": "7.5", "@type": "xsd:double"}])))
    text = draw(st.sampled_from(NON_FINITE))
    return draw(st.sampled_from([
        float(text), {"@value": text, "@type": "xsd:double"},
        {"@value": text, "@type": "xsd:float"}, {"@value": text, "@type": "xsd:decimal"},
        {"@value": float(text)}]))


@st.composite
def non_finite_cases(draw):
    """A policy, request and state (JSON documents) where some number is NaN or infinite."""
    where = draw(st.sampled_from(["policy", "state", "request", "prohibition"]))
    left = draw(st.sampled_from(NUMERIC))
    op = draw(st.sampled_from(["eq", "neq", "lt", "lteq", "gt", "gteq", "isAnyOf",
                               "isNoneOf"]))
    right = _number(draw, where == "policy")
    constraint = {"leftOperand": "odrl:" + left, "operator": op, "rightOperand": right}
    if where == "prohibition":  # a prohibition that must stay in force
        constraint["rightOperand"] = _number(draw, False)
        rules = {"permission": [{"action": "use"}],
                 "prohibition": [{"action": "use", "constraint": [constraint]}],
                 "odrl:conflict": {"@id": "odrl:prohibit"}}
    else:
        rules = {"permission": [{"action": "use", "constraint": [constraint]}]}
    policy = {"@context": CTX, "@id": "urn:p", "@type": "Set", **rules}
    value = _number(draw, where in ("state", "prohibition") or
                    (where == "policy" and left == "count"))
    world = {"currentTime": "2025-09-01T10:00:00Z", "useCounts": {TARGET: 1}}
    declared = []
    if where == "request":
        declared = [{"leftOperand": "odrl:" + left, "operator": "eq",
                     "rightOperand": _number(draw, True)}]
    elif left != "count":
        world["operands"] = {left: value}
    else:
        world["operands"] = {"urn:limit": value}  # count's value is computed, so NaN arrives
        policy_rules = policy.get("prohibition", policy["permission"])  # via a reference
        c = policy_rules[0]["constraint"][0]
        c.pop("rightOperand")
        c["odrl:rightOperandReference"] = {"@id": "urn:limit"}
    request = {"@context": CTX, "@id": "urn:r", "@type": "odrl:Request",
               "permission": [{"assignee": "did:example:a", "action": "odrl:read",
                               "target": TARGET, **({"constraint": declared} if declared
                                                     else {})}]}
    # Through a JSON text, as the CLI and the connector receive them.
    return tuple(json.loads(json.dumps(d)) for d in (policy, request, world))


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(non_finite_cases())
def test_nan_and_infinities_never_permit(case):
    policy, request, world = case
    decision = evaluate(policy, request, world)  # never raises
    assert not decision.permitted, decision.reason
    assert decision.errors or decision.invalid_input


@settings(max_examples=250, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(policies, worlds(), st.sampled_from([math.nan, math.inf, -math.inf]),
       st.sampled_from(NUMERIC[1:]), st.sampled_from(SCALAR), st.integers(0, 20))
def test_nan_state_built_in_python_never_permits(policy, world, bad, left, op, bound):
    """A State made in Python skips the document checks; the operators still refuse NaN."""
    request, state = world
    constrained = Constraint(left_operand=ODRL + left, operator=ODRL + op,
                             right_operand=(lit(bound),))
    perms = tuple(p.model_copy(update={"constraint": (*p.constraint, constrained)})
                  for p in policy.permission)
    state = State(current_time=state.current_time, operands={ODRL + left: bad})
    try:
        decision = compile_policy(policy.model_copy(update={"permission": perms})).evaluate(
            request, state)
    except PolicyError as exc:  # pragma: no cover - must not happen
        raise AssertionError(f"evaluate raised {exc}") from None
    assert not decision.permitted, decision.reason
