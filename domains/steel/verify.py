"""Verify a piece's chain back to the mill's original and describe it as a ``Provenance``.
Pure: no I/O; the proofs are eddsa-jcs-2022 (``trust.proofs``) by did:key, so the signed
records and, optionally, the DIDs trusted as issuers are all it needs.

``lineage`` walks from the record naming the piece up through derived certificates (parent
id) to the mill certificate; ``chain_for`` adds the custody events of every piece on that way,
in order: what a holder passes on with the piece, and what ``verify_chain`` checks link by
link (signature, parent hash, mass balance, that the sender or processor held the piece,
the certificate content rule).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from domains.steel.certificate import recheck
from domains.steel.chain_records import (
    Hashes,
    check_shape,
    kind_of,
    piece_mass_kg,
    pieces_of,
    signed_at,
    signer_of,
)
from domains.steel.custody import Ledger
from domains.steel.derivation import check_inherited, check_mass, check_parent_hash
from domains.steel.errors import ChainRefused, SteelCode
from domains.steel.provenance import ChainLink, LinkCheck, Provenance
from trust.errors import TsunaguError
from trust.participant_registry import RegistryEntry
from trust.proofs import verify_document

Record = Mapping[str, Any]


def flatten(records: Iterable[Record]) -> list[Record]:
    """Every record given and every record a custody event carries, each once (equal
    records are one: a carried copy of a record is the record)."""
    seen: dict[str, list[Record]] = {}
    found: list[Record] = []

    def add(record: Any) -> None:
        if not isinstance(record, Mapping):
            return
        same_id = seen.setdefault(str(record.get("id")), [])
        if any(record == other for other in same_id):
            return
        same_id.append(record)
        found.append(record)
        if kind_of(record) == "custody":
            for inner in record.get("chain") or []:
                add(inner)

    for record in records:
        add(record)
    return found


def _by_id(records: Sequence[Record]) -> tuple[dict[str, Record], list[str]]:
    found: dict[str, Record] = {}
    problems = []
    for record in records:
        rid = record.get("id")
        if not isinstance(rid, str):
            continue
        if rid in found and found[rid] != record:
            problems.append(f"two different records carry the id {rid}: one was altered / "
                            f"同じ id {rid} の異なる記録があります（改ざん）")
            continue
        found.setdefault(rid, record)
    return found, problems


def _naming(records: Sequence[Record], piece_id: str) -> Record | None:
    for record in records:
        if kind_of(record) in ("certificate", "derivation") and piece_id in pieces_of(record):
            return record
    return None


def lineage(records: Sequence[Record], piece_id: str
            ) -> tuple[list[tuple[Record, str]], list[str]]:
    """(record, the piece of it on the way) from the mill certificate down to the record
    naming ``piece_id``, and the problems found walking it."""
    by_id, problems = _by_id(records)
    certs = [r for r in by_id.values() if kind_of(r) in ("certificate", "derivation")]
    found = _naming(certs, piece_id)
    if found is None:
        return [], [*problems, f"no certificate names piece {piece_id} / 品 {piece_id} を記載"
                    "する証明書がありません"]
    way = [(found, piece_id)]
    while kind_of(way[-1][0]) == "derivation" and len(way) <= len(by_id):
        record = way[-1][0]
        parent = by_id.get(str(record.get("parentId")))
        if parent is None:
            problems.append(f"the parent {record.get('parentId')} of {record.get('id')} is "
                            f"missing / 親の記録 {record.get('parentId')} がありません")
            break
        way.append((parent, str(record.get("parentPieceId"))))
    return way[::-1], problems


def chain_for(records: Iterable[Record], piece_id: str) -> tuple[list[Record], list[str]]:
    """The records of ``piece_id``'s chain in order: for each piece on its way from the mill,
    the record naming it, then the custody events moving it and the derivations splitting it
    (a second split or transfer is there, to be refused). Order is by time, and among records
    of the same second by what the chain allows: the next is the first that applies."""
    flat = flatten(records)
    way, problems = lineage(flat, piece_id)
    later = [r for r in _by_id(flat)[0].values() if kind_of(r) in ("custody", "derivation")]
    ordered: list[Record] = []
    placed: set[str] = set()
    ledger = Ledger()

    def place(record: Record, apply: bool = True) -> bool:
        if str(record.get("id")) in placed:
            return True
        if apply:
            try:
                ledger.apply(record, signer_of(record) or "")
            except (ChainRefused, KeyError, TypeError, ValueError, AttributeError):
                return False
        placed.add(str(record.get("id")))
        ordered.append(record)
        return True

    for record, piece in way:
        place(record) or place(record, apply=False)
        touching = sorted((r for r in later if (
            kind_of(r) == "custody" and piece in pieces_of(r)
            or kind_of(r) == "derivation" and r.get("parentPieceId") == piece)),
            key=lambda r: (signed_at(r), len(r.get("chain") or [])))
        while touching:
            taken = next((r for r in touching if place(r)), None)
            if taken is None:
                taken = touching[0]
                place(taken, apply=False)
            touching.remove(taken)
    return ordered, problems


def _check(name: str, run: Any) -> LinkCheck:
    try:
        run()
    except ChainRefused as exc:
        return LinkCheck(name, False, exc.reason_ja, exc.reason_en, str(exc.code))
    except TsunaguError as exc:
        return LinkCheck(name, False, f"{exc.code}: {exc.message}", f"{exc.code}: {exc.message}",
                         str(exc.code))
    except (KeyError, TypeError, ValueError, AttributeError) as exc:
        # An altered record may lack a field or hold one of another type: not a crash.
        return LinkCheck(name, False, f"記録の形式が正しくありません: {exc!r}",
                         f"the record is malformed: {exc!r}")
    return LinkCheck(name, True)


def _signature(record: Record, issuers: Mapping[str, str] | None,
               known: dict[str, LinkCheck], hashed: Hashes) -> LinkCheck:
    """The record's own proof (and, with ``issuers``, a trusted signer); ``known`` caches
    the outcome by record hash (a carried record is the same bytes as the chain's)."""
    digest = hashed(record)
    if digest not in known:
        known[digest] = _proof(record, issuers)
    return known[digest]


def _proof(record: Record, issuers: Mapping[str, str] | None) -> LinkCheck:
    try:
        verified = verify_document(dict(record))
    except TsunaguError as exc:
        return LinkCheck("signature", False, f"署名を検証できません（改ざん、または偽造）: "
                         f"{exc.code}", f"the signature does not verify: {exc.message}",
                         str(exc.code))
    if issuers is not None and verified.controller not in issuers:
        return LinkCheck("signature", False, f"署名者 {verified.controller} は信頼する発行者"
                         "ではありません", f"the signer {verified.controller} is not a "
                         "trusted issuer", str(SteelCode.CHAIN_INVALID))
    return LinkCheck("signature", True)


# The issuer's 法人番号 a record states, by kind; custody events state none (their sender's
# DID is the signer, and that is what the registry binds).
LEGAL_ID_FIELD = {"certificate": "manufacturerLegalId", "derivation": "processorLegalId"}


def _identity(record: Record, participants: Mapping[str, RegistryEntry]) -> LinkCheck:
    """The signer is a participant of the data space in the authority's signed registry,
    and the 法人番号 the record states is the one the authority registered for it."""
    signer = signer_of(record) or ""
    entry = participants.get(signer)
    if entry is None:
        return LinkCheck("issuer_identity", False,
                         f"署名者 {signer} は認証局の参加者名簿にありません（失効、期限切れ、"
                         "または未登録）",
                         f"the signer {signer} is not in the authority's participant registry "
                         "(revoked, expired or never onboarded)", str(SteelCode.CHAIN_INVALID))
    member = LEGAL_ID_FIELD.get(kind_of(record) or "")
    stated = record.get(member) if member else None
    registered = entry.legal_identifier.get("value")
    if stated is not None and stated != registered:
        return LinkCheck("issuer_identity", False,
                         f"記録の法人番号 {stated} は署名者 {entry.name} の登録 ({registered}) と"
                         "異なります",
                         f"the record states 法人番号 {stated}, the authority registered "
                         f"{registered} for its signer {entry.name}", str(SteelCode.CHAIN_INVALID))
    return LinkCheck("issuer_identity", True)


def _carried(record: Record, by_id: Mapping[str, Record],
             issuers: Mapping[str, str] | None, known: dict[str, LinkCheck],
             hashed: Hashes) -> LinkCheck:
    """A custody event's carried chain: each record verifies and is the one in the chain."""
    for inner in record.get("chain") or []:
        held = by_id.get(str(inner.get("id"))) if isinstance(inner, Mapping) else None
        if held is None or held != inner:
            return LinkCheck("carried_chain", False, "添付の来歴の記録が来歴と異なります",
                             "a record carried with the event differs from the chain's",
                             str(SteelCode.CHAIN_INVALID))
        check = _signature(held, issuers, known, hashed)
        if not check.ok:
            return LinkCheck("carried_chain", False,
                             f"添付の記録 {inner.get('id')}: {check.reason_ja}",
                             f"carried record {inner.get('id')}: {check.reason_en}",
                             check.code)
    return LinkCheck("carried_chain", True)


def _link(record: Record, piece: str, checks: list[LinkCheck], hashed: Hashes) -> ChainLink:
    kind = kind_of(record)
    issuer = signer_of(record) or ""
    common: dict[str, Any] = {
        "kind": kind, "record_id": str(record.get("id")), "record_hash": hashed(record),
        "issuer_did": issuer, "at": signed_at(record), "piece_ids": tuple(pieces_of(record)),
        "checks": tuple(checks)}
    if kind == "custody":
        return ChainLink(**common, issuer_name=str(record.get("senderName", "")),
                         sender_did=record.get("senderDid"),
                         receiver_did=record.get("receiverDid"),
                         receiver_name=record.get("receiverName"),
                         agreement_id=record.get("agreementId"),
                         mass_kg=record.get("massKg"))
    grade = tuple(c for c in record.get("checks") or [] if isinstance(c, Mapping))
    if kind == "derivation":
        return ChainLink(**common, issuer_name=str(record.get("processor", "")),
                         document_number=record.get("documentNumber"),
                         parent_record_id=record.get("parentId"),
                         mass_kg=_total(record.get("pieces")),
                         grade_results=grade, flagged=bool(record.get("flagged")))
    return ChainLink(**common, issuer_name=str(record.get("manufacturer", "")),
                     document_number=record.get("certificateNumber"),
                     mass_kg=piece_mass_kg(record, piece), grade_results=grade,
                     flagged=bool(record.get("flagged")))


def _total(pieces: Any) -> float | None:
    try:
        return sum(float(p["massKg"]) for p in pieces)
    except (KeyError, TypeError, ValueError):
        return None


def verify_chain(records: Iterable[Record], piece_id: str, *,
                 issuers: Mapping[str, str] | None = None,
                 unsigned_by: Mapping[str, str] | None = None,
                 participants: Mapping[str, RegistryEntry] | None = None) -> Provenance:
    """The provenance of ``piece_id`` from ``records`` (certificates, derived certificates,
    custody events; a custody event's carried chain counts), every link checked. With
    ``issuers`` (DID -> name), a record signed by any other DID fails its signature check.
    With ``participants`` (the verified participant registry by DID), each link's signer
    must be listed and a stated 法人番号 must be its registered one (``issuer_identity``).
    ``unsigned_by`` (record id -> DID): who will sign a record not signed yet (a content rule
    run before signing); its signature check fails, the others run as if it were signed."""
    hashed = Hashes()
    flat = flatten(records)
    ordered, problems = chain_for(flat, piece_id)
    by_id, _ = _by_id(flat)
    ledger = Ledger()
    if participants:
        ledger.names.update({did: entry.name for did, entry in participants.items()})
    if issuers:
        ledger.names.update(issuers)
    way = {r.get("id"): p for r, p in lineage(flat, piece_id)[0]}
    links = []
    known: dict[str, LinkCheck] = {}
    for record in ordered:
        kind = kind_of(record)
        checks = [_signature(record, issuers, known, hashed)]
        if kind == "certificate":
            checks.append(_check("content", lambda r=record: recheck(dict(r))))
        elif kind == "derivation":
            parent = by_id.get(str(record.get("parentId")))
            if parent is not None:
                checks.append(_check("parent_hash", lambda r=record, p=parent:
                                     check_parent_hash(r, p, hashed)))
            checks.append(_check("content", lambda r=record, p=parent: (
                check_shape(r), p is not None and check_inherited(r, p))))
            checks.append(_check("mass_balance", lambda r=record: check_mass(r)))
        else:
            checks.append(_check("content", lambda r=record: check_shape(r)))
            checks.append(_carried(record, by_id, issuers, known, hashed))
        if participants is not None:
            checks.append(_identity(record, participants))
        signer = signer_of(record) or (unsigned_by or {}).get(str(record.get("id")), "")
        checks.append(_check("holder", lambda r=record, s=signer: ledger.apply(r, s)))
        piece = way.get(record.get("id"), piece_id)
        links.append(_link(record, piece, checks, hashed))
    holder = ledger.holder(piece_id) or ""
    return Provenance(piece_id=piece_id, links=tuple(links), records=tuple(ordered),
                      holder_did=holder, holder_name=ledger.names.get(holder, ""),
                      problems=tuple(problems))
