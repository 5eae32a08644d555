"""ODRL 2.2 usage policies: model, fail-closed evaluator, signed policies and templates.

Public API (see docs/usage-policies.md):

    parse_policy(doc) -> Policy            any JSON-LD serialisation, validated
    validate_policy(policy)                terms and datatypes (parse_policy runs it)
    to_dsp(policy) -> dict                 DSP 2025-1 compact JSON-LD
    compile_policy(policy).evaluate(request, state) -> Decision
    evaluate(policy, request, state) -> Decision     (accepts JSON documents too)
    EvaluationRequest.of(...), parse_request(doc), parse_state(doc)
    register_left_operand(iri, resolver, datatype, ...), register_action, register_profile
    explain(policy, lang), usage_policies.templates, usage_policies.signing
"""

from usage_policies.actions import register_action
from usage_policies.api import evaluate
from usage_policies.decision import Decision
from usage_policies.errors import PolicyError
from usage_policies.evaluate import CompiledPolicy, compile_policy
from usage_policies.explain import explain
from usage_policies.model import Policy
from usage_policies.operands import MISSING, attribute_resolver, register_left_operand
from usage_policies.parse import parse_policies, parse_policy, parse_request
from usage_policies.profiles import register_profile
from usage_policies.request import EvaluationRequest
from usage_policies.serialize import to_dsp
from usage_policies.state import State, parse_state
from usage_policies.validate import validate_policy

__all__ = [
    "MISSING", "CompiledPolicy", "Decision", "EvaluationRequest", "Policy", "PolicyError",
    "State", "attribute_resolver", "compile_policy", "evaluate", "explain", "parse_policies",
    "parse_policy", "parse_request", "parse_state", "register_action", "register_left_operand",
    "register_profile", "to_dsp", "validate_policy",
]
