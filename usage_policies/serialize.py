"""Policy model -> the DSP 2025-1 compact JSON shape.

Terms the DSP ODRL profile context defines are written bare (``permission``, ``action``,
``use``, ``eq``...); other ODRL terms as ``odrl:`` compact IRIs (the prefix is defined by both
the DSP context and its ODRL profile), so the output stays valid JSON-LD when embedded in a
DSP message (``standalone=False``: no ``@context``, ``timestamp`` as the agreement message's
scoped term). Standalone documents carry the DSP, ODRL-profile and tsunagu contexts.
"""

from __future__ import annotations

from typing import Any

from usage_policies.actions import ANY_ACTION
from usage_policies.datatypes import to_json
from usage_policies.model import (
    Action,
    AnyConstraint,
    Asset,
    Constraint,
    Duty,
    IriValue,
    LogicalConstraint,
    Party,
    Permission,
    Policy,
    Prohibition,
    Term,
)
from usage_policies.vocab import (
    DSP_CONTEXT,
    ODRL,
    ODRL_CONTEXT,
    TSUNAGU,
    XSD,
)

TSUNAGU_CONTEXT = "https://w3id.org/tsunagu/v1"
STANDALONE_CONTEXT = [DSP_CONTEXT, ODRL_CONTEXT, TSUNAGU_CONTEXT]
_DSP_OPERATORS = {"eq", "gt", "gteq", "lt", "lteq", "neq", "isA", "hasPart", "isPartOf",
                  "isAllOf", "isAnyOf", "isNoneOf"}


class _Writer:
    def __init__(self, standalone: bool) -> None:
        self.standalone = standalone

    def iri(self, value: str) -> str:
        """Compact IRI for node references (@id positions)."""
        if value.startswith(ODRL):
            return "odrl:" + value[len(ODRL):]
        if value.startswith(XSD):
            return "xsd:" + value[len(XSD):]
        if self.standalone and value.startswith(TSUNAGU):
            return "tsunagu:" + value[len(TSUNAGU):]
        return value

    def vocab(self, value: str, bare: set[str] | frozenset[str] = frozenset()) -> str:
        """Value of a vocabulary-typed property (action, operator, leftOperand)."""
        if value.startswith(ODRL) and value[len(ODRL):] in bare:
            return value[len(ODRL):]
        return self.iri(value)

    def term(self, t: Term) -> Any:
        if isinstance(t, IriValue):
            return {"@id": self.iri(t.id)}
        if t.datatype is None and t.language is None:
            return t.value
        out: dict[str, Any] = {"@value": t.value}
        if t.datatype:
            out["@type"] = self.iri(t.datatype)
        if t.language:
            out["@language"] = t.language
        return out

    def constraint(self, c: AnyConstraint) -> dict[str, Any]:
        out: dict[str, Any] = {"@id": c.uid} if c.uid else {}
        if isinstance(c, LogicalConstraint):
            out[c.operand] = [self.constraint(m) for m in c.constraints]
            return out
        assert isinstance(c, Constraint)
        out["leftOperand"] = self.vocab(c.left_operand)
        out["operator"] = self.vocab(c.operator, _DSP_OPERATORS)
        if c.right_operand_reference:
            out["odrl:rightOperandReference"] = {"@id": self.iri(c.right_operand_reference)}
        else:
            values = [self.term(t) for t in c.right_operand]
            out["rightOperand"] = values[0] if len(values) == 1 else values
        if c.data_type:
            out["odrl:dataType"] = {"@id": self.iri(c.data_type)}
        if c.unit:
            out["odrl:unit"] = {"@id": self.iri(c.unit)}
        return out

    def entity(self, e: Party | Asset, kind: str) -> Any:
        if not e.collection and not e.refinement and not e.part_of and not getattr(
                e, "source", None):
            return e.uid
        out: dict[str, Any] = {"@id": e.uid} if e.uid else {}
        if e.collection:
            out["@type"] = f"odrl:{kind}Collection"
        if e.refinement:
            out["odrl:refinement"] = [self.constraint(c) for c in e.refinement]
        if e.part_of:
            out["odrl:partOf"] = [{"@id": p} for p in e.part_of]
        if isinstance(e, Asset) and e.source:
            out["odrl:source"] = {"@id": e.source}
        return out

    def action(self, a: Action) -> Any:
        if not a.refinement:
            return self.vocab(a.id, {"use"})
        return {"@id": self.iri(a.id),
                "odrl:refinement": [self.constraint(c) for c in a.refinement]}

    def rule(self, r: Permission | Prohibition | Duty) -> dict[str, Any]:
        out: dict[str, Any] = {"@id": r.uid} if r.uid else {}
        if r.action.id != ANY_ACTION:  # a prohibition or duty for every action has none
            out["action"] = self.action(r.action)
        if r.target is not None:
            out["target"] = self.entity(r.target, "Asset")
        for name in ("assigner", "assignee"):
            party = getattr(r, name)
            if party is not None:
                out[name] = self.entity(party, "Party")
        if isinstance(r, Duty):
            for function, party in r.parties:
                value = self.entity(party, "Party")
                out[f"odrl:{function}"] = {"@id": value} if isinstance(value, str) else value
        if r.constraint:
            out["constraint"] = [self.constraint(c) for c in r.constraint]
        if isinstance(r, Permission) and r.duty:
            out["duty"] = [self.rule(d) for d in r.duty]
        if isinstance(r, Prohibition) and r.remedy:
            out["odrl:remedy"] = [self.rule(d) for d in r.remedy]
        if isinstance(r, Duty) and r.consequence:
            out["odrl:consequence"] = [self.rule(d) for d in r.consequence]
        return out


def to_dsp(policy: Policy, *, standalone: bool = True) -> dict[str, Any]:
    """The DSP 2025-1 compact JSON-LD of ``policy`` (see module docstring)."""
    w = _Writer(standalone)
    out: dict[str, Any] = {"@context": list(STANDALONE_CONTEXT)} if standalone else {}
    out["@id"] = policy.uid
    out["@type"] = policy.type
    if policy.profile:
        out["profile"] = list(policy.profile)
    if policy.inherit_from:
        out["odrl:inheritFrom"] = [{"@id": p} for p in policy.inherit_from]
    if policy.conflict:
        out["odrl:conflict"] = {"@id": "odrl:" + policy.conflict}
    for name, kind in (("target", "Asset"), ("assigner", "Party"), ("assignee", "Party")):
        value = getattr(policy, name)
        if value is not None:
            out[name] = w.entity(value, kind)
    if policy.timestamp is not None:
        out["dspace:timestamp" if standalone else "timestamp"] = to_json(policy.timestamp)
    for name in ("permission", "prohibition", "obligation"):
        rules = getattr(policy, name)
        if rules:
            out[name] = [w.rule(r) for r in rules]
    return out
