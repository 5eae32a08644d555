"""The provenance of one piece of steel, as verification finds it and every page, package
and command shows it.

This is the contract between the chain side (custody events, derived certificates and their
verification build a ``Provenance``) and the presentation side (``tsunagu steel verify``,
the provenance package of ``tsunagu steel export --piece``, the supply-chain view), so the
two never read each other's records directly. Pure data: no I/O.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

LinkKind = Literal["certificate", "derivation", "custody"]


@dataclass(frozen=True)
class LinkCheck:
    """One thing verified about a link: its signature, the parent hash it names, a mass
    balance, that the sender held the piece... ``ok`` False carries a plain reason."""

    name: str
    ok: bool
    reason_ja: str = ""
    reason_en: str = ""
    code: str = ""                # the refusal code when not ok (``steel.not_holder``...)


@dataclass(frozen=True)
class ChainLink:
    """One signed record on the way from the mill to the piece's holder today.

    ``certificate``: the mill's original (EN 10168). ``derivation``: a processor's derived
    certificate for pieces cut or slit from a parent. ``custody``: a transfer between two
    parties under their agreement."""

    kind: LinkKind
    record_id: str
    record_hash: str              # multibase SHA-256 of the record's RFC 8785 form, proof included
    issuer_did: str
    issuer_name: str
    at: str                       # ISO 8601, when the record was issued
    piece_ids: tuple[str, ...]
    document_number: str | None = None        # certificate and derivation
    parent_record_id: str | None = None       # derivation: the certificate it derives from
    sender_did: str | None = None             # custody
    receiver_did: str | None = None           # custody
    receiver_name: str | None = None          # custody
    agreement_id: str | None = None           # custody
    mass_kg: float | None = None
    checks: tuple[LinkCheck, ...] = ()
    grade_results: tuple[Mapping[str, Any], ...] = ()   # certificate/derivation ``checks``
    flagged: bool = False

    @property
    def verified(self) -> bool:
        return all(c.ok for c in self.checks)


@dataclass(frozen=True)
class Provenance:
    """A piece's chain in order: the mill's certificate first, then derivations and custody
    events as they happened; ``records`` are the signed JSON-LD records themselves (what the
    package carries so a third party can verify without tsunagu)."""

    piece_id: str
    links: tuple[ChainLink, ...]
    records: tuple[Mapping[str, Any], ...]
    holder_did: str
    holder_name: str
    problems: tuple[str, ...] = field(default=())

    @property
    def verified(self) -> bool:
        return not self.problems and all(link.verified for link in self.links)

    @property
    def flagged(self) -> bool:
        return any(link.flagged for link in self.links)
