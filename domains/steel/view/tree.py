"""The tree of a certificate's derived pieces, from ``Provenance`` objects only: documents
(the mill's certificate, processors' derived certificates) nested by ``parent_record_id``,
each with its pieces and, for a piece that has a provenance, where it is now. Pure."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from domains.steel.provenance import ChainLink, LinkCheck, Provenance

ProvenanceFinder = Callable[[str], Sequence[Provenance]]
"""THE HOOK of the view: the provenances of every piece a query names (a heat number, a
certificate or document number, a piece id); the chain side provides it."""


@dataclass(frozen=True)
class PieceState:
    piece_id: str
    holder_name: str
    verified: bool
    flagged: bool
    failed: tuple[LinkCheck, ...]      # every failing check of the piece's chain
    problems: tuple[str, ...]


@dataclass
class DocumentNode:
    link: ChainLink
    pieces: list[tuple[str, PieceState | None]]
    children: list[DocumentNode] = field(default_factory=list)


def state_of(provenance: Provenance) -> PieceState:
    failed = tuple(c for link in provenance.links for c in link.checks if not c.ok)
    return PieceState(provenance.piece_id, provenance.holder_name, provenance.verified,
                      provenance.flagged, failed, provenance.problems)


def build_tree(provenances: Iterable[Provenance]) -> list[DocumentNode]:
    """Root documents (certificates, or derivations whose parent nobody showed) in date order,
    each with its derived documents beneath."""
    provenances = list(provenances)
    states = {p.piece_id: state_of(p) for p in provenances}
    nodes: dict[str, DocumentNode] = {}
    for provenance in provenances:
        for link in provenance.links:
            if link.kind in ("certificate", "derivation") and link.record_id not in nodes:
                nodes[link.record_id] = DocumentNode(
                    link, [(piece, states.get(piece)) for piece in link.piece_ids])
    roots: list[DocumentNode] = []
    for node in nodes.values():
        parent = nodes.get(node.link.parent_record_id or "")
        (parent.children if parent is not None else roots).append(node)
    for node in nodes.values():
        node.children.sort(key=lambda n: n.link.at)
    return sorted(roots, key=lambda n: n.link.at)


def _certificate(provenance: Provenance) -> Mapping[str, Any]:
    ids = {link.record_id for link in provenance.links if link.kind == "certificate"}
    return next((r for r in provenance.records if r.get("id") in ids), {})


def matches(provenance: Provenance, query: str) -> bool:
    """Whether ``query`` is the piece's id, a document number of its chain, or the heat
    number or certificate number of its mill certificate."""
    query = query.strip()
    if not query:
        return False
    cert = _certificate(provenance)
    return (query == provenance.piece_id
            or any(query == link.document_number for link in provenance.links)
            or query == cert.get("certificateNumber")
            or query in (cert.get("heatNumbers") or []))


def finder_over(provenances: Sequence[Provenance]) -> ProvenanceFinder:
    """A finder over provenances built beforehand (a demo, the tests)."""
    def find(query: str) -> list[Provenance]:
        return [p for p in provenances if matches(p, query)]
    return find
