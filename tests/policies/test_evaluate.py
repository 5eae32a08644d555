"""Evaluation semantics: hierarchy, collections, logic, conflicts, duties, fail-closed."""

from __future__ import annotations

import pytest

from usage_policies.api import evaluate
from usage_policies.evaluate import compile_policy
from usage_policies.operands import (
    MISSING,
    attribute_resolver,
    register_left_operand,
    unregister_left_operand,
)
from usage_policies.parse import parse_policy, parse_request
from usage_policies.vocab import TSUNAGU, XSD

from .helpers import ALICE, CTX, TARGET, c, decide, policy, req, rule, state, typed

# --- action hierarchy ---------------------------------------------------------------------


@pytest.mark.parametrize(("granted", "requested", "permitted"), [
    ("use", "read", True), ("use", "display", True), ("use", "print", True),
    ("use", "textToSpeech", True), ("use", "play", True), ("read", "textToSpeech", True),
    ("display", "play", True), ("read", "print", False), ("read", "use", False),
    ("use", "transfer", False), ("use", "sell", False), ("transfer", "sell", True),
    ("modify", "tsunagu:contribute", True), ("print", "print", True),
])
def test_action_hierarchy(granted, requested, permitted):
    assert decide(policy(permission=[rule(granted)]), req(requested)).permitted is permitted


def test_prohibition_of_broader_action_forbids_narrower():
    doc = policy(permission=[rule("use")], prohibition=[rule("use")],
                 **{"odrl:conflict": {"@id": "odrl:prohibit"}})
    decision = decide(doc, req("print"))
    assert not decision.permitted and "prohibition[0]" in decision.reason


# --- targets and assignees (collections by partOf) ----------------------------------------

def test_target_collection_membership_is_transitive():
    doc = policy(permission=[rule(target={"@id": "urn:coll:all", "@type":
                                          "odrl:AssetCollection"})])
    facts = [{"member": TARGET, "collection": "urn:coll:kobe"},
             {"member": "urn:coll:kobe", "collection": "urn:coll:all"}]
    assert decide(doc, req(), state(partOf=facts)).permitted
    denied = decide(doc, req(), state(partOf=facts[1:]))
    assert not denied.permitted and "not urn:coll:all" in denied.rules[0].reason


def test_policy_level_target_applies_to_rules():
    doc = policy(target="urn:other", permission=[rule()])
    assert not decide(doc).permitted
    assert decide(doc, req(target="urn:other")).permitted


def test_assignee_party_collection():
    doc = policy(permission=[rule(assignee={"@id": "urn:role:relief", "@type":
                                            "odrl:PartyCollection"})])
    member = state(partOf=[{"member": ALICE, "collection": "urn:role:relief"}])
    assert decide(doc, req(), member).permitted
    assert not decide(doc, req(assignee="did:example:mallory"), member).permitted
    assert not decide(doc, req(assignee=None), member).permitted


def test_refinement_on_action():
    doc = policy(permission=[{"action": {"@id": "odrl:print", "odrl:refinement": [
        c("resolution", "lteq", 300)]}}])
    assert decide(doc, req("print", resolution=300)).permitted
    assert not decide(doc, req("print", resolution=600)).permitted
    assert not decide(doc, req("print")).permitted  # unknown resolution


# --- logical constraints ------------------------------------------------------------------

P1, P2 = c("purpose", "eq", "research"), c("language", "eq", "ja")


@pytest.mark.parametrize(("operand", "attrs", "permitted"), [
    ("or", {"purpose": "research"}, True), ("or", {"language": "ja", "purpose": "x"}, True),
    ("or", {"purpose": "x", "language": "en"}, False),
    ("xone", {"purpose": "research", "language": "en"}, True),
    ("xone", {"purpose": "research", "language": "ja"}, False),
    ("xone", {"purpose": "x", "language": "en"}, False),
    ("and", {"purpose": "research", "language": "ja"}, True),
    ("and", {"purpose": "research", "language": "en"}, False),
    ("andSequence", {"purpose": "research", "language": "ja"}, True),
    ("andSequence", {"purpose": "x", "language": "ja"}, False),
])
def test_logical_constraints(operand, attrs, permitted):
    doc = policy(permission=[rule("use", {operand: [P1, P2]})])
    assert decide(doc, req(**attrs)).permitted is permitted


def test_and_sequence_stops_at_first_failure():
    doc = policy(permission=[rule("use", {"andSequence": [P1, P2]})])
    result = decide(doc, req(purpose="x", language="ja")).rules[0].constraints[0]
    assert [r.satisfied for r in result.children] == [False, None]
    assert "not evaluated" in result.children[1].reason


def test_or_with_missing_value_is_undecided_not_false():
    doc = policy(permission=[rule("use", {"or": [P1, P2]})])
    result = decide(doc, req(purpose="x")).rules[0].constraints[0]
    assert result.satisfied is None


def test_nested_logical_constraints():
    doc = policy(permission=[rule("use", {"and": [{"or": [P1, c("purpose", "eq", "statistics")]},
                                                  {"xone": [P2]}]})])
    assert decide(doc, req(purpose="statistics", language="ja")).permitted
    assert not decide(doc, req(purpose="statistics", language="en")).permitted


# --- conflict strategies ------------------------------------------------------------------

@pytest.mark.parametrize(("strategy", "permitted", "error"), [
    ("perm", True, False), ("prohibit", False, False), ("invalid", False, True),
    (None, False, True),
])
def test_conflict_strategies(strategy, permitted, error):
    extra = {"odrl:conflict": {"@id": f"odrl:{strategy}"}} if strategy else {}
    doc = policy(permission=[rule("use")], prohibition=[rule("print")], **extra)
    decision = decide(doc, req("print"))
    assert decision.permitted is permitted
    assert bool(decision.errors) is error
    if error:
        assert decision.errors[0]["code"] == "policy.conflict"
    # no overlap, no conflict
    assert decide(doc, req("read")).permitted


# --- duties and remedies ------------------------------------------------------------------

def _duty_policy(*duty_constraints, uid="urn:duty:1", action="odrl:compensate"):
    duty = {"@id": uid, "action": action} if uid else {"action": action}
    if duty_constraints:
        duty["constraint"] = list(duty_constraints)
    return policy(permission=[rule("use", duty=[duty])])


def test_precondition_duty():
    doc = _duty_policy()
    decision = decide(doc)
    assert not decision.permitted and "compensate (unfulfilled)" in decision.rules[0].reason
    paid = state(duties={"urn:duty:1": {"fulfilled": True}})
    assert decide(doc, req(), paid).permitted
    by_action = state(duties={"odrl:compensate": {"fulfilled": True}})
    assert decide(_duty_policy(uid=None), req(), by_action).permitted  # keyed by action


def test_duty_with_deadline_owed_then_violated_with_consequence():
    doc = policy(permission=[rule("use", duty=[{
        "@id": "urn:duty:delete", "action": "odrl:delete",
        "constraint": [c("elapsedTime", "lteq", typed("P30D", "duration"))],
        "odrl:consequence": [{"action": "odrl:inform",
                              "odrl:informedParty": {"@id": "did:example:kobe"}}]}])])
    early = decide(doc, req(), state(agreementTime="2025-08-20T00:00:00Z"))
    assert early.permitted
    assert early.duties[0].status == "owed"
    assert early.duties[0].deadline.isoformat() == "2025-09-19T00:00:00+00:00"
    late = decide(doc, req(), state(agreementTime="2025-07-01T00:00:00Z"))
    assert not late.permitted
    duty = late.rules[0].duties[0]
    assert duty.status == "violated" and duty.consequences[0].status == "unfulfilled"
    done = decide(doc, req(), state(agreementTime="2025-07-01T00:00:00Z",
                                    duties={"urn:duty:delete": {"fulfilled": True}}))
    assert done.permitted
    unknown = decide(doc, req(), state())  # no agreement time: deadline unknown
    assert not unknown.permitted


def test_duty_with_absolute_deadline_and_agreement_timestamp():
    doc = policy(type_="Agreement", assigner="did:example:kobe", assignee=ALICE,
                 **{"dspace:timestamp": "2025-08-31T00:00:00Z"},
                 permission=[rule("use", c("elapsedTime", "lteq", typed("P7D", "duration")),
                                  duty=[{"action": "odrl:delete", "constraint": [
                                      c("dateTime", "lteq", typed("2025-12-31", "date"))]}])])
    decision = decide(doc)
    assert decision.permitted
    assert decision.duties[0].deadline.isoformat() == "2025-12-31T15:00:00+00:00"
    assert not decide(doc, req(), state(currentTime="2025-09-08T00:00:01Z")).permitted


def test_after_use_duty_is_owed_each_use():
    doc = _duty_policy(c("event", "gt", {"@id": "odrl:policyUsage"}), action="odrl:inform")
    decision = decide(doc)
    assert decision.permitted and decision.duties[0].timing == "after use"


def test_duty_condition_not_holding_makes_it_not_applicable():
    doc = _duty_policy(c("purpose", "eq", "commercial"))
    decision = decide(doc, req(purpose="research"))
    assert decision.permitted
    assert decision.rules[0].duties[0].status == "not_applicable"


def test_prohibition_remedies_reported():
    doc = policy(permission=[rule("read")], prohibition=[rule("distribute", **{
        "odrl:remedy": [{"action": "odrl:delete"}]})])
    decision = decide(doc, req("distribute"))
    assert not decision.permitted
    prohibition = decision.rules[1]
    assert prohibition.active and prohibition.duties[0].status == "if_violated"
    assert decision.to_json()["rules"][1]["remedies"][0]["action"] == "delete"


def test_obligations_reported_without_blocking():
    doc = policy(permission=[rule()], obligation=[{"action": "odrl:compensate"}])
    decision = decide(doc)
    assert decision.permitted and decision.obligations[0].status == "unfulfilled"


# --- left operands ------------------------------------------------------------------------

def test_time_window():
    doc = policy(permission=[rule("use", c("dateTime", "gteq", typed("2025-09-01", "date")),
                                  c("dateTime", "lt", typed("2025-10-01T00:00:00+09:00",
                                                            "dateTime")))])
    assert decide(doc).permitted
    assert not decide(doc, req(), state(currentTime="2025-08-31T14:59:59Z")).permitted
    assert not decide(doc, req(), state(currentTime="2025-09-30T15:00:00Z")).permitted


def test_count_fails_closed_without_counts():
    doc = policy(permission=[rule("use", c("count", "lteq", 5))])
    assert decide(doc, req(), state(useCounts={TARGET: 4})).permitted
    assert not decide(doc, req(), state(useCounts={TARGET: 5})).permitted
    missing = decide(doc)
    assert not missing.permitted and "no value for count" in missing.rules[0].constraints[0].reason


def test_purpose_vocabulary_hierarchy_and_forms():
    doc = policy(permission=[rule("use", c("purpose", "isA", "disaster_response"))])
    assert decide(doc, req(purpose="safety_confirmation")).permitted
    assert decide(doc, req(purpose="tsunagu:disaster_response")).permitted
    assert decide(doc, req(purpose=TSUNAGU + "rescue")).permitted
    assert not decide(doc, req(purpose="research")).permitted
    iri = policy(permission=[rule("use", c("purpose", "eq", {"@id": "tsunagu:research"}))])
    assert decide(iri, req(purpose="research")).permitted


def test_recipient_defaults_to_assignee():
    doc = policy(permission=[rule("use", c("recipient", "isAnyOf",
                                           [{"@id": ALICE}, {"@id": "did:example:bob"}]))])
    assert decide(doc).permitted
    assert not decide(doc, req(recipient={"@id": "did:example:eve"})).permitted


@pytest.mark.parametrize(("place", "permitted"), [
    ("282014", True), ("28201", True), ("28", True), ("JP-28", True), ("131016", False),
])
def test_spatial_prefecture_and_municipality_codes(place, permitted):
    doc = policy(permission=[rule("use", c("spatial", "isPartOf", "28"))])
    assert decide(doc, req(), state(operands={"spatial": place})).permitted is permitted


def test_state_facts_take_precedence_over_request_claims():
    doc = policy(permission=[rule("use", c("spatial", "isPartOf", "28"))])
    world = state(operands={"odrl:spatial": "131016"})
    assert not decide(doc, req(spatial="28201"), world).permitted


def test_event_membership():
    doc = policy(permission=[rule("use", c("event", "eq", {"@id": "urn:event:quake-2025"}))])
    assert decide(doc, req(), state(events=["urn:event:quake-2025"])).permitted
    assert not decide(doc, req(), state(events=[])).permitted


@pytest.mark.parametrize("name", ["industry", "language", "deliveryChannel", "systemDevice"])
def test_attribute_operands(name):
    doc = policy(permission=[rule("use", c(name, "eq", "x1"))])
    assert decide(doc, req(**{name: "x1"})).permitted
    assert not decide(doc, req(**{name: "x2"})).permitted
    assert not decide(doc).permitted


def test_disaster_phase():
    doc = policy(permission=[rule("use", c("tsunagu:disasterPhase", "isAnyOf", ["response",
                                                                          "recovery"]))])
    assert decide(doc, req(), state(operands={"tsunagu:disasterPhase": "response"})).permitted
    assert decide(doc, req(), state(operands={"tsunagu:disasterPhase":
                                              {"@id": TSUNAGU + "phase_recovery"}})).permitted
    assert not decide(doc, req(), state(operands={"tsunagu:disasterPhase":
                                                  "mitigation"})).permitted


def test_domain_registered_left_operand():
    iri = TSUNAGU + "shelterOccupancy"
    register_left_operand(iri, attribute_resolver(iri), XSD + "decimal",
                          label_en="shelter occupancy", label_ja="避難所の収容率")
    try:
        doc = policy(permission=[rule("use", c(iri, "lt", 0.9))])
        assert decide(doc, req(), state(operands={iri: 0.5})).permitted
        assert not decide(doc, req(), state(operands={iri: 0.95})).permitted
        with pytest.raises(Exception, match="already registered"):
            register_left_operand(iri, lambda ctx: MISSING, None)
    finally:
        unregister_left_operand(iri)
    assert evaluate(doc, req(), state(operands={})).errors[0]["code"] == \
        "policy.unknown_left_operand"


def test_right_operand_reference_resolved_from_state():
    doc = policy(permission=[rule("use", {"leftOperand": "odrl:purpose", "operator": "isAnyOf",
                                          "odrl:rightOperandReference": {"@id": "urn:list:ok"}})])
    world = state(operands={"urn:list:ok": ["research", "statistics"]})
    assert decide(doc, req(purpose="statistics"), world).permitted
    assert not decide(doc, req(purpose="statistics")).permitted


# --- fail closed --------------------------------------------------------------------------

def test_prohibition_with_undecidable_constraint_stays_in_force():
    doc = policy(permission=[rule()], prohibition=[rule("use", c("purpose", "eq", "commercial"))],
                 **{"odrl:conflict": {"@id": "odrl:prohibit"}})
    assert decide(doc, req(purpose="research")).permitted
    decision = decide(doc)  # purpose unknown: the prohibition may apply
    assert not decision.permitted and "could not be decided" in decision.rules[1].reason


def test_incomparable_state_value_is_an_error():
    doc = policy(permission=[rule("use", c("language", "eq", "ja"))])
    decision = decide(doc, req(), state(operands={"language": 3}))
    assert not decision.permitted
    assert decision.errors[0]["code"] == "policy.incomparable"


def test_unknown_request_action_and_default_deny():
    # A well-formed action no rule names is a plain deny, not invalid input (issue 18).
    doc = policy(permission=[rule("read")])
    unknown = decide(doc, req("odrl:teleport"))
    assert not unknown.permitted and not unknown.errors and not unknown.invalid_input
    assert unknown.reason == "no rule covers this action (teleport)"
    uncovered = decide(policy(prohibition=[rule("print")]), req("read"))
    assert not uncovered.permitted and uncovered.reason.startswith("no rule covers this action")
    covered = decide(policy(permission=[rule("read", c("purpose", "eq", "research"))]),
                     req("read"))
    assert not covered.permitted and "default deny" in covered.reason


def test_invalid_state_and_request_deny():
    doc = policy(permission=[rule()])
    bad_state = evaluate(doc, req(), {"currentTime": "yesterday"})
    assert not bad_state.permitted and bad_state.invalid_input
    bad_request = evaluate(doc, {"@context": CTX, "@id": "urn:r", "@type": "odrl:Request",
                                 "permission": [{"action": "use"}]}, state())
    assert not bad_request.permitted and "target" in bad_request.reason


def test_request_document_attributes():
    r = parse_request({"@context": CTX, "@id": "urn:r", "@type": "odrl:Request",
                       "permission": [{"assignee": ALICE, "action": "odrl:read",
                                       "target": TARGET, "constraint": [
                                           c("purpose", "eq", "research"),
                                           c("purpose", "eq", "statistics")]}]})
    assert len(r.attributes["http://www.w3.org/ns/odrl/2/purpose"]) == 2
    doc = policy(permission=[rule("use", c("purpose", "isAllOf", ["research", "statistics"]))])
    assert evaluate(parse_policy(doc), r, state()).permitted


def test_compiled_plan_is_reused_and_decision_json_is_complete():
    p = parse_policy(policy(permission=[rule("use", c("purpose", "eq", "research"))]))
    plan = compile_policy(p)
    data = plan.evaluate(req(purpose="research"), __import__(
        "usage_policies.state", fromlist=["parse_state"]).parse_state(state())).to_json()
    assert set(data) >= {"decision", "rules", "constraints", "duties", "errors"}
    assert data["constraints"][0]["value"].endswith("research")
