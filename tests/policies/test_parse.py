"""Parsing: every JSON-LD serialisation gives the same model; bad input names its path."""

from __future__ import annotations

import copy
import json
from pathlib import Path

import pytest

from usage_policies.api import evaluate
from usage_policies.errors import PolicyError
from usage_policies.parse import parse_policies, parse_policy
from usage_policies.serialize import to_dsp

from .helpers import CTX, c, decide, policy, req, rule, state, typed

DATA = Path(__file__).parent / "data"


def load(name: str):
    return json.loads((DATA / name).read_text(encoding="utf-8"))


def test_compact_expanded_and_other_prefixes_parse_identically():
    compact = parse_policy(load("offer_compact.json"))
    assert parse_policy(load("offer_expanded.json")) == compact
    assert parse_policy(load("offer_prefixes.json")) == compact
    assert compact.type == "Offer" and compact.conflict == "prohibit"
    assert len(compact.permission[0].constraint) == 4
    assert compact.permission[0].duty[1].parties[0][0] == "informedParty"


def test_serialisation_round_trips_and_is_dsp_shaped():
    original = parse_policy(load("offer_compact.json"))
    out = to_dsp(original)
    assert out["@type"] == "Offer" and out["permission"][0]["action"] == "use"
    assert out["permission"][0]["constraint"][0]["operator"] == "isA"
    assert parse_policy(out) == original
    embedded = to_dsp(original, standalone=False)
    assert "@context" not in embedded
    assert parse_policy(embedded, context=CTX) == original


def test_agreement_timestamp_and_parties():
    doc = policy(type_="Agreement", assigner="did:example:a", assignee="did:example:b",
                 target="urn:x", permission=[rule()], **{"dspace:timestamp":
                                                         "2025-01-01T00:00:00Z"})
    p = parse_policy(doc)
    assert p.timestamp.isoformat() == "2025-01-01T00:00:00+00:00"
    assert parse_policy(to_dsp(p)) == p


@pytest.mark.parametrize(("mutate", "code", "path"), [
    (lambda d: d.pop("@id"), "policy.missing_uid", "$.@id"),
    (lambda d: d["permission"][0].pop("action"), "policy.missing_action",
     "$.permission[0].action"),
    (lambda d: d["permission"][0]["constraint"][0].pop("operator"), "policy.missing_operator",
     "$.permission[0].constraint[0].operator"),
    (lambda d: d["permission"][0]["constraint"][0].pop("rightOperand"),
     "policy.missing_rightoperand", "$.permission[0].constraint[0].rightOperand"),
    (lambda d: d["permission"][0]["constraint"][0].update(rightOperand="soon"),
     "policy.datatype", "$.permission[0].constraint[0].rightOperand"),
    (lambda d: d["permission"][0]["constraint"][0].update(rightOperand=typed("12", "integer")),
     "policy.datatype", "$.permission[0].constraint[0].rightOperand"),
    (lambda d: d["permission"][0]["constraint"][0].update(rightOperand=typed("x", "date")),
     "policy.datatype", "$.permission[0].constraint[0].rightOperand"),
    (lambda d: d["permission"][0]["constraint"][0].update(constrain=1), "jsonld.dropped_term",
     "$.permission[0].constraint[0].constrain"),
    (lambda d: d["permission"][0].update(action="reed"), "jsonld.dropped_term",
     "$.permission[0].action"),
    (lambda d: d["permission"][0]["constraint"][0].update(leftOperand="odrl:colour"),
     "policy.unknown_left_operand", "$.permission[0].constraint[0].leftOperand"),
    (lambda d: d["permission"][0]["constraint"][0].update(operator="odrl:near"),
     "policy.unknown_operator", "$.permission[0].constraint[0].operator"),
    (lambda d: d["permission"][0].update(action="odrl:teleport"), "policy.unknown_action",
     "$.permission[0].action"),
    (lambda d: d.update(profile="https://example.org/unknown-profile"),
     "policy.unknown_profile", "$.profile[0]"),
    (lambda d: d["permission"][0]["constraint"][0].update(
        rightOperand={"@value": "x", "@type": "https://example.org/dt"}),
     "policy.unknown_datatype", "$.permission[0].constraint[0].rightOperand"),
    (lambda d: d["permission"][0].update(**{"odrl:remedy": []}), "policy.unsupported_property",
     "$.permission[0].remedy"),
    (lambda d: d["permission"][0]["constraint"][0].update(
        **{"odrl:dataType": {"@id": "xsd:date"}},
        rightOperand=typed("2025-01-01T00:00:00Z", "dateTime")), "policy.datatype",
     "$.permission[0].constraint[0].rightOperand"),
    (lambda d: d.update(**{"odrl:conflict": {"@id": "odrl:whatever"}}),
     "policy.unknown_conflict", "$.conflict"),
    (lambda d: d.update({"@type": "odrl:Ticket"}), "policy.unsupported_type", "$.@type"),
    (lambda d: d["permission"][0].update(action=["use", "odrl:read"]), "policy.invalid",
     "$.permission[0].action"),
    (lambda d: d.update({"@context": "https://example.org/ctx.jsonld"}),
     "jsonld.remote_context", None),
])
def test_invalid_policies_are_rejected_with_path(mutate, code, path):
    doc = policy(permission=[rule("use", c("dateTime", "lt", typed("2026-01-01", "date")))])
    mutate(doc)
    with pytest.raises(PolicyError) as info:
        parse_policy(doc)
    assert info.value.code == code
    if path:
        assert info.value.details.get("path") == path, str(info.value)
    # evaluating the same document is a deny naming the problem, never a permit
    decision = evaluate(doc, req(), state())
    assert not decision.permitted and decision.invalid_input
    assert decision.errors[0]["code"] == code


def test_agreement_requires_parties():
    doc = policy(type_="Agreement", assigner="did:example:a", permission=[rule()])
    with pytest.raises(PolicyError, match="assignee"):
        parse_policy(doc)


def test_inheritance_within_document_and_cycles():
    parent = {"@id": "urn:parent", "@type": "Set",
              "prohibition": [rule("distribute")]}
    child = {"@id": "urn:child", "@type": "Set", "odrl:inheritFrom": {"@id": "urn:parent"},
             "permission": [rule()]}
    graph = {"@context": CTX, "@graph": [parent, child]}
    policies = {p.uid: p for p in parse_policies(graph)}
    assert len(policies["urn:child"].prohibition) == 1
    loop = copy.deepcopy(graph)
    loop["@graph"][0]["odrl:inheritFrom"] = {"@id": "urn:child"}
    with pytest.raises(PolicyError) as info:
        parse_policies(loop)
    assert info.value.code == "policy.circular_inheritance"
    assert "urn:child -> urn:parent -> urn:child" in info.value.message or \
        "urn:parent -> urn:child -> urn:parent" in info.value.message
    self_loop = policy(permission=[rule()], **{"odrl:inheritFrom": {"@id": "urn:test:policy"}})
    with pytest.raises(PolicyError, match="circular"):
        parse_policy(self_loop)


def test_inheritance_from_lookup_and_missing_parent():
    parent = policy(uid="urn:parent", prohibition=[rule("distribute")])
    child = policy(uid="urn:child", permission=[rule()],
                   **{"odrl:inheritFrom": {"@id": "urn:parent"}})
    merged = parse_policy(child, lookup={"urn:parent": parent})
    assert merged.prohibition and merged.permission
    with pytest.raises(PolicyError) as info:
        parse_policy(child)
    assert info.value.code == "policy.unknown_parent"


def test_action_refinement_and_collections_parse():
    doc = policy(permission=[{
        "action": {"@id": "odrl:print", "odrl:refinement": [c("resolution", "lteq", 300)]},
        "target": {"@id": "urn:collection:reports", "@type": "odrl:AssetCollection"},
        "assignee": {"@id": "urn:role:doctors", "@type": "odrl:PartyCollection"},
    }])
    p = parse_policy(doc)
    perm = p.permission[0]
    assert perm.action.refinement and perm.target.collection and perm.assignee.collection
    assert parse_policy(to_dsp(p)) == p


def test_rdf_value_action_form():
    doc = policy(permission=[{"action": {"rdf:value": {"@id": "odrl:print"},
                                         "odrl:refinement": [c("resolution", "lteq", 300)]}}])
    doc["@context"] = [*CTX, {"rdf": "http://www.w3.org/1999/02/22-rdf-syntax-ns#"}]
    assert parse_policy(doc).permission[0].action.id.endswith("/print")


def test_unknown_left_operand_denies_even_inside_or():
    # an "or" with one satisfiable branch must not hide an unknown operand in the other
    doc = policy(permission=[rule("use", {"or": [c("purpose", "eq", "research"),
                                                 c("odrl:colour", "eq", "blue")]})])
    decision = evaluate(doc, req(purpose="research"), state())
    assert not decision.permitted
    assert "colour" in decision.errors[0]["message"]


def test_decide_helper_smoke():
    assert decide(policy(permission=[rule()])).permitted
