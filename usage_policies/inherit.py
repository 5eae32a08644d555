"""``inheritFrom``: a child policy carries its parents' rules (ODRL 2.2 §2.7.2).

Decisions: the child's own target/assigner/assignee win at the policy level, the parent's
fill gaps; but each inherited rule keeps the parent's *effective* target, assignee and
assigner (its own, else the parent's policy-level one, written onto the rule), so a parent's
rule on ``urn:ds:public`` never becomes a rule on the child's ``urn:ds:secret``. Profiles are
united; two different explicit conflict strategies make the policy invalid (which would
apply is undefined); a parent that cannot be found or a cycle is an error (fail closed).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

from usage_policies.errors import PolicyCode, PolicySyntaxError
from usage_policies.model import Duty, Permission, Policy, Prohibition

R = TypeVar("R", Permission, Prohibition, Duty)


def _materialise(rules: tuple[R, ...], parent: Policy) -> tuple[R, ...]:
    """The parent's rules with its policy-level target/assignee/assigner made explicit."""
    out = []
    for rule in rules:
        update = {name: getattr(parent, name) for name in ("target", "assignee", "assigner")
                  if getattr(rule, name) is None and getattr(parent, name) is not None}
        out.append(rule.model_copy(update=update) if update else rule)
    return tuple(out)


def resolve_inheritance(policy: Policy, find: Callable[[str], Policy | None],
                        _chain: tuple[str, ...] = ()) -> Policy:
    if not policy.inherit_from:
        return policy
    chain = (*_chain, policy.uid)
    merged = policy
    for parent_uid in policy.inherit_from:
        if parent_uid in chain:
            raise PolicySyntaxError(
                "circular inheritFrom: " + " -> ".join((*chain, parent_uid)),
                path="$.inheritFrom", code=PolicyCode.CIRCULAR_INHERITANCE)
        parent = find(parent_uid)
        if parent is None:
            raise PolicySyntaxError(f"parent policy {parent_uid} is not available",
                                    path="$.inheritFrom", code=PolicyCode.UNKNOWN_PARENT)
        parent = resolve_inheritance(parent, find, chain)
        if merged.conflict and parent.conflict and merged.conflict != parent.conflict:
            raise PolicySyntaxError(
                f"conflict strategy {merged.conflict} differs from parent {parent_uid}'s "
                f"{parent.conflict}", path="$.conflict", code=PolicyCode.INHERITED_CONFLICT)
        merged = merged.model_copy(update={
            "profile": tuple(dict.fromkeys((*merged.profile, *parent.profile))),
            "conflict": merged.conflict or parent.conflict,
            "target": merged.target or parent.target,
            "assigner": merged.assigner or parent.assigner,
            "assignee": merged.assignee or parent.assignee,
            "permission": (*merged.permission, *_materialise(parent.permission, parent)),
            "prohibition": (*merged.prohibition, *_materialise(parent.prohibition, parent)),
            "obligation": (*merged.obligation, *_materialise(parent.obligation, parent)),
        })
    return merged
