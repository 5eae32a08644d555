"""Small hypothesis strategies for hostile outside input (kept small: 2000 examples each)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st

from trust.errors import TsunaguError

FUZZ = settings(max_examples=2000, deadline=None, database=None,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much,
                                       HealthCheck.data_too_large])

KEYWORDS = ["@context", "@id", "@type", "@value", "@list", "@set", "@graph", "@reverse",
            "@base", "@vocab", "@language", "@import", "@nest", "@json", "@protected",
            "@version", "@index", "@container"]
TERMS = ["id", "type", "name", "description", "version", "modified", "proof", "deleted",
         "permission", "prohibition", "obligation", "action", "constraint", "leftOperand",
         "operator", "rightOperand", "target", "assigner", "assignee", "uid", "duty",
         "odrl:purpose", "tsunagu:role", "dct:title", "offer", "consumerPid", "providerPid",
         "callbackAddress", "agreement", "dataAddress", "code", "reason", "state",
         "eventType", "filter", "dataset", "capacitty", "evil", "https://evil.example/#x"]
IRIS = ["urn:uuid:1", "did:key:z6Mk", "https://w3id.org/dspace/2025/1/context.jsonld",
        "https://www.w3.org/ns/credentials/v2", "https://w3id.org/tsunagu/v1",
        "http://127.0.0.1:9/evil.jsonld", "odrl:use", "use", "eq", "lteq", "isAnyOf",
        "Record", "Offer", "Set", "Agreement", "ContractRequestMessage", "Catalog",
        "_:b0", "../x", "", "2030-12-31T00:00:00Z", "municipality", "disaster_response"]

text = st.text(max_size=16)
scalars = (st.none() | st.booleans() | st.integers(-(2**70), 2**70)
           | st.floats(allow_nan=False, allow_infinity=False) | text | st.sampled_from(IRIS))
keys = st.sampled_from(KEYWORDS + TERMS) | st.text(max_size=8)


def json_values(max_leaves: int = 12) -> st.SearchStrategy[Any]:
    return st.recursive(
        scalars,
        lambda inner: st.lists(inner, max_size=4) | st.dictionaries(keys, inner, max_size=5),
        max_leaves=max_leaves)


json_objects = st.dictionaries(keys, json_values(), max_size=6)


@st.composite
def mutated(draw: st.DrawFn, base: Any) -> Any:
    """``base`` (a JSON object) with a few keys replaced, removed or added."""
    doc = dict(base)
    for _ in range(draw(st.integers(1, 3))):
        op = draw(st.sampled_from(["set", "del", "nest"]))
        names = sorted(doc) or ["x"]
        key = draw(st.sampled_from(names) | keys)
        if op == "del":
            doc.pop(key, None)
        elif op == "set":
            doc[key] = draw(json_values(6))
        elif isinstance(doc.get(key), dict):
            doc[key] = draw(mutated(doc[key]))
        elif isinstance(doc.get(key), list) and doc[key] and isinstance(doc[key][0], dict):
            doc[key] = [draw(mutated(doc[key][0])), *doc[key][1:]]
    return doc


@st.composite
def mutated_text(draw: st.DrawFn, base: str) -> str:
    """``base`` with characters flipped, cut, inserted or dot-segments swapped."""
    s = base
    for _ in range(draw(st.integers(1, 4))):
        op = draw(st.sampled_from(["flip", "cut", "insert", "swap", "truncate"]))
        i = draw(st.integers(0, max(len(s) - 1, 0)))
        if op == "flip" and s:
            s = s[:i] + draw(st.characters()) + s[i + 1:]
        elif op == "cut":
            s = s[:i] + s[i + draw(st.integers(1, 8)):]
        elif op == "insert":
            s = s[:i] + draw(st.text(max_size=4)) + s[i:]
        elif op == "swap":
            parts = s.split(".")
            s = ".".join(reversed(parts))
        else:
            s = s[:i]
    return s


def only_typed(call: Callable[[], Any]) -> None:
    """Run ``call``: the project's typed errors are expected answers to hostile input; any
    other exception fails the property."""
    try:
        call()
    except TsunaguError:
        pass
