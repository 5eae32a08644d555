"""What the chain side reads off any steel record: its hash, its kind, who signed it, which
pieces it names and what they weigh. Pure: no I/O."""

from __future__ import annotations

import functools
import json
from collections.abc import Mapping
from typing import Any

import jsonschema

from domains.steel import vocab
from domains.steel.errors import ChainRefused, SteelCode
from trust.canonical import canonical_json, sha256
from trust.multibase import encode_base58btc

KINDS = {vocab.CERTIFICATE: "certificate", vocab.DERIVED_CERTIFICATE: "derivation",
         vocab.CUSTODY_EVENT: "custody"}
# EN 10168 mass units the hub reads (B13 actual mass, else B12 theoretical mass).
KG_PER = {"kg": 1.0, "t": 1000.0, "tonne": 1000.0, "g": 0.001}


def record_hash(record: Mapping[str, Any]) -> str:
    """Multibase (base58btc, ``z``) SHA-256 of the record's RFC 8785 form, proof included."""
    return encode_base58btc(sha256(canonical_json(record)))


class Hashes:
    """``record_hash`` of records that do not change while it lives (one verification),
    each computed once. JCS of records holding floats takes rfc8785's slow path, and a custody
    event carries the records before it: its JCS form is composed from theirs (a JCS array is
    ``[`` + its items' JCS forms joined by ``,`` + ``]``), so the mill's certificate is
    serialised once, not once per event carrying it."""

    _SLOT = "\x00tsunagu-steel-carried-chain\x00"

    def __init__(self) -> None:
        self._known: dict[int, tuple[Mapping[str, Any], bytes]] = {}

    def canonical(self, record: Mapping[str, Any]) -> bytes:
        found = self._known.get(id(record))
        if found is None or found[0] is not record:
            found = (record, self._compose(record))
            self._known[id(record)] = found
        return found[1]

    def _compose(self, record: Mapping[str, Any]) -> bytes:
        chain = record.get("chain") if isinstance(record, Mapping) else None
        if not isinstance(record, dict) or not isinstance(chain, list) or not all(
                isinstance(r, dict) for r in chain):
            return canonical_json(record)
        slot = canonical_json(self._SLOT)
        outer = canonical_json({**record, "chain": self._SLOT})
        if outer.count(slot) != 1:  # the marker also in a value: the plain way
            return canonical_json(record)
        return outer.replace(slot, b"[" + b",".join(self.canonical(r) for r in chain) + b"]")

    def __call__(self, record: Mapping[str, Any]) -> str:
        return encode_base58btc(sha256(self.canonical(record)))


def kind_of(record: Mapping[str, Any]) -> str | None:
    return KINDS.get(record.get("type")) if isinstance(record.get("type"), str) else None


def signer_of(record: Mapping[str, Any]) -> str | None:
    """The DID whose key the record's proof names (not verified here: see verify)."""
    proof = record.get("proof")
    method = proof.get("verificationMethod") if isinstance(proof, Mapping) else None
    return method.partition("#")[0] if isinstance(method, str) else None


def signed_at(record: Mapping[str, Any]) -> str:
    if isinstance(record.get("at"), str):
        return record["at"]
    proof = record.get("proof")
    created = proof.get("created") if isinstance(proof, Mapping) else None
    return created if isinstance(created, str) else str(record.get("modified", ""))


def certificate_pieces(record: Mapping[str, Any]) -> list[str]:
    """The pieces a mill certificate covers: its product ids, else the certificate itself
    (one piece named by its number)."""
    ids = [p for p in record.get("productIds") or [] if isinstance(p, str)]
    return ids or [str(record.get("certificateNumber", record.get("id")))]


def pieces_of(record: Mapping[str, Any]) -> list[str]:
    kind = kind_of(record)
    if kind == "certificate":
        return certificate_pieces(record)
    if kind == "derivation":
        return [p["pieceId"] for p in record.get("pieces") or []
                if isinstance(p, Mapping) and isinstance(p.get("pieceId"), str)]
    return [p for p in record.get("pieceIds") or [] if isinstance(p, str)]


def _mass_kg(entry: Any) -> float | None:
    if not isinstance(entry, Mapping):
        return None
    try:
        value = float(str(entry.get("Value")).replace(",", "."))
    except ValueError:
        return None
    factor = KG_PER.get(str(entry.get("Unit", "kg")).strip().lower())
    return value * factor if factor is not None else None


def certificate_mass_kg(record: Mapping[str, Any]) -> float | None:
    """A mill certificate's whole mass: B13 (actual), else B12 (theoretical), in kg."""
    product = ((record.get("en10168") or {}).get("Certificate") or {}).get(
        "ProductDescription") or {}
    for key in ("B13", "B12"):
        mass = _mass_kg(product.get(key))
        if mass is not None:
            return mass
    return None


def piece_mass_kg(record: Mapping[str, Any], piece_id: str) -> float | None:
    """The mass of one piece a certificate or derived certificate names. A mill certificate
    covering several products shares its mass evenly among them (EN 10168 gives one mass for
    the delivery); a derived certificate states each piece's mass."""
    if kind_of(record) == "derivation":
        for piece in record.get("pieces") or []:
            if isinstance(piece, Mapping) and piece.get("pieceId") == piece_id:
                mass = piece.get("massKg")
                return float(mass) if isinstance(mass, (int, float)) else None
        return None
    pieces = certificate_pieces(record)
    whole = certificate_mass_kg(record)
    if whole is None or piece_id not in pieces:
        return None
    return whole / len(pieces)


SCHEMAS = {"derivation": "derived-certificate.schema.json",
           "custody": "custody-event.schema.json"}


@functools.cache
def _validator(kind: str) -> jsonschema.Draft202012Validator:
    schema = json.loads((vocab.HERE / SCHEMAS[kind]).read_bytes())
    return jsonschema.Draft202012Validator(schema)


def check_shape(record: Mapping[str, Any]) -> None:
    """A derived certificate or custody event valid against its record schema (what its
    dataset type enforces on publish), else ``ChainRefused`` naming the first error's path."""
    kind = kind_of(record)
    if kind not in SCHEMAS:
        return
    for error in _validator(kind).iter_errors(dict(record)):
        where = "/" + "/".join(str(p) for p in error.absolute_path)
        raise ChainRefused(SteelCode.CHAIN_INVALID,
                           f"{record.get('id')}: {where} fails the {kind} record schema",
                           f"{record.get('id')}: {where} が記録のスキーマに合いません")
