"""ODRL 2.2 information model as immutable pydantic models.

IRIs are stored expanded (``http://www.w3.org/ns/odrl/2/read``). Right operands keep their
JSON-LD literal form (value + datatype) so that serialisation is lossless; typed conversion
happens when a policy is validated (usage_policies.validate), whose typed values the
evaluator's plan keeps.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field

from usage_policies.vocab import ODRL

PolicyType = Literal["Set", "Offer", "Agreement", "Request"]
ConflictStrategy = Literal["perm", "prohibit", "invalid"]
LogicalOperand = Literal["or", "xone", "and", "andSequence"]

# Party functions beyond assigner/assignee that duties commonly name (e.g. who to inform).
PARTY_FUNCTIONS = ("informedParty", "compensatedParty", "trackingParty", "attributedParty",
                   "consentingParty", "consentedParty", "informingParty", "trackedParty",
                   "contractingParty", "contractedParty", "attributingParty",
                   "compensatingParty")


class _Model(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class IriValue(_Model):
    """A right operand that is a node reference (``{"@id": ...}``)."""

    id: str


class LiteralValue(_Model):
    """A right operand literal; ``datatype`` is an expanded IRI or None (plain/native)."""

    value: str | int | float | bool
    datatype: str | None = None
    language: str | None = None


Term = IriValue | LiteralValue


class Constraint(_Model):
    """Atomic constraint: leftOperand operator rightOperand (or rightOperandReference)."""

    kind: Literal["constraint"] = "constraint"
    uid: str | None = None
    left_operand: str
    operator: str
    right_operand: tuple[Term, ...] = ()
    right_operand_reference: str | None = None
    data_type: str | None = None
    unit: str | None = None


class LogicalConstraint(_Model):
    kind: Literal["logical"] = "logical"
    uid: str | None = None
    operand: LogicalOperand
    constraints: tuple[AnyConstraint, ...]


AnyConstraint = Annotated[Constraint | LogicalConstraint, Field(discriminator="kind")]


class Action(_Model):
    id: str
    refinement: tuple[AnyConstraint, ...] = ()


class Party(_Model):
    """A party or, with ``collection=True``, a PartyCollection (members by partOf facts)."""

    uid: str | None = None
    collection: bool = False
    refinement: tuple[AnyConstraint, ...] = ()
    part_of: tuple[str, ...] = ()


class Asset(_Model):
    """An asset or, with ``collection=True``, an AssetCollection."""

    uid: str | None = None
    collection: bool = False
    refinement: tuple[AnyConstraint, ...] = ()
    part_of: tuple[str, ...] = ()
    source: str | None = None


class Duty(_Model):
    uid: str | None = None
    action: Action
    target: Asset | None = None
    assigner: Party | None = None
    assignee: Party | None = None
    parties: tuple[tuple[str, Party], ...] = ()  # (function name, party), e.g. informedParty
    constraint: tuple[AnyConstraint, ...] = ()
    consequence: tuple[Duty, ...] = ()


class Permission(_Model):
    uid: str | None = None
    action: Action
    target: Asset | None = None
    assigner: Party | None = None
    assignee: Party | None = None
    constraint: tuple[AnyConstraint, ...] = ()
    duty: tuple[Duty, ...] = ()


class Prohibition(_Model):
    uid: str | None = None
    action: Action
    target: Asset | None = None
    assigner: Party | None = None
    assignee: Party | None = None
    constraint: tuple[AnyConstraint, ...] = ()
    remedy: tuple[Duty, ...] = ()


Rule = Permission | Prohibition | Duty


class Policy(_Model):
    uid: str
    type: PolicyType = "Set"
    profile: tuple[str, ...] = ()
    inherit_from: tuple[str, ...] = ()
    conflict: ConflictStrategy | None = None  # None: not stated (evaluates as "invalid")
    target: Asset | None = None
    assigner: Party | None = None
    assignee: Party | None = None
    timestamp: datetime | None = None
    permission: tuple[Permission, ...] = ()
    prohibition: tuple[Prohibition, ...] = ()
    obligation: tuple[Duty, ...] = ()

    @property
    def conflict_strategy(self) -> ConflictStrategy:
        return self.conflict or "invalid"

    def rules(self) -> list[tuple[str, Rule]]:
        """Every top-level rule with its path (``permission[0]``...)."""
        out: list[tuple[str, Rule]] = []
        for name in ("permission", "prohibition", "obligation"):
            out.extend((f"{name}[{i}]", r) for i, r in enumerate(getattr(self, name)))
        return out


LogicalConstraint.model_rebuild()
Action.model_rebuild()
Party.model_rebuild()
Asset.model_rebuild()
Duty.model_rebuild()
Permission.model_rebuild()
Prohibition.model_rebuild()
Policy.model_rebuild()

ODRL_USE = ODRL + "use"


def iri(value: str) -> IriValue:
    return IriValue(id=value)


def literal(value: str | int | float | bool, datatype: str | None = None) -> LiteralValue:
    return LiteralValue(value=value, datatype=datatype)
