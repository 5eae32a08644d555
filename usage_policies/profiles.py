"""ODRL profiles this evaluator understands. ODRL 2.2 §2.1: a processor that does not
understand a policy's profile must not process the policy, so unknown profiles deny."""

from __future__ import annotations

from usage_policies.vocab import TSUNAGU_PROFILE

_KNOWN: set[str] = {TSUNAGU_PROFILE}


def register_profile(iri: str) -> None:
    """Declare that the terms of profile ``iri`` are registered (actions, left operands)."""
    _KNOWN.add(iri)


def is_known_profile(iri: str) -> bool:
    return iri in _KNOWN
