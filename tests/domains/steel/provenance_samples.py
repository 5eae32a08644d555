"""``Provenance`` objects for the presentation side's tests (package, page, view, bench).

The chain side builds ``Provenance`` from its own custody and derivation records; until it
lands these samples stand in for it. The mill's certificate is a real record: the public
EN 10168 example 1 (tests/fixtures/steel, CC BY 4.0) in the JIS SS400 shape of
``certs.jis``, through ``to_record`` and signed eddsa-jcs-2022 by the mill's key. The
derivation and custody records are signed too, in a made-up shape (only their ``id`` and
proof matter here: the presentation side never reads the chain side's fields).

The chain (6 links) of cut length ``SCC-L-0032-03`` delivered to a construction company::

    東北製鉄 certificate (coil) -> custody to 丸の内商事 -> custody to 仙台コイルセンター
    -> derivation: slit into 4 strips -> derivation: strip 2 cut into 6 lengths
    -> custody of length 3 to 株式会社みやぎ建設
"""

from __future__ import annotations

import dataclasses
import hashlib
from datetime import datetime
from typing import Any

from domains.steel.certificate import to_record
from domains.steel.provenance import ChainLink, LinkCheck, Provenance
from tests.domains.steel.certs import edited, jis
from trust.canonical import canonical_json
from trust.keys import KeyPair
from trust.multibase import encode_base58btc
from trust.proofs import sign_document

MILL, TRADER, COIL_CENTRE, BUILDER = (
    "東北製鉄株式会社", "丸の内商事株式会社", "仙台コイルセンター株式会社", "株式会社みやぎ建設")
# Fixed seeds: the same keys (did:key) in every run, so screenshots and hashes are stable.
KEYS = {name: KeyPair.from_seed(hashlib.sha256(name.encode()).digest())
        for name in (MILL, TRADER, COIL_CENTRE, BUILDER)}
COIL = "TS-C-2026-0417"
STRIPS = tuple(f"SCC-S-0031-{n}" for n in range(1, 5))
LENGTHS = tuple(f"SCC-L-0032-{n:02d}" for n in range(1, 7))
PIECE = LENGTHS[2]
HEAT = "TH26-4417"
CERT_NUMBER = "TS-MC-2026-0417"

SIGNATURE_OK = LinkCheck("signature", True)
CHECKS = {
    "certificate": (SIGNATURE_OK, LinkCheck("issuer_is_mill", True)),
    "derivation": (SIGNATURE_OK, LinkCheck("parent_hash", True), LinkCheck("mass_balance", True)),
    "custody": (SIGNATURE_OK, LinkCheck("sender_held", True), LinkCheck("agreement", True)),
}


def record_hash(record: dict[str, Any]) -> str:
    """Multibase (base58btc) SHA-256 multihash of the record's RFC 8785 form, proof included."""
    return encode_base58btc(b"\x12\x20" + hashlib.sha256(canonical_json(record)).digest())


def _sign(record: dict[str, Any], who: str, at: str) -> dict[str, Any]:
    return sign_document(record, KEYS[who], created=datetime.fromisoformat(at))


def mill_document(tensile: float = 450) -> dict[str, Any]:
    """Example 1 in the SS400 shape, as 東北製鉄 would issue it for one hot-rolled coil."""
    doc = jis("SS400", thickness=6.0, heat=HEAT, tensile={"C12": {"Value": tensile}})
    for path, value in (("/Certificate/CommercialTransaction/A01/Name", MILL),
                        ("/Certificate/CommercialTransaction/A03", CERT_NUMBER),
                        ("/Certificate/ProductDescription/B01", "熱間圧延軟鋼板（コイル）"),
                        ("/Certificate/ProductDescription/B13/Value", 12400),
                        ("/Certificate/Validation/Z02", "2026-04-17")):
        doc = edited(doc, path, value)
    return doc


def _derived(number: str, parent: dict[str, Any], pieces: tuple[str, ...], mass: float,
             at: str) -> dict[str, Any]:
    return _sign({"@context": parent["@context"], "id": f"urn:example:derived:{number}",
                  "type": "DerivedCertificate", "documentNumber": number,
                  "parent": parent["id"], "parentHash": record_hash(parent),
                  "pieceIds": list(pieces), "massKg": mass, "issuedAt": at},
                 COIL_CENTRE, at)


def _custody(n: int, sender: str, receiver: str, piece: str, at: str) -> dict[str, Any]:
    return _sign({"@context": ["https://www.w3.org/ns/credentials/v2"],
                  "id": f"urn:example:custody:{n}", "type": "CustodyEvent",
                  "sender": KEYS[sender].did, "receiver": KEYS[receiver].did,
                  "pieceIds": [piece], "agreement": f"urn:example:agreement:{n}", "at": at},
                 sender, at)


def provenance(*, tensile: float = 450) -> Provenance:
    """The 6-link chain of ``PIECE``; ``tensile`` 600 makes the mill's certificate fail
    JIS G 3101 (flagged)."""
    cert = _sign(to_record(mill_document(tensile), product_ids=[COIL],
                           legal_id="8000000000001"), MILL, "2026-04-17T09:00:00+09:00")
    strips = _derived("SCC-D-2026-0031", cert, STRIPS, 12_200.0, "2026-05-20T10:30:00+09:00")
    lengths = _derived("SCC-D-2026-0032", strips, LENGTHS, 3_000.0, "2026-05-22T14:00:00+09:00")
    moves = [(_custody(1, MILL, TRADER, COIL, "2026-04-20T08:00:00+09:00"), MILL, TRADER, COIL),
             (_custody(2, TRADER, COIL_CENTRE, COIL, "2026-05-08T13:00:00+09:00"), TRADER,
              COIL_CENTRE, COIL),
             (_custody(3, COIL_CENTRE, BUILDER, PIECE, "2026-06-02T09:15:00+09:00"),
              COIL_CENTRE, BUILDER, PIECE)]

    def custody(record: dict[str, Any], sender: str, receiver: str, piece: str,
                mass: float) -> ChainLink:
        return ChainLink("custody", record["id"], record_hash(record), KEYS[sender].did, sender,
                         record["at"], (piece,), sender_did=KEYS[sender].did,
                         receiver_did=KEYS[receiver].did, receiver_name=receiver,
                         agreement_id=record["agreement"], mass_kg=mass,
                         checks=CHECKS["custody"])

    flagged = cert["flagged"]
    links = (
        ChainLink("certificate", cert["id"], record_hash(cert), KEYS[MILL].did, MILL,
                  cert["proof"]["created"], (COIL,), document_number=CERT_NUMBER,
                  mass_kg=12_400.0, checks=CHECKS["certificate"],
                  grade_results=tuple(cert["checks"]), flagged=flagged),
        custody(*moves[0], 12_400.0),
        custody(*moves[1], 12_400.0),
        ChainLink("derivation", strips["id"], record_hash(strips), KEYS[COIL_CENTRE].did,
                  COIL_CENTRE, strips["issuedAt"], STRIPS, document_number="SCC-D-2026-0031",
                  parent_record_id=cert["id"], mass_kg=12_200.0, checks=CHECKS["derivation"],
                  grade_results=tuple(cert["checks"]), flagged=flagged),
        ChainLink("derivation", lengths["id"], record_hash(lengths), KEYS[COIL_CENTRE].did,
                  COIL_CENTRE, lengths["issuedAt"], LENGTHS, document_number="SCC-D-2026-0032",
                  parent_record_id=strips["id"], mass_kg=3_000.0, checks=CHECKS["derivation"],
                  grade_results=tuple(cert["checks"]), flagged=flagged),
        custody(*moves[2], 500.0),
    )
    records = (cert, moves[0][0], moves[1][0], strips, lengths, moves[2][0])
    return Provenance(PIECE, links, records, KEYS[BUILDER].did, BUILDER)


def failing() -> Provenance:
    """The same chain where the second derivation names a parent hash that does not match."""
    good = provenance()
    bad = LinkCheck("parent_hash", False, "親の証明書のハッシュが一致しません（改ざんの疑い）",
                    "the parent certificate's hash does not match (altered?)")
    links = list(good.links)
    links[4] = dataclasses.replace(links[4], checks=(SIGNATURE_OK, bad,
                                                     LinkCheck("mass_balance", True)))
    return dataclasses.replace(good, links=tuple(links))


def flagged() -> Provenance:
    """The chain of a coil whose tensile strength (600 MPa) is above SS400's 510 MPa."""
    return provenance(tensile=600)


def strip_holders() -> list[Provenance]:
    """Every piece derived from the coil and where it is now, for the supply-chain view:
    the cut length at the builder (``provenance()``), the other strips and lengths still
    at the coil centre (their chains stop before the last custody event), except the last
    length, whose delivery record's signature does not verify (NOT verified)."""
    full = provenance()
    at_centre = []
    for piece, upto in ((s, 4) for s in STRIPS if s != STRIPS[1]):
        at_centre.append(_at_centre(full, piece, upto))
    for piece in LENGTHS[:-1]:
        if piece != PIECE:
            at_centre.append(_at_centre(full, piece, 5))
    bad = LinkCheck("signature", False, "引渡し記録の署名が一致しません（改ざんの疑い）",
                    "the transfer record's signature does not match (altered?)")
    last = dataclasses.replace(full.links[5], piece_ids=(LENGTHS[-1],),
                               checks=(bad, *CHECKS["custody"][1:]))
    disputed = dataclasses.replace(full, piece_id=LENGTHS[-1], links=(*full.links[:5], last))
    return [full, *at_centre, disputed]


def _at_centre(full: Provenance, piece: str, upto: int) -> Provenance:
    return dataclasses.replace(full, piece_id=piece, links=full.links[:upto],
                               records=full.records[:upto], holder_did=KEYS[COIL_CENTRE].did,
                               holder_name=COIL_CENTRE)
