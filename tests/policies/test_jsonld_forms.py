"""Every JSON-LD form in, one model out (issue 18, item 1): the same policy compacted with the
DSP context or another one, expanded, flattened (node array and @graph, blank nodes) by pyld,
and written by rdflib from Turtle, parses to the same model and gets the same decisions."""

from __future__ import annotations

import copy
import json

import pytest
from pyld import jsonld as pyld
from rdflib import Graph

from tests.policies.helpers import c, policy, req, rule, state, typed
from trust import jsonld
from trust.jsonld import CORE_CONTEXTS
from usage_policies import evaluate, parse_policies, parse_policy
from usage_policies.errors import PolicyError

ODRL = "http://www.w3.org/ns/odrl/2/"

POLICY = policy(
    uid="urn:test:forms",
    permission=[rule("read", c("purpose", "eq", "research"), duty=[
        {"action": "odrl:delete", "constraint": [
            # rdflib rewrites a dateTime's lexical form to Python's (+00:00 for Z); the model
            # keeps literals as written, so the policy uses that form throughout.
            c("dateTime", "lteq", typed("2030-01-01T00:00:00+00:00", "dateTime"))]}])],
    prohibition=[rule("print", c("purpose", "eq", "marketing"))])

TURTLE = """
@prefix odrl: <http://www.w3.org/ns/odrl/2/> .
@prefix xsd: <http://www.w3.org/2001/XMLSchema#> .
<urn:test:forms> a odrl:Set ;
  odrl:permission [ odrl:action odrl:read ;
    odrl:constraint [ odrl:leftOperand odrl:purpose ; odrl:operator odrl:eq ;
                      odrl:rightOperand "research" ] ;
    odrl:duty [ odrl:action odrl:delete ;
      odrl:constraint [ odrl:leftOperand odrl:dateTime ; odrl:operator odrl:lteq ;
                        odrl:rightOperand "2030-01-01T00:00:00+00:00"^^xsd:dateTime ] ] ] ;
  odrl:prohibition [ odrl:action odrl:print ;
    odrl:constraint [ odrl:leftOperand odrl:purpose ; odrl:operator odrl:eq ;
                      odrl:rightOperand "marketing" ] ] .
"""

REQUESTS = [req("read", purpose="research"), req("read", purpose="marketing"),
            req("print", purpose="marketing"), req("odrl:transfer")]


def _options() -> dict:
    return CORE_CONTEXTS.pyld_options()


def _rdflib(turtle: str) -> list:
    return json.loads(Graph().parse(data=turtle, format="turtle").serialize(format="json-ld"))


def forms() -> dict[str, object]:
    expanded = jsonld.expand(POLICY)
    flat = pyld.flatten(copy.deepcopy(POLICY), None, _options())
    other = {"o": ODRL, "x": "http://www.w3.org/2001/XMLSchema#"}
    return {
        "compact (DSP context)": POLICY,
        "compact (another context)": pyld.compact(copy.deepcopy(expanded), other, _options()),
        "expanded": expanded,
        "flattened node array": flat,
        "flattened @graph, compacted": pyld.flatten(copy.deepcopy(POLICY), other, _options()),
        "rdflib from Turtle": _rdflib(TURTLE),
    }


FORMS = forms()


def test_the_forms_really_differ():
    flat = FORMS["flattened node array"]
    assert isinstance(flat, list) and len(flat) > 1
    assert any(n["@id"].startswith("_:") for n in flat)  # rules are blank nodes
    assert "@graph" in FORMS["flattened @graph, compacted"]
    assert len(FORMS["rdflib from Turtle"]) > 1


@pytest.mark.parametrize("name", list(FORMS))
def test_same_model_and_same_decisions(name):
    reference = parse_policy(POLICY)
    parsed = parse_policy(FORMS[name])
    assert parsed == reference
    world = state()
    for request in REQUESTS:
        expected = evaluate(reference, request, world)
        got = evaluate(parsed, request, world)
        assert (got.permitted, got.reason) == (expected.permitted, expected.reason), request


def test_several_policies_in_one_graph_give_each():
    second = TURTLE.replace("urn:test:forms", "urn:test:second").replace('"research"', '"audit"')
    graph = _rdflib(TURTLE + second)
    policies = sorted(parse_policies(graph), key=lambda p: p.uid)
    assert [p.uid for p in policies] == ["urn:test:forms", "urn:test:second"]
    assert policies[0] == parse_policy(POLICY)
    assert evaluate(policies[1], req("read", purpose="audit"), state()).permitted
    assert not evaluate(policies[1], req("read", purpose="research"), state()).permitted


def _flat() -> list:
    return copy.deepcopy(FORMS["flattened node array"])


def _node(flat: list, predicate) -> dict:
    return next(n for n in flat if predicate(n))


def _refused(flat: list, code: str, ident: str) -> None:
    """Parsing ``flat`` fails with ``code``, naming the @id ``ident``."""
    with pytest.raises(PolicyError) as info:
        parse_policy(flat)
    assert info.value.code == code
    assert repr(ident) in str(info.value)


def test_a_dangling_blank_node_is_refused_naming_it():
    flat = _flat()
    rule_node = _node(flat, lambda n: ODRL + "action" in n and ODRL + "duty" in n)
    flat.remove(rule_node)
    _refused(flat, "jsonld.dangling_reference", rule_node["@id"])


def test_a_blank_node_cycle_is_refused_naming_it():
    flat = _flat()
    duty = _node(flat, lambda n: n.get("@id", "").startswith("_:") and ODRL + "action" in n
                 and n[ODRL + "action"][0]["@id"] == ODRL + "delete")
    constraint_id = duty[ODRL + "constraint"][0]["@id"]
    constraint = _node(flat, lambda n: n["@id"] == constraint_id)
    constraint[ODRL + "and"] = [{"@id": duty["@id"]}]  # the constraint contains its duty
    _refused(flat, "jsonld.reference_cycle", duty["@id"])


def test_two_nodes_claiming_one_id_with_different_content_are_refused():
    flat = _flat()
    rule_node = _node(flat, lambda n: ODRL + "action" in n and ODRL + "duty" in n)
    twin = {**rule_node, ODRL + "action": [{"@id": ODRL + "use"}]}
    flat.append(twin)
    _refused(flat, "jsonld.conflicting_node", rule_node["@id"])
    flat[-1] = copy.deepcopy(rule_node)  # an equal duplicate is the same node
    assert parse_policy(flat) == parse_policy(POLICY)


def test_a_policy_embedded_in_a_dsp_message_is_found():
    from tests.vectors import UPSTREAM_DSP

    message = json.loads((UPSTREAM_DSP / "examples/negotiation/contract-offer-message.json")
                         .read_text(encoding="utf-8"))
    [offer] = parse_policies(message)
    assert offer.uid == message["offer"]["@id"] and offer.type == "Offer"
    assert offer.permission[0].constraint[0].left_operand == ODRL + "dateTime"


def test_a_request_reads_the_same_in_every_form():
    from usage_policies import parse_request

    request = {"@context": POLICY["@context"], "@id": "urn:test:request", "@type": "odrl:Request",
               "permission": [{"assignee": "did:example:alice", "action": "odrl:read",
                               "target": "urn:tsunagu:dataset:evacuees",
                               "constraint": [c("purpose", "eq", "research")]}]}
    expected = parse_request(request)
    for form in (jsonld.expand(request), pyld.flatten(copy.deepcopy(request), None, _options()),
                 pyld.flatten(copy.deepcopy(request), {"o": ODRL}, _options())):
        assert parse_request(form) == expected
    assert evaluate(parse_policy(POLICY), expected, state()).permitted
