"""The ODRL 2.2 action hierarchy (``includedIn``), extensible by domains.

A rule about action A applies to a request for action B when B is A or B is included in A,
transitively: a permission to ``use`` covers ``read``; a prohibition of ``use`` forbids
``print``. Taken from the ODRL 2.2 vocabulary (Recommendation of 2018-02-15).
"""

from __future__ import annotations

from functools import cache

from usage_policies.errors import PolicyCode, UnknownTermError
from usage_policies.vocab import ODRL, TSUNAGU

_USE_CHILDREN = (
    "acceptTracking aggregate annotate anonymize archive attribute compensate concurrentUse "
    "delete derive digitize display distribute ensureExclusivity execute extract grantUse "
    "include index inform install modify move nextPolicy obtainConsent present print read "
    "reproduce reviewPolicy stream synchronize transform translate uninstall watermark"
).split()

# action IRI -> the IRI it is directly included in (None for the roots use and transfer)
_PARENT: dict[str, str | None] = {ODRL + "use": None, ODRL + "transfer": None}
_PARENT |= {ODRL + a: ODRL + "use" for a in _USE_CHILDREN}
_PARENT |= {ODRL + "play": ODRL + "display", ODRL + "textToSpeech": ODRL + "read",
            ODRL + "give": ODRL + "transfer", ODRL + "sell": ODRL + "transfer"}
# tsunagu: contributing a revision to a record held by another participant (flow 6).
_PARENT[TSUNAGU + "contribute"] = ODRL + "modify"

ANY_ACTION = TSUNAGU + "anyAction"
"""The action of a prohibition or duty written without one: it applies to every action (the
W3C ODRL formal semantics reading). Never a permission's: that would widen access."""

# ODRL 2.1 actions the ODRL 2.2 vocabulary deprecates with an ODRL replacement
# (owl:deprecated + skos:exactMatch in W3C vocab/ODRL22.ttl). Read as the replacement, with a
# note in the decision. The deprecated ones without an ODRL replacement (lease, lend, preview,
# secondaryUse, adHocShare, extractChar/Page/Word, and those matched to cc: terms) stay unknown.
DEPRECATED = {ODRL + old: ODRL + new for old, new in (
    ("append", "modify"), ("appendTo", "modify"), ("write", "modify"), ("writeTo", "modify"),
    ("copy", "reproduce"), ("export", "transform"), ("license", "grantUse"),
    ("pay", "compensate"))}


def current(iri: str) -> str:
    """The ODRL 2.2 action for a deprecated ODRL 2.1 one; any other IRI unchanged."""
    return DEPRECATED.get(iri, iri)


def deprecation_note(iri: str, where: str) -> str | None:
    """The decision note for a deprecated action at ``where``; None for a current one."""
    if iri not in DEPRECATED:
        return None
    old, new = iri[len(ODRL):], DEPRECATED[iri][len(ODRL):]
    return (f"{where}: odrl:{old} is deprecated since ODRL 2.2 and read as its replacement "
            f"odrl:{new}")


def register_action(iri: str, included_in: str | None) -> None:
    """Add a domain action. ``included_in`` must be known (or None for a new root)."""
    if included_in is not None and included_in not in _PARENT:
        raise UnknownTermError(f"unknown parent action {included_in}",
                               code=PolicyCode.UNKNOWN_ACTION)
    _PARENT[iri] = included_in
    ancestors.cache_clear()


def is_known(iri: str) -> bool:
    return iri in _PARENT


@cache
def ancestors(iri: str) -> frozenset[str]:
    """The action and every action it is included in. Raises for an unknown action."""
    if iri not in _PARENT:
        raise UnknownTermError(f"unknown action {iri}", code=PolicyCode.UNKNOWN_ACTION,
                               action=iri)
    out = {iri}
    parent = _PARENT[iri]
    while parent is not None and parent not in out:
        out.add(parent)
        parent = _PARENT[parent]
    return frozenset(out)


def covering(requested: str) -> frozenset[str]:
    """The actions whose rules apply to a request for ``requested``: its ancestors, or only
    itself for an action this evaluator does not know (which no rule names, so a policy
    answers "no rule covers this action" instead of failing)."""
    return ancestors(requested) if requested in _PARENT else frozenset((requested,))


def covers(rule_action: str, requested: str) -> bool:
    """True when a rule about ``rule_action`` applies to a request for ``requested``
    (deprecated ODRL 2.1 actions read as their replacements; a rule for every action covers
    any)."""
    rule_action = current(rule_action)
    return rule_action == ANY_ACTION or rule_action in covering(current(requested))


def known_actions() -> list[str]:
    return sorted(_PARENT)
