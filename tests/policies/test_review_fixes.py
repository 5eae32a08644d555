"""Regression tests for the review of usage_policies (one section per defect)."""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys
from pathlib import Path

import pytest

from connector.cli.main import main
from trust import jsonld
from trust.keys import KeyPair
from usage_policies import templates as t
from usage_policies.api import evaluate
from usage_policies.datatypes import LOCAL_TZ, parse_datetime
from usage_policies.errors import PolicyError, SignatureError
from usage_policies.evaluate import compile_policy
from usage_policies.model import Asset, Party
from usage_policies.parse import parse_policies, parse_policy, parse_request
from usage_policies.request import EvaluationRequest
from usage_policies.signing import agreement_from_offer, sign_policy, verify_agreement
from usage_policies.state import State, parse_state
from usage_policies.vocab import ODRL

from .helpers import CTX, c, decide, policy, req, rule, state, typed

DATA = Path(__file__).parent / "data"
EURO = "http://dbpedia.org/resource/Euro"
USD = "http://dbpedia.org/resource/United_States_dollar"


def run_cli(capsys, policy_path, request_path, state_path):
    code = main(["policy", "evaluate", "--policy", str(policy_path), "--request",
                 str(request_path), "--state", str(state_path)])
    return code, json.loads(capsys.readouterr().out)


def write(tmp_path, name, data):
    path = tmp_path / name
    path.write_text(json.dumps(data))
    return path


# --- 1. requests in any JSON-LD serialisation ---------------------------------------------

def _request_doc():
    return json.loads((DATA / "request.json").read_text())


def test_parse_request_accepts_expanded_array_and_prefixed_forms():
    compact = parse_request(_request_doc())
    expanded = jsonld.expand(_request_doc())
    assert isinstance(expanded, list)
    assert parse_request(expanded) == compact
    prefixed = {"@context": {"o": ODRL}, "@id": "urn:uuid:request-1", "@type": "o:Request",
                "o:permission": {"o:assignee": {"@id": "did:example:red-cross-hyogo"},
                                 "o:action": {"@id": "o:read"},
                                 "o:target": {"@id": "urn:tsunagu:dataset:shelter-evacuees"},
                                 "o:constraint": {"o:leftOperand": {"@id": "o:purpose"},
                                                  "o:operator": {"@id": "o:eq"},
                                                  "o:rightOperand": "safety_confirmation"}}}
    assert parse_request(prefixed) == compact


def test_cli_evaluates_an_expanded_request(capsys, tmp_path):
    path = write(tmp_path, "request.json", jsonld.expand(_request_doc()))
    code, data = run_cli(capsys, DATA / "offer_compact.json", path, DATA / "state.json")
    assert code == 0 and data["decision"] == "permit", data["reason"]


def test_evaluate_accepts_an_expanded_request():
    doc = json.loads((DATA / "offer_compact.json").read_text())
    world = json.loads((DATA / "state.json").read_text())
    assert evaluate(doc, jsonld.expand(_request_doc()), world).permitted


# --- 2. bad input is a typed deny, never an exception -------------------------------------

def test_impossible_current_time_is_a_state_error():
    with pytest.raises(PolicyError) as info:
        parse_state({"currentTime": "2025-13-45T99:00:00Z"})
    assert "currentTime" in info.value.message
    decision = evaluate(policy(permission=[rule()]), req(),
                        {"currentTime": "2025-13-45T99:00:00Z"})
    assert not decision.permitted and decision.invalid_input


def test_cli_impossible_current_time_exits_2(capsys, tmp_path):
    world = json.loads((DATA / "state.json").read_text())
    world["agreementTime"] = "2025-02-30T10:00:00Z"
    code, data = run_cli(capsys, DATA / "offer_compact.json", DATA / "request.json",
                         write(tmp_path, "state.json", world))
    assert code == 2 and data["decision"] == "deny" and data["errors"]


def test_nan_double_state_operand_against_decimal_is_a_deny():
    doc = policy(permission=[rule("use", c("percentage", "lteq", typed("10", "decimal")))])
    decision = evaluate(doc, req(), state(operands={"percentage": typed("NaN", "double")}))
    assert not decision.permitted and decision.invalid_input
    assert "NaN" in decision.reason
    # A State built in Python bypasses the document checks: the evaluator still denies.
    world = State(current_time=parse_datetime("2025-09-01T10:00:00Z"),
                  operands={ODRL + "percentage": float("nan")})
    decision = compile_policy(parse_policy(doc)).evaluate(req(), world)
    assert not decision.permitted and decision.errors
    assert "NaN" in decision.errors[0]["message"]


def _reference_policy():
    return policy(permission=[rule("use", {"leftOperand": "odrl:count", "operator": "lteq",
                                           "odrl:rightOperandReference": {"@id": "urn:limit"}})])


def test_garbage_right_operand_reference_value_is_a_deny():
    world = state(useCounts={"urn:tsunagu:dataset:evacuees": 1},
                  operands={"urn:limit": "lots"})
    decision = evaluate(_reference_policy(), req(), world)
    assert not decision.permitted and decision.invalid_input
    assert decision.errors[0]["code"] == "policy.datatype"
    assert "urn:limit" in decision.errors[0]["message"]
    ok = state(useCounts={"urn:tsunagu:dataset:evacuees": 1}, operands={"urn:limit": "5"})
    assert evaluate(_reference_policy(), req(), ok).permitted


def test_cli_garbage_reference_value_exits_2(capsys, tmp_path):
    request = {"@context": CTX, "@id": "urn:r", "@type": "odrl:Request",
               "permission": [{"assignee": "did:example:alice", "action": "odrl:read",
                               "target": "urn:ds:1"}]}
    code, data = run_cli(capsys, write(tmp_path, "p.json", _reference_policy()),
                         write(tmp_path, "r.json", request),
                         write(tmp_path, "s.json", state(useCounts={"urn:ds:1": 1},
                                                         operands={"urn:limit": "lots"})))
    assert code == 2 and data["decision"] == "deny" and data["errors"]


@pytest.mark.parametrize("bad", ["garbage", 42, None, ["not", "a", "policy"]])
def test_evaluate_garbage_policy_is_a_deny(bad):
    decision = evaluate(bad, req(), state())
    assert not decision.permitted and decision.invalid_input and decision.errors


@pytest.mark.parametrize("bad", ["garbage", 42, None])
def test_evaluate_garbage_request_and_state_are_denies(bad):
    doc = policy(permission=[rule()])
    for decision in (evaluate(doc, bad, state()), evaluate(doc, req(), bad)):
        assert not decision.permitted and decision.invalid_input and decision.errors


# --- 3. NaN and infinities are invalid values ----------------------------------------------

@pytest.mark.parametrize("value", ["NaN", "INF", "-INF"])
def test_non_finite_right_operand_is_rejected(value):
    doc = policy(permission=[rule("use", c("count", "lteq", typed(value, "double")))])
    with pytest.raises(PolicyError) as info:
        parse_policy(doc)
    assert info.value.code == "policy.datatype" and value in info.value.message
    decision = evaluate(doc, req(), state(useCounts={"urn:tsunagu:dataset:evacuees": 1}))
    assert not decision.permitted and decision.errors


def test_plain_json_nan_in_state_denies():
    text = json.dumps(state(operands={"percentage": float("nan")}))
    assert "NaN" in text
    decision = evaluate(policy(permission=[rule("use", c("percentage", "lteq", 10))]), req(),
                        json.loads(text))
    assert not decision.permitted and decision.invalid_input and "NaN" in decision.reason


@pytest.mark.parametrize("value", ["NaN", "INF"])
def test_request_declaring_non_finite_percentage_denies(value):
    request = {"@context": CTX, "@id": "urn:r", "@type": "odrl:Request",
               "permission": [{"assignee": "did:example:alice", "action": "odrl:read",
                               "target": "urn:tsunagu:dataset:evacuees",
                               "constraint": [c("percentage", "eq", typed(value, "double"))]}]}
    doc = policy(permission=[rule("use", c("percentage", "lteq", 10))])
    decision = evaluate(doc, request, state())
    assert not decision.permitted and decision.invalid_input
    with pytest.raises(PolicyError):
        req(percentage=float(value))


def test_native_nan_in_policy_is_rejected():
    doc = policy(permission=[rule("use", c("count", "lteq", float("nan")))])
    with pytest.raises(PolicyError, match="NaN|nan"):
        parse_policy(json.loads(json.dumps(doc)))


def test_python_nan_values_never_compare_equal():
    from usage_policies.operators import apply

    for op in ("eq", "lteq", "gteq"):
        for left, right in ((math.nan, 1.0), (1.0, math.nan), (math.inf, math.inf)):
            with pytest.raises(PolicyError):
                apply(op, left, right)


# --- 4. an agreement never widens its offer -----------------------------------------------

PROVIDER, CONSUMER, OTHER = KeyPair.generate(), KeyPair.generate(), KeyPair.generate()


def _verify(offer, agreement):
    signed = sign_policy(sign_policy(agreement, PROVIDER), CONSUMER)
    return verify_agreement(signed, sign_policy(offer, PROVIDER))


def _agreement(offer):
    return agreement_from_offer(offer, uid="urn:agreement:1", assignee=CONSUMER.did,
                                timestamp=parse_datetime("2025-09-01T00:00:00Z"))


def test_retargeted_permission_is_a_widening():
    offer = t.offer("urn:offer:1", target="urn:ds:public", assigner=PROVIDER.did)
    agreement = _agreement(offer)
    secret = agreement.model_copy(update={"permission": tuple(
        p.model_copy(update={"target": Asset(uid="urn:ds:SECRET")})
        for p in agreement.permission)})
    # Without the check the evaluator would happily permit use of the secret dataset:
    request = EvaluationRequest.of(action="use", target="urn:ds:SECRET", assignee=CONSUMER.did)
    assert evaluate(secret, request, state()).permitted
    with pytest.raises(SignatureError) as info:
        _verify(offer, secret)
    assert info.value.code == "policy.agreement_widens_offer"
    assert "urn:ds:SECRET" in info.value.message
    _verify(offer, agreement)  # the honest agreement still verifies


def test_offer_to_one_party_cannot_become_an_agreement_with_another():
    offer = t.offer("urn:offer:1", target="urn:ds:1", assigner=PROVIDER.did).model_copy(
        update={"assignee": Party(uid=OTHER.did)})
    with pytest.raises(SignatureError, match=OTHER.did):
        _agreement(offer)
    forged = agreement_from_offer(offer.model_copy(update={"assignee": None}),
                                  uid="urn:agreement:1", assignee=CONSUMER.did,
                                  timestamp=parse_datetime("2025-09-01T00:00:00Z"))
    with pytest.raises(SignatureError) as info:
        _verify(offer, forged)
    assert info.value.code == "policy.agreement_widens_offer" and "assignee" in \
        info.value.message


def test_offer_to_a_role_keeps_the_role_on_the_agreement_rules():
    role = Party(uid="urn:role:relief", collection=True)
    offer = t.no_onward_transfer(t.offer("urn:offer:1", target="urn:ds:1",
                                         assigner=PROVIDER.did)).model_copy(
        update={"assignee": role})
    agreement = _agreement(offer)
    assert all(p.assignee == role for p in agreement.permission)
    _verify(offer, agreement)
    widened = agreement.model_copy(update={"permission": tuple(
        p.model_copy(update={"assignee": None}) for p in agreement.permission)})
    with pytest.raises(SignatureError, match="assignee"):
        _verify(offer, widened)


def test_role_restricted_offer_keeps_prohibitions_binding_on_the_role():
    offer = t.no_onward_transfer(t.restrict_role(
        t.offer("urn:offer:1", target="urn:ds:1", assigner=PROVIDER.did), "urn:role:relief"))
    agreement = _agreement(offer)
    _verify(offer, agreement)
    # A role member other than the consumer may use the data, so may not distribute it:
    member = EvaluationRequest.of(action="distribute", target="urn:ds:1",
                                  assignee="did:example:dave")
    world = state(partOf=[{"member": "did:example:dave", "collection": "urn:role:relief"}])
    assert not evaluate(agreement, member, world).permitted
    consumer_only = agreement.model_copy(update={"prohibition": tuple(
        p for p in agreement.prohibition if p.assignee is None)})
    assert evaluate(consumer_only, member, world).permitted  # what verification must catch
    with pytest.raises(SignatureError, match="prohibition"):
        _verify(offer, consumer_only)


def test_dropped_target_refinement_and_swapped_duty_uid_are_widenings():
    from usage_policies.model import Constraint, LiteralValue

    only_ja = Constraint(left_operand=ODRL + "language", operator=ODRL + "eq",
                         right_operand=(LiteralValue(value="ja"),))
    offer = t.delete_after(t.offer("urn:offer:1", target="urn:ds:1", assigner=PROVIDER.did),
                           within="P30D")
    offer = offer.model_copy(update={"target": Asset(uid="urn:ds:1", refinement=(only_ja,))})
    agreement = _agreement(offer)
    _verify(offer, agreement)
    unrefined = agreement.model_copy(update={"target": Asset(uid="urn:ds:1")})
    with pytest.raises(SignatureError, match="target"):
        _verify(offer, unrefined)
    # A duty renamed to the uid of one the consumer has already fulfilled would be skipped.
    perm = agreement.permission[0]
    renamed = perm.duty[0].model_copy(update={"uid": "urn:duty:already-done"})
    swapped = agreement.model_copy(update={"permission": (
        perm.model_copy(update={"duty": (renamed,)}),)})
    with pytest.raises(SignatureError, match="duty"):
        _verify(offer, swapped)


# --- 5. inheritFrom never moves a parent's rule to another asset ---------------------------

def test_inherited_rule_keeps_the_parent_target():
    parent = {"@id": "urn:parent", "@type": "Set", "target": "urn:ds:public",
              "permission": [rule()]}
    child = {"@id": "urn:child", "@type": "Set", "target": "urn:ds:secret",
             "odrl:inheritFrom": {"@id": "urn:parent"},
             "permission": [rule("use", c("purpose", "eq", "research"))]}
    merged = {p.uid: p for p in parse_policies({"@context": CTX, "@graph": [parent, child]})}
    child_policy = merged["urn:child"]
    on_secret = evaluate(child_policy, req("read", target="urn:ds:secret"), state())
    assert not on_secret.permitted
    assert evaluate(child_policy, req("read", target="urn:ds:secret", purpose="research"),
                    state()).permitted
    assert evaluate(child_policy, req("read", target="urn:ds:public"), state()).permitted
    inherited = child_policy.permission[1]
    assert inherited.target.uid == "urn:ds:public"


def test_inherited_rule_keeps_the_parent_assignee():
    parent = policy(uid="urn:parent", permission=[rule()], target="urn:ds:1",
                    assignee="did:example:bob")
    child = policy(uid="urn:child", permission=[rule("print")], target="urn:ds:1",
                   assignee="did:example:carol",
                   **{"odrl:inheritFrom": {"@id": "urn:parent"}})
    merged = parse_policy(child, lookup={"urn:parent": parent})
    assert not evaluate(merged, req("read", target="urn:ds:1", assignee="did:example:carol"),
                        state()).permitted
    assert evaluate(merged, req("read", target="urn:ds:1", assignee="did:example:bob"),
                    state()).permitted


# --- 6. odrl:unit is enforced --------------------------------------------------------------

def _pay_policy():
    return policy(permission=[rule("use", c("payAmount", "lteq", typed("100", "decimal"),
                                            **{"odrl:unit": {"@id": EURO}}))])


def test_unit_mismatch_is_an_error_naming_the_units():
    unitless = decide(_pay_policy(), req(), state(operands={"payAmount": 50}))
    assert not unitless.permitted
    assert unitless.errors[0]["code"] == "policy.unit_mismatch"
    assert "Euro" in unitless.errors[0]["message"]
    dollars = decide(_pay_policy(), req(), state(operands={
        "payAmount": {"@value": "50", "@type": "xsd:decimal", "unit": USD}}))
    assert not dollars.permitted and "United_States_dollar" in dollars.reason
    result = dollars.to_json()["constraints"][0]
    assert result["unit"] == EURO and result["satisfied"] is None


def test_equal_units_compare_normally():
    euros = decide(_pay_policy(), req(), state(operands={
        "payAmount": {"@value": 50, "unit": EURO}}))
    assert euros.permitted, euros.reason
    result = euros.to_json()["constraints"][0]
    assert result["unit"] == EURO and result["value"] == {"@value": 50, "unit": EURO}
    too_much = decide(_pay_policy(), req(), state(operands={
        "payAmount": {"@value": "150", "@type": "xsd:decimal", "unit": EURO}}))
    assert not too_much.permitted and not too_much.errors


def test_request_declares_a_unit():
    def request(unit):
        constraint = c("payAmount", "eq", typed("50", "decimal"),
                       **({"odrl:unit": {"@id": unit}} if unit else {}))
        return {"@context": CTX, "@id": "urn:r", "@type": "odrl:Request",
                "permission": [{"assignee": "did:example:alice", "action": "odrl:read",
                                "target": "urn:tsunagu:dataset:evacuees",
                                "constraint": [constraint]}]}
    assert evaluate(_pay_policy(), request(EURO), state()).permitted
    assert not evaluate(_pay_policy(), request(None), state()).permitted
    assert not evaluate(_pay_policy(), request(USD), state()).permitted


# --- 7. no system time-zone database needed ------------------------------------------------

def test_import_and_cli_work_without_a_tz_database(tmp_path):
    env = {**os.environ, "PYTHONTZPATH": str(tmp_path / "nonexistent")}
    code = ("import usage_policies.cli, connector.cli\n"
            "from usage_policies.datatypes import parse_datetime\n"
            "print(parse_datetime('2025-09-01T09:00:00').isoformat())\n")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                            env=env, check=False)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "2025-09-01T00:00:00+00:00"
    cli = Path(sys.executable).parent / "tsunagu"
    result = subprocess.run([str(cli), "policy", "validate", str(DATA / "offer_compact.json")],
                            capture_output=True, text=True, env=env, check=False)
    assert result.returncode == 0, result.stderr


def test_local_time_is_japan_time():
    assert LOCAL_TZ.utcoffset(None).total_seconds() == 9 * 3600
    assert parse_datetime("2025-01-15T09:00:00").hour == 0  # winter
    assert parse_datetime("2025-07-15T09:00:00").hour == 0  # summer: no DST


# --- 9. odrl:system (deprecated in ODRL 2.2) means odrl:systemDevice -----------------------

@pytest.mark.parametrize(("in_policy", "in_state"), [
    ("odrl:system", "systemDevice"), ("odrl:systemDevice", "system"),
    ("odrl:system", "odrl:system"), ("odrl:systemDevice", "odrl:systemDevice"),
])
def test_system_and_system_device_are_one_operand(in_policy, in_state):
    doc = policy(permission=[rule("use", c(in_policy, "eq", "urn:device:tablet"))])
    assert decide(doc, req(), state(operands={in_state: "urn:device:tablet"})).permitted
    assert not decide(doc, req(), state(operands={in_state: "urn:device:phone"})).permitted


def test_request_may_declare_system():
    request = {"@context": CTX, "@id": "urn:r", "@type": "odrl:Request",
               "permission": [{"assignee": "did:example:alice", "action": "odrl:read",
                               "target": "urn:tsunagu:dataset:evacuees",
                               "constraint": [c("odrl:system", "eq", "urn:device:tablet")]}]}
    doc = policy(permission=[rule("use", c("systemDevice", "eq", "urn:device:tablet"))])
    assert evaluate(doc, request, state()).permitted
    assert req(system="urn:device:tablet").attributes == {
        ODRL + "systemDevice": "urn:device:tablet"}
