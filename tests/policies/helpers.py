"""Builders for compact DSP-shaped test policies."""

from __future__ import annotations

from typing import Any

from usage_policies.api import evaluate
from usage_policies.parse import parse_policy
from usage_policies.request import EvaluationRequest

CTX = [
    "https://w3id.org/dspace/2025/1/context.jsonld",
    "https://w3id.org/dspace/2025/1/odrl-profile.jsonld",
    "https://w3id.org/tsunagu/v1",
]
TARGET = "urn:tsunagu:dataset:evacuees"
ALICE = "did:example:alice"
PROVIDER = "did:example:kobe"
NOW = "2025-09-01T10:00:00Z"


def c(left: str, op: str, right: Any, **extra: Any) -> dict[str, Any]:
    left = left if ":" in left else "odrl:" + left
    return {"leftOperand": left, "operator": op, "rightOperand": right, **extra}


def typed(value: str, datatype: str) -> dict[str, str]:
    return {"@value": value, "@type": datatype if ":" in datatype else "xsd:" + datatype}


def rule(action: str = "use", *constraints: dict[str, Any], **extra: Any) -> dict[str, Any]:
    out: dict[str, Any] = {"action": action if action == "use" or ":" in action
                           else "odrl:" + action, **extra}
    if constraints:
        out["constraint"] = list(constraints)
    return out


def policy(*, permission: list | None = None, prohibition: list | None = None,
           obligation: list | None = None, uid: str = "urn:test:policy",
           type_: str = "Set", **extra: Any) -> dict[str, Any]:
    out: dict[str, Any] = {"@context": CTX, "@id": uid, "@type": type_, **extra}
    for name, rules in (("permission", permission), ("prohibition", prohibition),
                        ("obligation", obligation)):
        if rules:
            out[name] = rules
    return out


def state(**kw: Any) -> dict[str, Any]:
    return {"currentTime": NOW, **kw}


def req(action: str = "read", target: str = TARGET, assignee: str | None = ALICE,
        **attributes: Any) -> EvaluationRequest:
    return EvaluationRequest.of(action=action, target=target, assignee=assignee, **attributes)


def decide(doc: dict[str, Any], request: EvaluationRequest | None = None,
           world: dict[str, Any] | None = None):
    return evaluate(parse_policy(doc), request or req(), world or state())
