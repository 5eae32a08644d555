"""``evaluate(policy, request, state)``: one call from documents or models to a decision.

The module above parsing (parse, state) and evaluation (evaluate), so that neither has to
import the other: policies and requests may be JSON-LD documents, the state a JSON object;
each is parsed here, the policy's plan is compiled once and cached per policy object.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Mapping
from typing import Any

from usage_policies.decision import Decision, denied_for_errors, error_entry
from usage_policies.errors import PolicyError, PolicySyntaxError, StateError
from usage_policies.evaluate import CompiledPolicy, compile_policy
from usage_policies.model import Policy
from usage_policies.parse import parse_policy, parse_request
from usage_policies.request import EvaluationRequest
from usage_policies.state import State, parse_state

_PLANS: OrderedDict[int, tuple[Policy, CompiledPolicy]] = OrderedDict()
_PLAN_CACHE_SIZE = 256


def _plan(policy: Policy) -> CompiledPolicy:
    key = id(policy)
    hit = _PLANS.get(key)
    if hit is not None and hit[0] is policy:  # the stored reference keeps the id unique
        _PLANS.move_to_end(key)
        return hit[1]
    plan = compile_policy(policy)
    _PLANS[key] = (policy, plan)
    if len(_PLANS) > _PLAN_CACHE_SIZE:
        _PLANS.popitem(last=False)
    return plan


def evaluate(policy: Policy | CompiledPolicy | Mapping[str, Any],
             request: EvaluationRequest | Mapping[str, Any],
             state: State | Mapping[str, Any]) -> Decision:
    """Decide ``request`` under ``policy`` in ``state``. Never raises for bad input: an
    invalid policy, request or state is a deny whose ``errors`` say what is wrong."""
    uid = None
    try:
        if isinstance(policy, CompiledPolicy):
            plan = policy
        elif isinstance(policy, Policy):
            plan = _plan(policy)
        elif isinstance(policy, Mapping | list):
            plan = _plan(parse_policy(dict(policy) if isinstance(policy, Mapping) else policy))
        else:
            raise PolicySyntaxError("a policy is a Policy, a CompiledPolicy or a JSON-LD "
                                    f"document, not {type(policy).__name__}", path="$")
        uid = plan.uid
    except PolicyError as exc:
        return denied_for_errors([error_entry(exc, "policy")])
    try:
        if not isinstance(request, EvaluationRequest):
            request = parse_request(request)  # type: ignore[arg-type]
    except PolicyError as exc:
        return denied_for_errors([error_entry(exc, "request")], uid)
    try:
        if not isinstance(state, State):
            if not isinstance(state, Mapping):
                raise StateError("a state is a State or a JSON object, not "
                                 f"{type(state).__name__}", path="state")
            state = parse_state(state)
    except PolicyError as exc:
        return denied_for_errors([error_entry(exc, "state")], uid)
    return plan.evaluate(request, state)


__all__ = ["evaluate"]
