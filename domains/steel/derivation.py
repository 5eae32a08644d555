"""A processor slits a coil or cuts a plate: the derived certificate of the pieces, and the
rules every holder checks on one (mass balance, parent hash, results inherited unchanged).
Pure: no I/O; who held the parent and whether it was split before is ``custody.Ledger``'s.

The pieces' results are the parent's, copied (never re-typed): from a mill certificate its
EN 10168 groups C (inspection and chemistry) and D (other tests) with B02 and B07, from a
derived certificate its ``inherited`` as it stands, so nested derivations (coil -> strips ->
cut lengths) all carry the mill's values.
"""

from __future__ import annotations

import copy
import uuid
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from domains.steel import vocab
from domains.steel.chain_records import kind_of, piece_mass_kg, record_hash
from domains.steel.errors import ChainRefused, SteelCode

# The weighing tolerance a derivation may claim beyond its parent's mass: 0.5 % of it (the
# parent was weighed by the mill, the pieces by the processor, on other scales).
MASS_TOLERANCE = 0.005
ID_NAMESPACE = uuid.UUID("0b7f8a2e-3c1d-4e5f-8a9b-6c7d8e9f0a1b")
COPIED_GROUPS = ("Inspection", "OtherTests")
COPIED_PRODUCT = ("B02", "B07")
GRADE_FIELDS = ("gradeStandard", "gradeDesignation", "gradeLabelJa")


def derived_id(processor_did: str, document_number: str) -> str:
    return "urn:uuid:" + str(uuid.uuid5(ID_NAMESPACE, f"{processor_did}\n{document_number}"))


def inherited_from(parent: Mapping[str, Any]) -> dict[str, Any]:
    """The results a child copies from ``parent`` (a mill or derived certificate)."""
    if kind_of(parent) == "derivation":
        return copy.deepcopy(dict(parent["inherited"]))
    cert = (parent.get("en10168") or {}).get("Certificate") or {}
    product = cert.get("ProductDescription") or {}
    found: dict[str, Any] = {"certificateId": parent["id"],
                             "certificateNumber": parent.get("certificateNumber")}
    for group in COPIED_GROUPS:
        if group in cert:
            found[group] = copy.deepcopy(cert[group])
    found["ProductDescription"] = {k: copy.deepcopy(product[k]) for k in COPIED_PRODUCT
                                   if k in product}
    return found


def tolerance_kg(parent_mass_kg: float) -> float:
    return round(parent_mass_kg * MASS_TOLERANCE, 3)


def derive(parent: Mapping[str, Any], parent_piece_id: str,
           pieces: Sequence[Mapping[str, Any]], *, document_number: str, processor: str,
           processor_did: str, at: str, operation: str = "slit", scrap_kg: float = 0.0,
           kerf_kg: float = 0.0, processor_legal_id: str | None = None) -> dict[str, Any]:
    """The (unsigned) derived certificate for ``pieces`` (each ``pieceId``, ``massKg`` and
    maybe ``thicknessMm``, ``widthMm``, ``lengthMm``) cut from ``parent_piece_id`` of the
    signed record ``parent``. ``ChainRefused`` if the parent does not name the piece or the
    masses do not add up; whether the processor holds the piece is the ledger's check."""
    if kind_of(parent) not in ("certificate", "derivation") or "proof" not in parent:
        raise ChainRefused(SteelCode.CHAIN_INVALID,
                           "the parent of a derivation is a signed certificate or derived "
                           "certificate", "派生の親は署名付きの証明書または派生証明書です",
                           piece=parent_piece_id)
    parent_mass = piece_mass_kg(parent, parent_piece_id)
    if parent_mass is None:
        raise ChainRefused(SteelCode.UNKNOWN_PIECE,
                           f"the parent record {parent['id']} names no piece "
                           f"{parent_piece_id} with a mass",
                           f"親の記録 {parent['id']} に質量付きの品 {parent_piece_id} が"
                           "ありません", piece=parent_piece_id)
    record: dict[str, Any] = {
        "@context": list(vocab.RECORD_CONTEXT),
        "id": derived_id(processor_did, document_number),
        "type": vocab.DERIVED_CERTIFICATE,
        "documentNumber": document_number,
        "processor": processor,
        "processorDid": processor_did,
        "at": at,
        "operation": operation,
        "parentId": parent["id"],
        "parentHash": record_hash(parent),
        "parentPieceId": parent_piece_id,
        "parentMassKg": round(parent_mass, 3),
        "pieces": [dict(p) for p in pieces],
        "scrapKg": scrap_kg,
        "kerfKg": kerf_kg,
        "massToleranceKg": tolerance_kg(parent_mass),
        "heatNumbers": list(parent.get("heatNumbers") or []),
        # A flagged parent makes a flagged child: the results are the same steel's.
        "flagged": bool(parent.get("flagged")),
        "checks": copy.deepcopy(list(parent.get("checks") or [])),
        "inherited": inherited_from(parent),
    }
    record |= {k: parent[k] for k in GRADE_FIELDS if k in parent}
    if processor_legal_id is not None:
        record["processorLegalId"] = processor_legal_id
    check_mass(record)
    return record


def check_mass(record: Mapping[str, Any]) -> None:
    """Pieces + scrap + kerf weigh at most the parent plus the tolerance, and the tolerance
    claimed is at most the rule's (``MASS_TOLERANCE`` of the parent)."""
    parent = float(record["parentMassKg"])
    claimed = float(record["massToleranceKg"])
    if claimed > tolerance_kg(parent) + 1e-9:
        raise ChainRefused(SteelCode.MASS_EXCEEDED,
                           f"the tolerance claimed, {claimed} kg, exceeds "
                           f"{MASS_TOLERANCE:.1%} of the parent's {parent} kg",
                           f"申告の許容差 {claimed} kg が親の質量 {parent} kg の "
                           f"{MASS_TOLERANCE:.1%} を超えています",
                           piece=str(record.get("parentPieceId")))
    pieces = sum(float(p["massKg"]) for p in record["pieces"])
    total = pieces + float(record["scrapKg"]) + float(record["kerfKg"])
    if total > parent + claimed + 1e-9:
        raise ChainRefused(SteelCode.MASS_EXCEEDED,
                           f"pieces {pieces:g} kg + scrap {record['scrapKg']:g} kg + kerf "
                           f"{record['kerfKg']:g} kg = {total:g} kg exceed the parent's "
                           f"{parent:g} kg + tolerance {claimed:g} kg",
                           f"品 {pieces:g} kg + スクラップ {record['scrapKg']:g} kg + 切り代 "
                           f"{record['kerfKg']:g} kg = {total:g} kg が親の {parent:g} kg + "
                           f"許容差 {claimed:g} kg を超えています",
                           piece=str(record.get("parentPieceId")))
    ids = [p["pieceId"] for p in record["pieces"]]
    if len(set(ids)) != len(ids) or record.get("parentPieceId") in ids:
        raise ChainRefused(SteelCode.CHAIN_INVALID, "a derivation's piece ids are unique "
                           "and differ from the parent piece's",
                           "派生の品番は重複せず、親の品番とも異なります",
                           piece=str(record.get("parentPieceId")))


def check_parent(record: Mapping[str, Any], parent: Mapping[str, Any]) -> None:
    """Both checks of a derivation against its parent, hash first."""
    check_parent_hash(record, parent)
    check_inherited(record, parent)


def check_parent_hash(record: Mapping[str, Any], parent: Mapping[str, Any],
                      hashed: Callable[[Mapping[str, Any]], str] = record_hash) -> None:
    """The record names ``parent`` by its hash (the parent unaltered, proof included)."""
    if record.get("parentHash") != hashed(parent):
        raise ChainRefused(SteelCode.PARENT_HASH,
                           f"parentHash is not the hash of the parent record {parent.get('id')}"
                           ": the parent was altered, or the link names another record",
                           f"parentHash が親の記録 {parent.get('id')} のハッシュと一致しません"
                           "（親の改ざん、または別の記録）",
                           piece=str(record.get("parentPieceId")))


def check_inherited(record: Mapping[str, Any], parent: Mapping[str, Any]) -> None:
    """The record's parent mass is the parent piece's, and its results, grade and checks are
    the parent's, copied unchanged (a flagged parent flags the child)."""
    piece = str(record.get("parentPieceId"))
    mass = piece_mass_kg(parent, piece)
    if mass is None or abs(mass - float(record["parentMassKg"])) > 0.001:
        raise ChainRefused(SteelCode.MASS_EXCEEDED,
                           f"parentMassKg is not the mass of {piece} in the parent",
                           f"parentMassKg が親の {piece} の質量と異なります", piece=piece)
    if record.get("inherited") != inherited_from(parent) or \
            record.get("checks") != list(parent.get("checks") or []) or \
            bool(record.get("flagged")) != bool(parent.get("flagged")) or \
            any(record.get(k) != parent.get(k) for k in GRADE_FIELDS):
        raise ChainRefused(SteelCode.CHAIN_INVALID,
                           "the inherited results, grade or checks differ from the parent's",
                           "継承した試験結果・鋼種・判定が親と異なります", piece=piece)
