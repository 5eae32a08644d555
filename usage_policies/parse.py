"""JSON-LD -> policy model. Works on the *expanded* form, so a policy compacted with the DSP
ODRL context, with other prefixes, or written fully expanded parses identically. Requests are
ODRL policies of type Request: ``parse_request`` reads them the same way. ``validate=True``
(the default) checks terms and datatypes with usage_policies.validate, without the evaluator.

Expansion goes through trust.jsonld with the core contexts only (CORE_CONTEXTS: ODRL, DSP and
tsunagu; left operands are IRIs, so a policy needs no domain context); an undefined term is
an error.
Errors name the path in the document (``$.permission[0].constraint[1].operator``). ODRL
properties this parser does not handle are errors too: silently ignoring ``odrl:xyz`` could
drop a restriction. Properties outside the ODRL namespace (titles, proofs...) are ignored.
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Mapping
from typing import Any

from trust import jsonld
from trust.errors import JsonLdError
from usage_policies.actions import ANY_ACTION
from usage_policies.datatypes import parse_datetime
from usage_policies.errors import PolicyCode, PolicyError, PolicySyntaxError, RequestError
from usage_policies.inherit import resolve_inheritance
from usage_policies.model import (
    PARTY_FUNCTIONS,
    Action,
    AnyConstraint,
    Asset,
    Constraint,
    Duty,
    IriValue,
    LiteralValue,
    LogicalConstraint,
    Party,
    Permission,
    Policy,
    Prohibition,
    Term,
)
from usage_policies.request import EvaluationRequest, request_from_policy
from usage_policies.validate import validate_policy
from usage_policies.vocab import DCT, DSPACE, ODRL, RDF, expand_name

POLICY_TYPES = {ODRL + t: t for t in ("Set", "Offer", "Agreement", "Request")} | {
    ODRL + "Policy": "Set"}
UNSUPPORTED_TYPES = {ODRL + t for t in ("Ticket", "Assertion", "Privacy")}
LOGICAL = ("or", "xone", "and", "andSequence")
_LOGICAL_ALIASES = {ODRL + "xor": "xone"}  # older W3C ODRL contexts
TIMESTAMP_PROPS = (DSPACE + "timestamp", ODRL + "timestamp", DCT + "issued")

_RULE_KEYS = {"uid", "action", "target", "assigner", "assignee", "constraint",
              "refinement", "function", "relation", "failure"} | set(PARTY_FUNCTIONS)
_ALLOWED = {
    "policy": {"uid", "profile", "inheritFrom", "conflict", "target", "assigner", "assignee",
               "permission", "prohibition", "obligation", "timestamp", "inheritAllowed"},
    "permission": _RULE_KEYS | {"duty"},
    "prohibition": _RULE_KEYS | {"remedy"},
    "duty": _RULE_KEYS | {"consequence"},
    "constraint": {"uid", "leftOperand", "operator", "rightOperand", "rightOperandReference",
                   "dataType", "datatype", "unit", "status"},
    "logical": {"uid", *LOGICAL, "xor"},
    "action": {"refinement", "includedIn", "implies"},
    "party": {"uid", "partOf", "refinement", "source"},
}

Lookup = Callable[[str], "Policy | Mapping[str, Any] | None"] | Mapping[str, Any] | None


def _step(path: str, name: str, index: int | None = None) -> str:
    return f"{path}.{name}" + (f"[{index}]" if index is not None else "")


def _fail(path: str, message: str, code: PolicyCode = PolicyCode.INVALID
          ) -> PolicySyntaxError:
    return PolicySyntaxError(message, path=path, code=code)


def _values(node: Mapping[str, Any], name: str) -> list[Any]:
    out: list[Any] = []
    for v in node.get(ODRL + name, ()):
        if isinstance(v, dict) and "@list" in v:  # ordered lists (andSequence) unwrap
            out.extend(v["@list"])
        else:
            out.append(v)
    return out


# The code of a required property that is missing, by its name.
_MISSING = {"leftOperand": PolicyCode.MISSING_LEFTOPERAND, "operator": PolicyCode.MISSING_OPERATOR,
            "assigner": PolicyCode.MISSING_ASSIGNER, "assignee": PolicyCode.MISSING_ASSIGNEE}


def _single(node: Mapping[str, Any], name: str, path: str, *, required: bool = False) -> Any:
    values = _values(node, name)
    if len(values) > 1:
        raise _fail(_step(path, name), f"{name} must have one value, found {len(values)}")
    if not values:
        if required:
            raise _fail(_step(path, name), f"{name} is missing", _MISSING[name])
        return None
    return values[0]


def _iri_of(value: Any, path: str, what: str) -> str:
    """An IRI from ``{"@id"}``; a string literal ``"perm"``/``"xsd:date"`` is accepted for
    properties that contexts often leave untyped (conflict, dataType)."""
    if isinstance(value, dict):
        if isinstance(value.get("@id"), str):
            return value["@id"]
        if isinstance(value.get("@value"), str):
            return expand_name(value["@value"])
    raise _fail(path, f"{what} must be an IRI")


def _check_keys(node: Mapping[str, Any], kind: str, path: str) -> None:
    for key in node:
        if key.startswith(ODRL) and key[len(ODRL):] not in _ALLOWED[kind]:
            raise _fail(_step(path, key[len(ODRL):]),
                        f"odrl:{key[len(ODRL):]} is not supported on a {kind}",
                        PolicyCode.UNSUPPORTED_PROPERTY)


def _uid(node: Mapping[str, Any], path: str) -> str | None:
    uid = node.get("@id")
    if uid is None:
        values = _values(node, "uid")
        if values:
            uid = _iri_of(values[0], _step(path, "uid"), "uid")
    if isinstance(uid, str) and uid.startswith("_:"):
        return None  # blank node labels are not identifiers
    return uid


def _types(node: Mapping[str, Any]) -> list[str]:
    return list(node.get("@type", ()))


# --- constraints --------------------------------------------------------------------------

def _term(value: Any, path: str) -> Term:
    if isinstance(value, dict):
        if "@id" in value and len(value) == 1:
            return IriValue(id=value["@id"])
        if "@value" in value:
            raw = value["@value"]
            if isinstance(raw, (dict, list)) or raw is None:
                raise _fail(path, "rightOperand must be a literal or an IRI")
            return LiteralValue(value=raw, datatype=value.get("@type"),
                                language=value.get("@language"))
    raise _fail(path, "rightOperand must be a literal or an IRI (not a nested object)")


def parse_constraint(node: Any, path: str) -> AnyConstraint:
    if not isinstance(node, dict):
        raise _fail(path, "a constraint must be an object")
    operands = [k for k in node if k.startswith(ODRL) and
                (k[len(ODRL):] in LOGICAL or k in _LOGICAL_ALIASES)]
    if operands:
        if len(operands) > 1:
            raise _fail(path, "a logical constraint has exactly one of or, xone, and, "
                        "andSequence")
        _check_keys(node, "logical", path)
        key = operands[0]
        name = _LOGICAL_ALIASES.get(key, key[len(ODRL):])
        members = _values(node, key[len(ODRL):])
        if not members:
            raise _fail(_step(path, name), f"{name} lists no constraints")
        return LogicalConstraint(
            uid=_uid(node, path), operand=name,
            constraints=tuple(parse_constraint(m, _step(path, name, i))
                              for i, m in enumerate(members)))
    _check_keys(node, "constraint", path)
    left = _single(node, "leftOperand", path, required=True)
    op = _single(node, "operator", path, required=True)
    rights = _values(node, "rightOperand")
    reference = _single(node, "rightOperandReference", path)
    if not rights and reference is None:
        raise _fail(_step(path, "rightOperand"), "rightOperand is missing",
                    PolicyCode.MISSING_RIGHTOPERAND)
    if rights and reference is not None:
        raise _fail(path, "give rightOperand or rightOperandReference, not both")
    data_type = _single(node, "dataType", path) or _single(node, "datatype", path)
    unit = _single(node, "unit", path)
    return Constraint(
        uid=_uid(node, path),
        left_operand=_iri_of(left, _step(path, "leftOperand"), "leftOperand"),
        operator=_iri_of(op, _step(path, "operator"), "operator"),
        right_operand=tuple(_term(v, _step(path, "rightOperand", i if len(rights) > 1 else None))
                            for i, v in enumerate(rights)),
        right_operand_reference=(_iri_of(reference, _step(path, "rightOperandReference"),
                                         "rightOperandReference") if reference else None),
        data_type=_iri_of(data_type, _step(path, "dataType"), "dataType") if data_type else None,
        unit=_iri_of(unit, _step(path, "unit"), "unit") if unit else None,
    )


def _constraints(node: Mapping[str, Any], name: str, path: str) -> tuple[AnyConstraint, ...]:
    return tuple(parse_constraint(c, _step(path, name, i))
                 for i, c in enumerate(_values(node, name)))


# --- parties, assets, actions -------------------------------------------------------------

def _entity(value: Any, path: str, cls: type[Party] | type[Asset]) -> Party | Asset:
    if not isinstance(value, dict) or "@value" in value:
        raise _fail(path, "must be an IRI or an object with @id")
    _check_keys(value, "party", path)
    collection_type = ODRL + ("PartyCollection" if cls is Party else "AssetCollection")
    refinement = _constraints(value, "refinement", path)
    part_of = tuple(_iri_of(v, _step(path, "partOf", i), "partOf")
                    for i, v in enumerate(_values(value, "partOf")))
    uid = _uid(value, path)
    if uid is None and not refinement:
        raise _fail(path, "a party or asset needs an @id (or a refinement for a collection)")
    fields: dict[str, Any] = {
        "uid": uid, "collection": collection_type in _types(value) or bool(refinement),
        "refinement": refinement, "part_of": part_of}
    if cls is Asset:
        source = _single(value, "source", path)
        fields["source"] = _iri_of(source, _step(path, "source"), "source") if source else None
    return cls(**fields)


def _action(node: Mapping[str, Any], path: str, kind: str = "permission") -> Action:
    values = _values(node, "action")
    if not values and kind in ("prohibition", "duty"):
        return Action(id=ANY_ACTION)  # applies to every action (docs/usage-policies.md)
    if not values:
        raise _fail(_step(path, "action"), "a permission has no action (a permission for "
                    "every action is not accepted: name the action)", PolicyCode.MISSING_ACTION)
    if len(values) > 1:
        raise _fail(_step(path, "action"),
                    f"a rule has exactly one action, found {len(values)}: split the rule")
    value, apath = values[0], _step(path, "action")
    if not isinstance(value, dict):
        raise _fail(apath, "action must be an IRI")
    _check_keys(value, "action", apath)
    ident = value.get("@id")
    if ident is None and RDF + "value" in value:  # {"rdf:value": {"@id": ...}, "refinement"}
        inner = value[RDF + "value"]
        ident = inner[0].get("@id") if inner and isinstance(inner[0], dict) else None
    if not isinstance(ident, str):
        raise _fail(apath, "action must name an action IRI")
    return Action(id=ident, refinement=_constraints(value, "refinement", apath))


def _parties(node: Mapping[str, Any], path: str) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for name in ("assigner", "assignee"):
        value = _single(node, name, path)
        out[name] = _entity(value, _step(path, name), Party) if value else None
    target = _single(node, "target", path)
    out["target"] = _entity(target, _step(path, "target"), Asset) if target else None
    return out


# --- rules --------------------------------------------------------------------------------

def parse_duty(node: Any, path: str) -> Duty:
    if not isinstance(node, dict):
        raise _fail(path, "a duty must be an object")
    _check_keys(node, "duty", path)
    others = []
    for function in PARTY_FUNCTIONS:
        value = _single(node, function, path)
        if value is not None:
            others.append((function, _entity(value, _step(path, function), Party)))
    return Duty(
        uid=_uid(node, path), action=_action(node, path, "duty"), **_parties(node, path),
        parties=tuple(others), constraint=_constraints(node, "constraint", path),
        consequence=tuple(parse_duty(d, _step(path, "consequence", i))
                          for i, d in enumerate(_values(node, "consequence"))))


def _rule(node: Any, kind: str, path: str) -> Permission | Prohibition:
    if not isinstance(node, dict):
        raise _fail(path, f"a {kind} must be an object")
    _check_keys(node, kind, path)
    fields: dict[str, Any] = {
        "uid": _uid(node, path), "action": _action(node, path, kind), **_parties(node, path),
        "constraint": _constraints(node, "constraint", path)}
    if kind == "permission":
        return Permission(**fields, duty=tuple(parse_duty(d, _step(path, "duty", i))
                                               for i, d in enumerate(_values(node, "duty"))))
    return Prohibition(**fields, remedy=tuple(parse_duty(d, _step(path, "remedy", i))
                                              for i, d in enumerate(_values(node, "remedy"))))


# --- policies -----------------------------------------------------------------------------

def parse_expanded_policy(node: Mapping[str, Any], path: str = "$") -> Policy:
    """One expanded JSON-LD node -> Policy (no inheritance resolution)."""
    if not isinstance(node, dict):
        raise _fail(path, "a policy must be a JSON object")
    uid = _uid(node, path)
    if not uid:
        raise _fail(_step(path, "@id"), "policy has no uid (@id)", PolicyCode.MISSING_UID)
    types = _types(node)
    kinds = [POLICY_TYPES[t] for t in types if t in POLICY_TYPES]
    if any(t in UNSUPPORTED_TYPES for t in types):
        raise _fail(_step(path, "@type"), f"policy type {types} is not supported "
                    "(Set, Offer, Agreement, Request)", PolicyCode.UNSUPPORTED_TYPE)
    if len(set(kinds)) != 1:
        raise _fail(_step(path, "@type"), "policy @type must be one of Set, Offer, Agreement, "
                    "Request", PolicyCode.INVALID_TYPE)
    _check_keys(node, "policy", path)
    conflict_value = _single(node, "conflict", path)
    conflict = None
    if conflict_value is not None:
        conflict_iri = _iri_of(conflict_value, _step(path, "conflict"), "conflict")
        conflict = {ODRL + c: c for c in ("perm", "prohibit", "invalid")}.get(
            conflict_iri if conflict_iri.startswith(ODRL) else ODRL + conflict_iri)
        if conflict is None:
            raise _fail(_step(path, "conflict"), f"unknown conflict strategy {conflict_iri}",
                        PolicyCode.UNKNOWN_CONFLICT)
    timestamp = None
    for prop in TIMESTAMP_PROPS:
        for value in node.get(prop, ()):
            raw = value.get("@value") if isinstance(value, dict) else None
            try:
                timestamp = parse_datetime(raw) if isinstance(raw, str) else None
            except ValueError as exc:
                raise _fail(_step(path, "timestamp"), str(exc)) from None
            if timestamp is None:
                raise _fail(_step(path, "timestamp"), "timestamp must be an xsd:dateTime")
    policy = Policy(
        uid=uid, type=kinds[0],
        profile=tuple(_iri_of(v, _step(path, "profile", i), "profile")
                      for i, v in enumerate(_values(node, "profile"))),
        inherit_from=tuple(_iri_of(v, _step(path, "inheritFrom", i), "inheritFrom")
                           for i, v in enumerate(_values(node, "inheritFrom"))),
        conflict=conflict, timestamp=timestamp, **_parties(node, path),
        permission=tuple(_rule(r, "permission", _step(path, "permission", i))
                         for i, r in enumerate(_values(node, "permission"))),
        prohibition=tuple(_rule(r, "prohibition", _step(path, "prohibition", i))
                          for i, r in enumerate(_values(node, "prohibition"))),
        obligation=tuple(parse_duty(d, _step(path, "obligation", i))
                         for i, d in enumerate(_values(node, "obligation"))),
    )
    if policy.type == "Agreement":
        for name in ("assigner", "assignee"):
            if getattr(policy, name) is None:
                raise _fail(_step(path, name), f"an Agreement must name its {name}",
                            _MISSING[name])
    return policy


def expand_document(document: Any, context: Any = None) -> list[dict[str, Any]]:
    """Expand with the project's JSON-LD processor; ``context`` applies to a document that
    has none (a policy cut out of a DSP message)."""
    if not isinstance(document, dict | list):
        raise PolicySyntaxError("a policy document must be a JSON object (or an expanded "
                                "JSON-LD array)", path="$")
    if context is not None and isinstance(document, dict) and "@context" not in document:
        document = {"@context": copy.deepcopy(context), **document}
    try:
        return jsonld.expand(document)
    except JsonLdError as exc:
        raise PolicySyntaxError(exc.message, code=exc.code, **exc.details) from None


_LINKS = frozenset({ODRL + "inheritFrom"})  # a reference to another policy, never embedded


def _policy_nodes(expanded: list[dict[str, Any]]) -> list[tuple[str, dict[str, Any]]]:
    """The policies of a document in any JSON-LD form: references resolved (``jsonld.embed``:
    flattened node arrays and ``@graph`` with blank nodes), then every top node that is a
    policy, or the policies embedded in one that is not (a DSP message's offer or agreement,
    a catalog's ``hasPolicy``). A top node with neither is returned too, so the parser says
    why it is no policy."""
    try:
        roots = jsonld.embed(expanded, _LINKS)
    except JsonLdError as exc:
        raise PolicySyntaxError(exc.message, code=exc.code, path="$", **exc.details) from None
    nodes: list[tuple[str, dict[str, Any]]] = []
    for i, root in enumerate(roots):
        path = "$" if len(roots) == 1 else f"$[{i}]"
        if _is_policy(root):
            nodes.append((path, root))
            continue
        nested = _nested_policies(root, path)
        nodes.extend(nested or [(path, root)])
    return nodes


def _is_policy(node: Mapping[str, Any]) -> bool:
    return any(t in POLICY_TYPES or t in UNSUPPORTED_TYPES for t in _types(node))


def _nested_policies(root: Mapping[str, Any], path: str) -> list[tuple[str, dict[str, Any]]]:
    """Policy nodes inside ``root`` (not inside other policies), breadth first, with paths
    that name each property by its IRI's last segment (``$.agreement``)."""
    found: list[tuple[str, dict[str, Any]]] = []
    queue: list[tuple[str, Any]] = [(path, root)]
    while queue:
        where, node = queue.pop(0)
        if isinstance(node, list):
            queue.extend((f"{where}[{i}]" if len(node) > 1 else where, v)
                         for i, v in enumerate(node))
        elif isinstance(node, dict) and "@value" not in node:
            if node is not root and _is_policy(node):
                found.append((where, node))
                continue
            for key, value in node.items():
                if not key.startswith("@") or key in ("@graph", "@list"):
                    name = key.rstrip("/#").rsplit("/", 1)[-1].rsplit("#", 1)[-1]
                    queue.append((f"{where}.{name}" if not key.startswith("@") else where,
                                  value))
    return found


def parse_policies(document: Any, *, context: Any = None, lookup: Lookup = None,
                   validate: bool = True) -> list[Policy]:
    """Every policy of a document in any JSON-LD form (compacted with any bundled context,
    expanded, flattened into a node array or ``@graph`` with blank node references, or
    embedded in a DSP message or catalog), with ``inheritFrom`` resolved against the
    document itself and then ``lookup``."""
    nodes = _policy_nodes(expand_document(document, context))
    raw = [parse_expanded_policy(node, path) for path, node in nodes]
    by_uid = {p.uid: p for p in raw}

    def find(uid: str) -> Policy | None:
        if uid in by_uid:
            return by_uid[uid]
        found = lookup.get(uid) if isinstance(lookup, Mapping) else (
            lookup(uid) if lookup else None)
        if found is not None and not isinstance(found, Policy):
            found = parse_policy(found, lookup=lookup, validate=False)
        return found

    policies = [resolve_inheritance(p, find) for p in raw]
    if validate:
        for policy in policies:
            validate_policy(policy)
    return policies


def parse_policy(document: Any, *, context: Any = None, lookup: Lookup = None,
                 validate: bool = True) -> Policy:
    """Parse one policy from any JSON-LD serialisation; raise PolicyError naming the path.

    With ``validate`` (the default) the policy is also validated (usage_policies.validate),
    so unknown actions, left operands, operators, profiles, datatypes and right operands of
    the wrong datatype are rejected here rather than at evaluation.
    """
    policies = parse_policies(document, context=context, lookup=lookup, validate=validate)
    if len(policies) != 1:
        raise PolicySyntaxError(f"expected one policy, found {len(policies)}", path="$")
    return policies[0]


def parse_request(document: Mapping[str, Any] | list[Any], *, context: Any = None
                  ) -> EvaluationRequest:
    """A request from any JSON-LD serialisation, like policies: compacted with the DSP or
    other contexts, or fully expanded (the top-level array ``jsonld.expand`` returns)."""
    if not isinstance(document, Mapping | list):
        raise RequestError("a request is a JSON-LD object (or an expanded JSON-LD array), "
                           f"not {type(document).__name__}", path="$")
    if isinstance(document, Mapping):
        document = dict(document)
    return request_from_policy(parse_policy(document, context=context, validate=False))


def load_policy(source: Policy | Mapping[str, Any]) -> Policy:
    """A Policy as is, or parsed from a JSON-LD mapping."""
    if isinstance(source, Policy):
        return source
    if not isinstance(source, Mapping):
        raise PolicyError("a policy is a Policy or a JSON-LD object", path="$")
    return parse_policy(dict(source))
