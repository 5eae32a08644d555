"""Who holds which piece of steel, from a sequence of signed records. Pure: no I/O.

A mill certificate puts its pieces in the hands of its signer; a custody event moves pieces
from its sender (its signer) to its receiver; a derived certificate consumes the parent piece
(split: never again) and puts its pieces in the hands of the processor (its signer). A record
breaking that is refused with a reason in Japanese and English naming the piece, the party
and the record that holds or consumed it.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from domains.steel import vocab
from domains.steel.chain_records import kind_of, pieces_of
from domains.steel.errors import ChainRefused, SteelCode


@dataclass
class Piece:
    record_id: str          # the certificate or derived certificate naming the piece
    holder: str             # DID
    since: str              # the record that put it there
    split_by: str | None = None   # the derived certificate that consumed it
    sent_by: str | None = None    # the custody event that last moved it away from a holder


@dataclass
class Ledger:
    pieces: dict[str, Piece] = field(default_factory=dict)
    names: dict[str, str] = field(default_factory=dict)

    def holder(self, piece_id: str) -> str | None:
        piece = self.pieces.get(piece_id)
        return piece.holder if piece is not None and piece.split_by is None else None

    def _name(self, did: str) -> str:
        return f"{self.names[did]} ({did})" if did in self.names else did

    def apply(self, record: Mapping[str, Any], signer: str) -> None:
        """Take one record signed by ``signer`` (its proof checked elsewhere)."""
        kind = kind_of(record)
        if kind == "certificate":
            self._certificate(record, signer)
        elif kind == "derivation":
            self._derivation(record, signer)
        elif kind == "custody":
            self._custody(record, signer)
        else:
            raise ChainRefused(SteelCode.CHAIN_INVALID, f"{record.get('id')} is not a steel "
                               "chain record", f"{record.get('id')} は鉄鋼の来歴の記録では"
                               "ありません")

    def _certificate(self, record: Mapping[str, Any], signer: str) -> None:
        if isinstance(record.get("manufacturer"), str):
            self.names.setdefault(signer, record["manufacturer"])
        for piece_id in pieces_of(record):
            known = self.pieces.get(piece_id)
            if known is not None and known.record_id != record["id"]:
                raise ChainRefused(SteelCode.CHAIN_INVALID,
                                   f"piece {piece_id} is already named by {known.record_id}",
                                   f"品 {piece_id} は既に {known.record_id} にあります",
                                   piece=piece_id)
            if known is None:
                self.pieces[piece_id] = Piece(record["id"], signer, record["id"])

    def _require_held(self, piece_id: str, party: str, doing_en: str, doing_ja: str) -> Piece:
        piece = self.pieces.get(piece_id)
        if piece is None:
            raise ChainRefused(SteelCode.UNKNOWN_PIECE,
                               f"{doing_en}: no certificate in the chain names piece "
                               f"{piece_id}", f"{doing_ja}: 品 {piece_id} を記載する証明書が"
                               "来歴にありません", piece=piece_id)
        if piece.split_by is not None:
            raise ChainRefused(SteelCode.NOT_HOLDER,
                               f"{doing_en}: piece {piece_id} no longer exists, it was split "
                               f"by {piece.split_by}", f"{doing_ja}: 品 {piece_id} は "
                               f"{piece.split_by} で分割済みです", piece=piece_id)
        if piece.holder != party:
            after = (f" (transferred by {piece.sent_by})" if piece.sent_by else "")
            after_ja = (f"（{piece.sent_by} で引渡し済み）" if piece.sent_by else "")
            raise ChainRefused(SteelCode.NOT_HOLDER,
                               f"{doing_en}: {self._name(party)} does not hold piece "
                               f"{piece_id}; {self._name(piece.holder)} holds it since "
                               f"{piece.since}{after}",
                               f"{doing_ja}: {self._name(party)} は品 {piece_id} を保有して"
                               f"いません。保有者は {self._name(piece.holder)}（{piece.since} "
                               f"以降）{after_ja}", piece=piece_id)
        return piece

    def _derivation(self, record: Mapping[str, Any], signer: str) -> None:
        if record.get("processorDid") != signer:
            raise ChainRefused(SteelCode.CHAIN_INVALID,
                               f"derived certificate {record.get('id')} is signed by {signer}, "
                               "not by the processor it names",
                               f"派生証明書 {record.get('id')} の署名者が記載の加工業者と"
                               "異なります")
        parent_piece = str(record.get("parentPieceId"))
        piece = self.pieces.get(parent_piece)
        if piece is not None and piece.split_by is not None and piece.split_by != record["id"]:
            raise ChainRefused(SteelCode.ALREADY_SPLIT,
                               f"piece {parent_piece} was already split by {piece.split_by}: "
                               "the same mass cannot be split twice",
                               f"品 {parent_piece} は {piece.split_by} で分割済みです（同じ"
                               "質量は二度分割できません）", piece=parent_piece)
        doing = (f"split of {parent_piece}", f"{parent_piece} の分割")
        piece = self._require_held(parent_piece, signer, *doing)
        if piece.record_id != record.get("parentId"):
            raise ChainRefused(SteelCode.CHAIN_INVALID,
                               f"piece {parent_piece} is named by {piece.record_id}, not by "
                               f"the parent {record.get('parentId')}",
                               f"品 {parent_piece} は親 {record.get('parentId')} ではなく "
                               f"{piece.record_id} に記載されています", piece=parent_piece)
        for child in pieces_of(record):
            if child in self.pieces:
                raise ChainRefused(SteelCode.CHAIN_INVALID,
                                   f"piece id {child} is already in use",
                                   f"品番 {child} は既に使われています", piece=child)
        if isinstance(record.get("processor"), str):
            self.names.setdefault(signer, record["processor"])
        piece.split_by = record["id"]
        for child in pieces_of(record):
            self.pieces[child] = Piece(record["id"], signer, record["id"])

    def _custody(self, record: Mapping[str, Any], signer: str) -> None:
        sender, receiver = record.get("senderDid"), record.get("receiverDid")
        if sender != signer:
            raise ChainRefused(SteelCode.CHAIN_INVALID,
                               f"custody event {record.get('id')} is signed by {signer}, not "
                               "by the sender it names",
                               f"引渡し記録 {record.get('id')} の署名者が記載の引渡し元と"
                               "異なります")
        if not isinstance(receiver, str) or receiver == sender:
            raise ChainRefused(SteelCode.CHAIN_INVALID,
                               "a custody event names a receiver other than its sender",
                               "引渡し記録には引渡し元と異なる引渡し先が必要です")
        pieces = pieces_of(record)
        held = [self._require_held(p, sender, f"transfer of {p}", f"{p} の引渡し")
                for p in pieces]
        for piece_id, piece in zip(pieces, held, strict=True):
            if piece.record_id != record.get("certificateId"):
                raise ChainRefused(SteelCode.CHAIN_INVALID,
                                   f"piece {piece_id} is named by {piece.record_id}, not by "
                                   f"{record.get('certificateId')}",
                                   f"品 {piece_id} は {record.get('certificateId')} ではなく "
                                   f"{piece.record_id} に記載されています", piece=piece_id)
        for name_key, did in (("senderName", sender), ("receiverName", receiver)):
            if isinstance(record.get(name_key), str):
                self.names.setdefault(did, record[name_key])
        for piece in held:
            piece.holder, piece.since, piece.sent_by = receiver, record["id"], record["id"]


def replay(records: Sequence[tuple[Mapping[str, Any], str]]) -> Ledger:
    """The ledger after ``records`` (each with its signer), in order; refuses as ``apply``."""
    ledger = Ledger()
    for record, signer in records:
        ledger.apply(record, signer)
    return ledger


def custody_event(*, piece_ids: Sequence[str], certificate_id: str, sender_did: str,
                  sender_name: str, receiver_did: str, receiver_name: str,
                  agreement_id: str, at: str, chain: Sequence[Mapping[str, Any]],
                  mass_kg: float | None = None) -> dict[str, Any]:
    """The (unsigned) custody event; ``chain`` the pieces' signed records to date, as held."""
    record: dict[str, Any] = {
        "@context": list(vocab.RECORD_CONTEXT), "id": f"urn:uuid:{uuid.uuid4()}",
        "type": vocab.CUSTODY_EVENT, "pieceIds": list(piece_ids),
        "certificateId": certificate_id, "senderDid": sender_did, "senderName": sender_name,
        "receiverDid": receiver_did, "receiverName": receiver_name,
        "agreementId": agreement_id, "at": at, "chain": [dict(r) for r in chain]}
    if mass_kg is not None:
        record["massKg"] = round(mass_kg, 3)
    return record
