"""Usage decisions for reads of received data: who reads, for what, under which agreement.

Pure: no store, no clock, no I/O. The gate (``connector.control.gate``) gathers the inputs
(the agreement, this connector's credential claims, its world facts, the moment) and asks
``decide``; the answer is a ``Permit`` (with the fields the reader may see) or a ``Denial``
naming the rule or constraint that failed, and nothing is released without a ``Permit``.

What a decision weighs, as attributes of the ODRL request the agreement's policy is evaluated
against:

* the action (``use`` by default, ``read``...) and the purpose the reader declares: an app
  must declare one with every read; none is a denial before anything is evaluated;
* this participant's credential claims (``tsunagu:role``, ``tsunagu:legalId``): the agreement
  binds the participant;
* the reader's own role inside the participant (``tsunagu:readerRole``: the role an app token
  was issued with, a domain's own name for its readers): absent when none was given, so a
  constraint on it fails closed;
* world facts (the disaster phase ...), the agreement time, time itself;
* per field, for field-level policies: a policy whose ``use``/``read`` permissions constrain
  ``tsunagu:field`` is evaluated once per top-level field of the records read, and only the
  fields it permits are released (the medical part of a record, the clinical part of a pmh
  record, stays with readers whose agreement grants it).

Subject scoping is a property of the reader, not of the agreement: an app token issued for
the parties it is linked to (a family app and the family's children) sees only records about
them (``Reader.subjects``); the gate filters on the subjects domain plug-ins name for each
record type.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from connector.errors import ConnectorCode
from connector.protocol import agreements
from usage_policies.model import Constraint, LogicalConstraint, Policy
from usage_policies.operands import attribute_resolver, find_left_operand, register_left_operand
from usage_policies.vocab import ODRL, TSUNAGU

FIELD = TSUNAGU + "field"
READER_ROLE = TSUNAGU + "readerRole"
# Record fields every reader of a record gets: what identifies and versions it. The rest is
# content, which a field-level policy may withhold.
STRUCTURAL = frozenset({"@context", "id", "type", "version", "modified", "deleted",
                        "wasAttributedTo", "wasDerivedFrom"})
_READ_ACTIONS = frozenset({ODRL + "use", ODRL + "read", ODRL + "display", ODRL + "reproduce"})
_TIME_OPERANDS = frozenset({ODRL + "dateTime", ODRL + "elapsedTime", ODRL + "delayPeriod",
                            ODRL + "timeInterval"})

if find_left_operand(READER_ROLE) is None:
    register_left_operand(READER_ROLE, attribute_resolver(READER_ROLE), None,
                          label_en="the role of the app or staff member reading",
                          label_ja="閲覧する利用者の役割")
if find_left_operand(FIELD) is None:
    register_left_operand(FIELD, attribute_resolver(FIELD), None,
                          label_en="the record field", label_ja="項目")


@dataclass(frozen=True)
class Reader:
    """Who asks to read: an app (by its token), a person (by their staff account), a domain
    plug-in, or the connector itself."""

    kind: str  # app | staff | domain | connector
    name: str  # token id, staff account id, plug-in name, service name
    role: str | None = None
    subjects: frozenset[str] | None = None  # None: not limited to some parties
    person: str | None = None  # a staff member's display name: audit lines name them

    @property
    def label(self) -> str:
        return f"{self.kind}:{self.name}"

    @classmethod
    def app(cls, token_id: str, *, role: str | None = None,
            subjects: Iterable[str] | None = None) -> Reader:
        return cls("app", token_id, role, None if subjects is None else frozenset(subjects))

    @classmethod
    def staff(cls, account_id: str, name: str, *, role: str | None = None) -> Reader:
        """A person logged in with a staff account (connector.api.staff)."""
        return cls("staff", account_id, role, None, name)

    @classmethod
    def domain(cls, name: str, *, role: str | None = None) -> Reader:
        return cls("domain", name, role)

    @classmethod
    def connector(cls, service: str) -> Reader:
        return cls("connector", service)


@dataclass(frozen=True)
class Use:
    """What the reader wants to do: an ODRL action and a declared purpose."""

    purpose: str | None
    action: str = "use"


@dataclass(frozen=True)
class Permit:
    agreement_id: str
    fields: frozenset[str] | None = None  # content fields released; None: all of them

    def project(self, record: Mapping[str, Any]) -> tuple[dict[str, Any], list[str]]:
        """(what the reader may see of ``record``, the fields withheld). A record with
        fields withheld loses its proof too: it no longer is what its issuer signed."""
        if self.fields is None:
            return dict(record), []
        kept = {k: v for k, v in record.items()
                if k in STRUCTURAL or k in self.fields}
        withheld = sorted(k for k in record if k not in kept)
        return kept, withheld


@dataclass(frozen=True)
class Denial:
    agreement_id: str | None
    code: ConnectorCode  # USAGE_DENIED, USAGE_PURPOSE_MISSING, USAGE_AGREEMENT_INACTIVE, ...
    rule: str  # the rule, constraint or condition that failed
    reason: str


Decision = Permit | Denial


@dataclass(frozen=True)
class AgreementTerms:
    """What a decision needs of one stored agreement, parsed once (cache it per id)."""

    agreement_id: str
    dataset_id: str
    status: str
    policy: Policy
    agreed_at: datetime
    field_scoped: bool
    time_bound: bool  # a decision may change with the clock alone (dateTime, elapsedTime)

    @classmethod
    def of(cls, agreement: Mapping[str, Any]) -> AgreementTerms:
        document = agreement["document"]["signedAgreement"]
        policy = agreements.parse(document)
        return cls(agreement["id"], agreement["datasetId"], agreement["status"], policy,
                   agreements.agreement_time(document), field_scoped_reads(policy),
                   _names_any(_all_constraints(policy), _TIME_OPERANDS))


def field_scoped_reads(policy: Policy) -> bool:
    """Whether a read permission or prohibition constrains ``tsunagu:field``."""
    rules = [*policy.permission, *policy.prohibition]
    return any(rule.action.id in _READ_ACTIONS and _names_any(rule.constraint, {FIELD})
               for rule in rules)


def _all_constraints(policy: Policy) -> list[Any]:
    rules = [*policy.permission, *policy.prohibition, *policy.obligation]
    duties = [d for r in policy.permission for d in r.duty]
    return [c for r in (*rules, *duties) for c in r.constraint]


def _names_any(constraints: Iterable[Any], operands: Iterable[str]) -> bool:
    wanted = set(operands)
    for c in constraints:
        if isinstance(c, Constraint) and c.left_operand in wanted:
            return True
        if isinstance(c, LogicalConstraint) and _names_any(c.constraints, wanted):
            return True
    return False


def decide(terms: AgreementTerms, reader: Reader, use: Use, claims: agreements.Claims, *,
           now: datetime, facts: Mapping[str, Any], fields: Iterable[str] = ()) -> Decision:
    """May ``reader`` make ``use`` of records held under ``terms`` now? ``fields``: the
    content fields of the records at hand (field-level policies decide each of them)."""
    if terms.status != "active":
        return Denial(terms.agreement_id, ConnectorCode.USAGE_AGREEMENT_INACTIVE, "agreement",
                      f"the agreement is {terms.status}")
    if not use.purpose:
        return Denial(terms.agreement_id, ConnectorCode.USAGE_PURPOSE_MISSING, "purpose",
                      "a read must declare its purpose")
    extra = {READER_ROLE: reader.role} if reader.role else {}
    if not terms.field_scoped:
        return _one(terms, use, claims, now, facts, extra)
    permitted: set[str] = set()
    first: Denial | None = None
    for name in sorted(set(fields) - STRUCTURAL):
        found = _one(terms, use, claims, now, facts, {**extra, FIELD: name})
        if isinstance(found, Permit):
            permitted.add(name)
        elif first is None:
            first = found
    if not permitted and first is not None:
        return first
    if not permitted:  # no content field at hand: decide whether any field could be read
        return _one(terms, use, claims, now, facts, extra)
    return Permit(terms.agreement_id, frozenset(permitted))


def _one(terms: AgreementTerms, use: Use, claims: agreements.Claims, now: datetime,
         facts: Mapping[str, Any], extra: Mapping[str, Any]) -> Decision:
    decision = agreements.decide(terms.policy, claims, action=use.action,
                                 target=terms.dataset_id, now=now, purpose=use.purpose,
                                 agreed_at=terms.agreed_at,
                                 performed=agreements.CONNECTOR_DUTIES, facts=facts,
                                 extra=extra)
    if decision.permitted:
        return Permit(terms.agreement_id)
    where, why = agreements.explain_denial(decision)
    return Denial(terms.agreement_id, ConnectorCode.USAGE_DENIED, where, why)
