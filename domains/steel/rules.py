"""The content rules of the chain's records, run by every connector before it keeps one
(the sender's before it signs, each receiver's after the proof check). Pure: no I/O.

A custody event carries its pieces' chain to date, so a receiver refuses one whose own chain
shows the sender did not hold a piece then (already transferred, split, never held), or whose
carried records do not verify. A derived certificate alone cannot show its parent: its
masses must add up; its parent hash is checked by the processor's hub before it is signed and
by every verification after.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from domains.steel.chain_records import check_shape, signer_of
from domains.steel.derivation import check_mass
from domains.steel.errors import ChainRefused, SteelCode
from domains.steel.verify import verify_chain

_CODES = {str(c): c for c in SteelCode}


def check_derived(record: Mapping[str, Any]) -> None:
    check_shape(record)
    check_mass(record)
    signer = signer_of(record)
    if signer is not None and signer != record.get("processorDid"):
        raise ChainRefused(SteelCode.CHAIN_INVALID, "/processorDid is not the signer",
                           "/processorDid が署名者と異なります")


def check_event(record: Mapping[str, Any]) -> None:
    """The event, replayed after its carried chain, for each piece it moves."""
    check_shape(record)
    signer = signer_of(record)
    if signer is not None and signer != record.get("senderDid"):
        raise ChainRefused(SteelCode.CHAIN_INVALID, "/senderDid is not the signer",
                           "/senderDid が署名者と異なります")
    unsigned = "proof" not in record
    for piece in record["pieceIds"]:
        provenance = verify_chain([*record["chain"], record], piece, unsigned_by={
            str(record.get("id")): str(record.get("senderDid"))} if unsigned else None)
        for problem in provenance.problems:
            raise ChainRefused(SteelCode.CHAIN_INVALID, problem, problem, piece=piece)
        for link in provenance.links:
            for check in link.checks:
                own_signature = (link.record_id == record.get("id")
                                 and check.name == "signature" and unsigned)
                if not check.ok and not own_signature:
                    code = _CODES.get(check.code, SteelCode.CHAIN_INVALID)
                    raise ChainRefused(code, f"{link.record_id}: {check.reason_en}",
                                       f"{link.record_id}: {check.reason_ja}", piece=piece)
        if record.get("id") not in {link.record_id for link in provenance.links}:
            raise ChainRefused(SteelCode.CHAIN_INVALID,
                               f"the event is not on piece {piece}'s chain",
                               f"引渡し記録が品 {piece} の来歴にありません", piece=piece)
