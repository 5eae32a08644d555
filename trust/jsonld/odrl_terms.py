"""ODRL 2.2 terms written by short name where no context defines them.

The DSP 2025-1 examples write ``"leftOperand": "dateTime"`` and ``"spatial"``: ``leftOperand``,
``operator`` and ``action`` are ``@vocab``-typed in the DSP ODRL profile context, but that
context defines only a few of the values (``use``, ``eq``...) and sets no ``@vocab``, so a
plain JSON-LD processor turns the rest into relative IRIs. The DSP ODRL profile means the
ODRL vocabulary terms, so for these three properties only, a name of the ODRL 2.2 vocabulary
(W3C ``vocab/ODRL22.ttl``: every ``odrl:Action``, ``odrl:LeftOperand`` and ``odrl:Operator``)
is read as ``http://www.w3.org/ns/odrl/2/<name>``.

A left operand that is no ODRL term (the examples' ``partner``, ``constraint1``) is kept as a
relative IRI, an *unknown operand*: the document is still well-formed, and the policy
evaluator denies any decision that depends on it (usage_policies). Everywhere else an
undefined term stays ``jsonld.dropped_term``.
"""

from __future__ import annotations

ODRL = "http://www.w3.org/ns/odrl/2/"

ACTIONS = frozenset((
    "acceptTracking adHocShare aggregate annotate anonymize append appendTo archive "
    "attachPolicy attachSource attribute commercialize compensate concurrentUse copy delete "
    "derive digitize display distribute ensureExclusivity execute export extract extractChar "
    "extractPage extractWord give grantUse include index inform install lease lend license "
    "modify move nextPolicy obtainConsent pay play present preview print read reproduce "
    "reviewPolicy secondaryUse sell share shareAlike stream synchronize textToSpeech transfer "
    "transform translate uninstall use watermark write writeTo").split())
LEFT_OPERANDS = frozenset((
    "absolutePosition absoluteSize absoluteSpatialPosition absoluteTemporalPosition count "
    "dateTime delayPeriod deliveryChannel device elapsedTime event fileFormat industry "
    "language media meteredTime payAmount percentage product purpose recipient "
    "relativePosition relativeSize relativeSpatialPosition relativeTemporalPosition "
    "resolution spatial spatialCoordinates system systemDevice timeInterval unitOfCount "
    "version virtualLocation").split())
OPERATORS = frozenset("eq gt gteq hasPart isA isAllOf isAnyOf isNoneOf isPartOf lt lteq neq"
                      .split())

LEFT_OPERAND = ODRL + "leftOperand"
_TERMS = {ODRL + "action": ACTIONS, LEFT_OPERAND: LEFT_OPERANDS, ODRL + "operator": OPERATORS}

KEEP = "keep"
"""Returned for an unknown left operand: keep the relative IRI, do not raise."""


def resolve(property_iri: str | None, token: str) -> str | None:
    """The IRI ``token`` means as a value of ``property_iri``; :data:`KEEP` for a name to keep
    as an unknown left operand; None when it stays an undefined term (an error)."""
    names = _TERMS.get(property_iri or "")
    if names is None:
        return None
    if token in names:
        return ODRL + token
    if property_iri == LEFT_OPERAND and token.isidentifier():
        return KEEP
    return None
