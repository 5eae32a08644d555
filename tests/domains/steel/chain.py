"""A signed steel chain for the tests, without connectors: a mill, a trader, a processor and
a customer with their own keys; a coil certified, sold, slit into strips, one strip cut into
lengths and delivered."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from domains.steel.certificate import to_record
from domains.steel.custody import custody_event
from domains.steel.derivation import derive
from tests.domains.steel.certs import jis
from trust.keys import KeyPair
from trust.proofs import sign_document

COIL = "COIL-0001"


@dataclass(frozen=True)
class Party:
    name: str
    key: KeyPair

    @property
    def did(self) -> str:
        return self.key.did

    def sign(self, record: dict[str, Any]) -> dict[str, Any]:
        return sign_document(record, self.key)


def party(name: str, n: int) -> Party:
    return Party(name, KeyPair.from_seed(bytes([n]) * 32))


MILL, TRADER = party("例示製鋼", 1), party("例示商事", 2)
PROCESSOR, CUSTOMER = party("例示コイルセンター", 3), party("例示建設", 4)
ISSUERS = {p.did: p.name for p in (MILL, TRADER, PROCESSOR, CUSTOMER)}


def certificate(**options: Any) -> dict[str, Any]:
    """The mill's signed certificate of one coil (5739.3 kg, example 1's B13)."""
    return MILL.sign(to_record(jis(**options), product_ids=[COIL], legal_id="8000000000001"))


def transfer(sender: Party, receiver: Party, pieces: list[str], certificate_id: str,
             chain: list[dict[str, Any]], at: str) -> dict[str, Any]:
    return sender.sign(custody_event(
        piece_ids=pieces, certificate_id=certificate_id, sender_did=sender.did,
        sender_name=sender.name, receiver_did=receiver.did, receiver_name=receiver.name,
        agreement_id=f"urn:uuid:agreement-{sender.name}-{receiver.name}", at=at,
        chain=chain))


def split(parent: dict[str, Any], piece: str, masses: list[float], prefix: str,
          number: str, at: str, scrap: float = 0.0, kerf: float = 0.0,
          by: Party = PROCESSOR) -> dict[str, Any]:
    pieces = [{"pieceId": f"{prefix}-{i + 1}", "massKg": m, "thicknessMm": 12.0,
               "widthMm": 300.0} for i, m in enumerate(masses)]
    return by.sign(derive(parent, piece, pieces, document_number=number, processor=by.name,
                          processor_did=by.did, at=at, scrap_kg=scrap, kerf_kg=kerf))


def six_levels() -> tuple[list[dict[str, Any]], str]:
    """Mill certificate -> trader -> processor -> strips -> cut lengths -> customer: six
    signed records, and the delivered piece."""
    cert = certificate()
    to_trader = transfer(MILL, TRADER, [COIL], cert["id"], [cert], "2026-04-01T09:00:00Z")
    to_processor = transfer(TRADER, PROCESSOR, [COIL], cert["id"], [cert, to_trader],
                            "2026-04-02T09:00:00Z")
    strips = split(cert, COIL, [1900.0, 1900.0, 1900.0], "STRIP", "DC-1",
                   "2026-04-03T09:00:00Z", scrap=30.0, kerf=9.3)
    lengths = split(strips, "STRIP-2", [940.0, 940.0], "CUT", "DC-2",
                    "2026-04-04T09:00:00Z", scrap=15.0, kerf=5.0)
    to_customer = transfer(PROCESSOR, CUSTOMER, ["CUT-1"], lengths["id"],
                           [cert, to_trader, to_processor, strips, lengths],
                           "2026-04-05T09:00:00Z")
    return [cert, to_trader, to_processor, strips, lengths, to_customer], "CUT-1"
