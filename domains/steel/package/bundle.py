"""The provenance package of one piece as JSON-LD: every signed record of its chain, unaltered,
and a manifest (piece, holder, the order of the links, each record's hash) from which a third
party re-verifies the chain with the package alone (``verify_package``; or by hand: each
record's eddsa-jcs-2022 proof against its did:key, and SHA-256 of its RFC 8785 form against
the manifest).

Built only from a ``Provenance`` (domains.steel.provenance): the records travel as JSON
literals (``@type: @json``), so no JSON-LD processing can rewrite a byte a proof covers.
Pure: no I/O.
"""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from domains.steel import vocab
from domains.steel.provenance import ChainLink, Provenance
from trust.canonical import canonical_json
from trust.errors import TsunaguError
from trust.multibase import decode_base58btc
from trust.proofs import format_datetime, verify_document

PACKAGE = "ProvenancePackage"
_S = vocab.NAMESPACE
# The package's own terms, inline: the steel context is pinned and shared with the records.
PACKAGE_TERMS: dict[str, Any] = {
    PACKAGE: _S + PACKAGE,
    "pieceId": _S + "pieceId",
    "exportedAt": {"@id": _S + "exportedAt",
                   "@type": "http://www.w3.org/2001/XMLSchema#dateTime"},
    "holder": {"@id": _S + "holder", "@type": "@json"},
    "verifiedByExporter": {"@id": _S + "verifiedByExporter",
                           "@type": "http://www.w3.org/2001/XMLSchema#boolean"},
    "flagged": {"@id": _S + "flagged", "@type": "http://www.w3.org/2001/XMLSchema#boolean"},
    "problems": {"@id": _S + "problems", "@type": "@json"},
    "manifest": {"@id": _S + "manifest", "@type": "@json"},
    "records": {"@id": _S + "records", "@type": "@json"},
}
CONTEXT: list[Any] = [*vocab.RECORD_CONTEXT, PACKAGE_TERMS]
ID_NAMESPACE = uuid.UUID("0b6f7a56-3f0e-4c55-8d7c-5a2f8e1d9b42")


def plain(value: Any) -> Any:
    """The JSON value of a record however the chain side holds it (read-only mappings,
    tuples): the same JSON, as dicts and lists."""
    if isinstance(value, Mapping):
        return {str(k): plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [plain(v) for v in value]
    return value


def record_sha256(record: Mapping[str, Any]) -> str:
    """Hex SHA-256 of the record's RFC 8785 form, proof included (what any JCS tool gives)."""
    return hashlib.sha256(canonical_json(plain(record))).hexdigest()


def hash_matches(record: Mapping[str, Any], multibase: str) -> bool:
    """Whether a link's ``record_hash`` (multibase SHA-256: the bare digest or its multihash
    0x12 0x20) names this record."""
    try:
        raw = decode_base58btc(multibase)
    except TsunaguError:
        return False
    digest = bytes.fromhex(record_sha256(record))
    return raw in (digest, b"\x12\x20" + digest)


def _link_entry(position: int, link: ChainLink, record: Mapping[str, Any] | None
                ) -> dict[str, Any]:
    entry: dict[str, Any] = {
        "position": position, "kind": link.kind, "recordId": link.record_id,
        "recordHash": link.record_hash,
        "sha256": record_sha256(record) if record is not None else None,
        "issuer": {"id": link.issuer_did, "name": link.issuer_name}, "at": link.at,
        "pieceIds": list(link.piece_ids), "documentNumber": link.document_number,
        "parentRecordId": link.parent_record_id, "senderId": link.sender_did,
        "receiver": ({"id": link.receiver_did, "name": link.receiver_name}
                     if link.receiver_did else None),
        "agreementId": link.agreement_id, "massKg": link.mass_kg,
        "checks": [{"name": c.name, "ok": c.ok, "reasonJa": c.reason_ja,
                    "reasonEn": c.reason_en} for c in link.checks],
        "flagged": link.flagged,
    }
    return {k: v for k, v in entry.items() if v is not None}


def build_package(provenance: Provenance, *, exported_at: datetime | None = None
                  ) -> dict[str, Any]:
    """The package document of ``provenance``: its records copied as plain JSON, never
    edited, and checked as ``verify_package`` checks them (``verifiedByExporter`` False and
    each finding in ``problems`` if any fails)."""
    by_id = {r.get("id"): r for r in provenance.records}
    manifest = [_link_entry(n, link, by_id.get(link.record_id))
                for n, link in enumerate(provenance.links, start=1)]
    # A record the chain carries beside its links (an agreement, say) is hashed too.
    linked = {link.record_id for link in provenance.links}
    manifest += [{"position": len(manifest) + n, "kind": "supporting", "recordId": r.get("id"),
                  "sha256": record_sha256(r)}
                 for n, r in enumerate((r for r in provenance.records
                                        if r.get("id") not in linked), start=1)]
    hashes = "\n".join(e.get("sha256", "") for e in manifest)
    package = {
        "@context": CONTEXT,
        "id": "urn:uuid:" + str(uuid.uuid5(ID_NAMESPACE, f"{provenance.piece_id}\n{hashes}")),
        "type": PACKAGE,
        "pieceId": provenance.piece_id,
        "holder": {"id": provenance.holder_did, "name": provenance.holder_name},
        "exportedAt": format_datetime(exported_at or datetime.now(UTC)),
        "verifiedByExporter": provenance.verified,
        "flagged": provenance.flagged,
        "problems": list(provenance.problems),
        "manifest": manifest,
        "records": [plain(r) for r in provenance.records],
    }
    # The exporter re-verifies what it packed: a record missing, or not the one the chain
    # names, makes the package NOT verified whatever the chain side said.
    findings = verify_package(package)
    if findings:
        package["verifiedByExporter"] = False
        package["problems"] += [f.text() for f in findings]
    return package


def package_hash(package: Mapping[str, Any]) -> str:
    """``sha256:`` and the hex SHA-256 of the package's RFC 8785 form: what the page prints
    (and its QR code carries when there is no verification URL)."""
    return "sha256:" + hashlib.sha256(canonical_json(dict(package))).hexdigest()


@dataclass(frozen=True)
class Finding:
    """One thing a re-verification found wrong, at a manifest position (0: the package)."""

    position: int
    record_id: str
    problem: str
    problem_ja: str = ""

    def text(self) -> str:
        return f"{self.position}. {self.record_id}: {self.problem}"

    def text_ja(self) -> str:
        return f"{self.position}. {self.record_id}: {self.problem_ja or self.problem}"


def _entry_findings(entry: Mapping[str, Any], record: Mapping[str, Any] | None
                    ) -> list[Finding]:
    position, rid = entry.get("position", 0), str(entry.get("recordId", ""))
    if record is None:
        return [Finding(position, rid, "the record is missing from the package",
                        "記録が資料に含まれていません")]
    found = []
    if entry.get("sha256") != record_sha256(record):
        found.append(Finding(position, rid, "the record's SHA-256 is not the manifest's (the "
                             "record was altered)", "記録のハッシュが一覧と一致しません（改ざん）"))
    if "recordHash" in entry and not hash_matches(record, str(entry["recordHash"])):
        found.append(Finding(position, rid, "the record does not match the chain's recordHash",
                             "記録が来歴の示す記録と一致しません"))
    try:
        proof = verify_document(plain(record))
    except TsunaguError as exc:
        return [*found, Finding(position, rid, f"signature: {exc.message}",
                                "電子署名を検証できません")]
    issuer = (entry.get("issuer") or {}).get("id")
    if issuer and proof.controller != issuer:
        found.append(Finding(position, rid, f"signed by {proof.controller}, the manifest "
                             f"names {issuer}", "署名者が一覧の発行者と異なります"))
    return found


def verify_package(package: Mapping[str, Any]) -> list[Finding]:
    """Re-verify a package from itself alone: every manifest entry has its record, each
    record's hash is the manifest's, each record's own proof verifies. Empty: sound.
    (Whether the links make a valid chain is the chain side's verification, whose findings
    the manifest carries as ``checks``.)"""
    records, manifest = package.get("records"), package.get("manifest")
    if (not isinstance(records, list) or not isinstance(manifest, list) or not manifest
            or not all(isinstance(e, Mapping) for e in manifest)):
        return [Finding(0, "", "the package has no records or no manifest",
                        "資料に記録または一覧がありません")]
    by_id = {r.get("id"): r for r in records if isinstance(r, Mapping)}
    findings = [f for entry in manifest
                for f in _entry_findings(entry, by_id.get(str(entry.get("recordId", ""))))]
    listed = {str(entry.get("recordId", "")) for entry in manifest}
    findings += [Finding(0, str(rid), "a record the manifest does not list",
                         "一覧にない記録が含まれています")
                 for rid in by_id.keys() - listed]
    return findings
