"""ODRL as other evaluators read it (issue 18, items 2 and 3): rules without an action, actions
no rule names, deprecated ODRL 2.1 actions, and left operands no context defines."""

from __future__ import annotations

import json

import pytest

from tests.policies.helpers import ALICE, TARGET, c, decide, policy, req, rule, state
from tests.vectors import UPSTREAM_DSP
from usage_policies import parse_policy
from usage_policies.errors import PolicyError
from usage_policies.serialize import to_dsp

ODRL = "http://www.w3.org/ns/odrl/2/"


def test_a_prohibition_without_an_action_forbids_every_action():
    doc = policy(permission=[rule("use"), rule("transfer")],
                 prohibition=[{"constraint": [c("purpose", "eq", "marketing")]}],
                 **{"odrl:conflict": {"@id": "odrl:prohibit"}})
    for action in ("read", "transfer", "odrl:sell"):
        decision = decide(doc, req(action, purpose="marketing"))
        assert not decision.permitted, action
        assert decision.reason.startswith("$.prohibition[0]") or "prohibition[0]" in \
            decision.reason
        assert decide(doc, req(action, purpose="research")).permitted, action


def test_a_duty_without_an_action_is_owed_for_every_action():
    doc = policy(permission=[rule("use", duty=[{"constraint": [
        c("dateTime", "lteq", {"@value": "2020-01-01T00:00:00Z", "@type": "xsd:dateTime"})]}])])
    for action in ("read", "transfer"):
        decision = decide(policy(permission=[rule(action, duty=doc["permission"][0]["duty"])]),
                          req(action))
        assert not decision.permitted
        assert decision.rules[0].reason.startswith("duty not fulfilled"), action


def test_a_permission_without_an_action_stays_invalid():
    with pytest.raises(PolicyError) as info:
        parse_policy(policy(permission=[{"constraint": [c("purpose", "eq", "research")]}]))
    assert info.value.code == "policy.missing_action"
    assert "$.permission[0].action" in str(info.value)


def test_rules_for_every_action_round_trip_without_an_action():
    doc = policy(permission=[rule("read")], prohibition=[{"constraint": [
        c("purpose", "eq", "marketing")]}])
    parsed = parse_policy(doc)
    written = to_dsp(parsed)
    assert "action" not in written["prohibition"][0]
    assert parse_policy(written) == parsed


def test_an_action_no_rule_names_is_a_plain_deny():
    doc = policy(permission=[rule("read")])
    for action in ("odrl:print", "odrl:lease", "https://example.org/actions/teleport"):
        decision = decide(doc, req(action))
        assert not decision.permitted and not decision.invalid_input and not decision.errors
        assert decision.reason.startswith("no rule covers this action"), action


def test_a_request_document_for_an_unnamed_action_is_not_invalid_input():
    from usage_policies import evaluate, parse_request

    request = parse_request({"@context": policy()["@context"], "@id": "urn:r",
                             "@type": "odrl:Request", "permission": [{
                                 "action": "odrl:lease", "target": TARGET, "assignee": ALICE}]})
    decision = evaluate(parse_policy(policy(permission=[rule("read")])), request, state())
    assert not decision.permitted and not decision.invalid_input
    assert decision.reason == "no rule covers this action (lease)"


@pytest.mark.parametrize("old,new", [("write", "modify"), ("copy", "reproduce"),
                                     ("export", "transform"), ("license", "grantUse"),
                                     ("pay", "compensate"), ("appendTo", "modify")])
def test_deprecated_actions_read_as_their_replacements_with_a_note(old, new):
    requested = decide(policy(permission=[rule(new)]), req(f"odrl:{old}"))
    assert requested.permitted
    assert requested.notes == [f"request.action: odrl:{old} is deprecated since ODRL 2.2 and "
                               f"read as its replacement odrl:{new}"]
    assert requested.to_json()["notes"] == requested.notes
    granted = decide(policy(permission=[rule(old)]), req(new))
    assert granted.permitted
    assert granted.notes == [f"$.permission[0].action: odrl:{old} is deprecated since ODRL 2.2 "
                             f"and read as its replacement odrl:{new}"]
    assert "notes" not in decide(policy(permission=[rule(new)]), req(new)).to_json()


# --- left operands no context defines (the DSP examples' partner, constraint1) ---------------

def _agreement() -> dict:
    message = json.loads((UPSTREAM_DSP / "examples/negotiation/contract-agreement-message-full"
                          ".json").read_text(encoding="utf-8"))
    del message["agreement"]["profile"]  # https://test.com/profile: unknown, so refused
    return parse_policy(message)  # the agreement embedded in the message


def test_unknown_left_operands_are_kept_and_deny_with_the_reason():
    agreement = _agreement()
    assert agreement.permission[3].constraint[0].left_operand == "partner"
    from usage_policies import evaluate
    from usage_policies.request import EvaluationRequest

    request = EvaluationRequest(action=ODRL + "use", target=agreement.target.uid,
                                assignee=agreement.assignee.uid)
    # permission[0] (dateTime lteq 2023-12-31) no longer holds; every other depends on partner
    decision = evaluate(agreement, request, state(currentTime="2025-01-01T00:00:00Z"))
    assert not decision.permitted
    assert "unknown left operand 'partner'" in decision.reason
    assert decision.reason.startswith("no permission allows this use (default deny): "
                                      "$.permission[1] depends on")
    unknown = decision.rules[3].constraints[0]
    assert unknown.satisfied is None and "no context defines it" in unknown.reason


def test_an_or_with_a_satisfied_branch_does_not_depend_on_the_unknown_operand():
    doc = policy(permission=[rule("use", {"or": [c("purpose", "eq", "research"),
                                                 {"leftOperand": "partner", "operator": "eq",
                                                  "rightOperand": "gold"}]})])
    assert decide(doc, req("read", purpose="research")).permitted


def test_a_prohibition_on_an_unknown_operand_stays_in_force():
    doc = policy(permission=[rule("use")], prohibition=[rule("print", {
        "leftOperand": "partner", "operator": "eq", "rightOperand": "gold"})],
        **{"odrl:conflict": {"@id": "odrl:prohibit"}})
    decision = decide(doc, req("print"))
    assert not decision.permitted


def test_an_unknown_absolute_left_operand_is_still_an_error():
    with pytest.raises(PolicyError) as info:
        parse_policy(policy(permission=[rule("use", c("https://example.org/colour", "eq",
                                                      "red"))]))
    assert info.value.code == "policy.unknown_left_operand"


def test_a_rule_for_every_action_is_explained_in_both_languages():
    from usage_policies.explain import explain

    parsed = parse_policy(policy(permission=[rule("read")], prohibition=[{"constraint": [
        c("purpose", "eq", "marketing")]}]))
    assert any("No one may do anything with the data" in s for s in explain(parsed, lang="en"))
    assert any("このデータのあらゆる利用は禁止" in s for s in explain(parsed, lang="ja"))


def test_covers_reads_deprecated_actions_and_rules_for_every_action():
    from usage_policies import actions

    assert actions.covers(ODRL + "modify", ODRL + "write")
    assert actions.covers(ODRL + "write", ODRL + "modify")
    assert actions.covers(actions.ANY_ACTION, ODRL + "transfer")
    assert not actions.covers(ODRL + "use", ODRL + "lease")  # unknown: nothing but itself
